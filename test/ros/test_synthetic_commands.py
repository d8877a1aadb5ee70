"""The synthetic-data commands of docs/embedded-model.md, run as written (paths moved to a
temporary folder)."""

from __future__ import annotations

import argparse
import shlex

import pytest

from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.cli import main
from flowenedet_ros.commands.make_drive import parse_stretch

from ros_harness import REPO


def documented_commands(prefix: str) -> list[list[str]]:
    lines = (REPO / "docs" / "embedded-model.md").read_text().splitlines()
    return [shlex.split(line)[1:] for line in lines if line.startswith(prefix)]


def test_documented_synth_and_make_drive_commands(tmp_path):
    commands = documented_commands("flowenedet synth ") + \
        documented_commands("flowenedet make-drive ")
    assert len(commands) == 2
    for command in commands:
        assert main([arg.replace("runs/", f"{tmp_path}/") for arg in command]) == 0
    assert len(list((tmp_path / "synth" / "anomaly" / "images").iterdir())) == 5
    with BagSource(tmp_path / "my-drive") as source:
        assert source.contents.counts == {"/camera/image_raw": 70, "/camera/labels": 70}


def test_stretch_specs():
    assert parse_stretch("anomaly:20:2").anomalies == 2
    fog = parse_stretch("fog:30:0.9")
    assert (fog.shift, fog.severity, fog.frames, fog.expect_flag) == ("fog", 0.9, 30, True)
    assert not parse_stretch("clear:5").expect_flag
    with pytest.raises(argparse.ArgumentTypeError, match="expected clear:FRAMES"):
        parse_stretch("rain:10")
