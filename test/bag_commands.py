"""The bag commands as the bag tests call them: make-bag of the tiny anomaly folder, replay on
the tiny exported model."""

from __future__ import annotations

import json
from pathlib import Path

from flowenedet_ros.cli import main


def make_bag(data: dict, path: Path, *options: str) -> Path:
    assert main(["make-bag", str(path), "--data", f"anomaly:{data['anomaly']}", "--rate", "5",
                 "--start-time", "100", *options]) == 0
    return path


def replay(bag: Path, onnx: Path, out: Path, *options: str) -> tuple[int, dict]:
    code = main(["replay", str(bag), "--out", str(out), "-p", f"onnx:={onnx}",
                 "-p", "threads:=1", "-p", "raise_frames:=1", *options])
    return code, json.loads((out / "summary.json").read_text())
