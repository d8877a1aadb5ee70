"""`flowenedet demo` end to end: synthetic drive -> the real node process (embedded model,
onnxruntime) -> live recording -> replay report and summary."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ros_harness import REPO

pytestmark = pytest.mark.ros


def test_demo_runs_the_node_and_the_flag_and_reason_follow_the_drive(tmp_path):
    done = subprocess.run([sys.executable, "-m", "flowenedet_ros.cli", "demo", "--out",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 6 and lines[0].startswith("frames: 136 of the drive served")
    assert "label pixels differing 0" in lines[0]
    assert "anomaly (frames 20-31): up after" in lines[2]
    assert "light fog (frames 48-63): down" in lines[2]
    assert "heavy fog (frames 76-91): up after" in lines[2]
    assert "anomaly (frames 108-119): up after" in lines[2]
    assert "rose" not in lines[2] and "still up" not in lines[2]
    assert lines[3].startswith("reason: clear none") and "WRONG" not in lines[3]
    assert "anomaly object" in lines[3] and "heavy fog scene" in lines[3]
    assert "light fog none" in lines[3]
    assert (tmp_path / "replay" / "report.html").is_file()
    assert (tmp_path / "live" / "metadata.yaml").is_file()
