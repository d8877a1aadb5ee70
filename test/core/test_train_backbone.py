"""`flowenedet train-backbone`: trains, reports mIoU, writes weights the registry loads."""

from __future__ import annotations

import json

import torch

from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.cli.main import main


def test_train_backbone_writes_loadable_weights(tiny_data, tmp_path):
    data = f"cityscapes:{tiny_data['cityscapes']}"
    out = tmp_path / "tiny"
    assert main(["train-backbone", "--data", f"{data}:train", "--val", f"{data}:val",
                 "--iters", "3", "--batch-size", "2", "--crop", "32x64", "--out", str(out)]) == 0
    info = json.loads((tmp_path / "tiny.json").read_text())
    assert info["backbone"] == "erfnet-tiny" and info["iters"] == 3
    assert 0 <= info["val_miou"] <= 100
    model = create_backbone("erfnet-tiny", tmp_path / "tiny.safetensors")
    assert not any(p.requires_grad for p in model.parameters())  # loaded frozen
    logits = model(torch.zeros(1, 3, 64, 128)).logits
    assert logits.shape == (1, 19, 64, 128)
