"""`flowenedet train` under torchrun: two CPU processes (gloo), one checkpoint."""

import json
import os
import subprocess
import sys


def test_torchrun_trains_one_detector_with_two_processes(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "flowenedet_core.cli.main",
               "train", "--backbone", "erfnet",
               "--weights", str(tiny_data["weights"]), "--size", "64x128",
               "--data", f"cityscapes:{tiny_data['cityscapes']}:train", "--variant", "fed-u",
               "--iters", "4", "--blocks", "2", "--crop", "32x64", "--scales", "1",
               "--cache-dir", str(tmp_path / "cache"), "--out", str(out), "--device", "cpu"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-8000:]  # the ranks' errors, not just torchrun's
    sidecar = json.loads((out / "fed.json").read_text())
    assert sidecar["training"]["world_size"] == 2
