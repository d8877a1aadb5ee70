"""FED checkpoints: `fed.safetensors` (weights) + `fed.json` (everything needed to rebuild and to
check the pairing with a backbone). Nothing is unpickled."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .backbones.base import Backbone
from .backbones.weights import file_sha256
from .errors import CheckpointError
from .fed.detector import FEDConfig, FlowEneDet
from .fed.statistics import SMLStatistics

LOGGER = logging.getLogger(__name__)
FORMAT = "flowenedet-fed"
VERSION = 1
WEIGHTS_FILE = "fed.safetensors"
SIDECAR_FILE = "fed.json"


@dataclass
class BackboneInfo:
    """Which frozen model a detector belongs to."""

    name: str
    weights_sha256: str | None
    input_size: tuple[int, int]
    class_names: tuple[str, ...]
    feature_channels: int

    @classmethod
    def of(cls, model: Backbone, name: str, weights: str | Path | None) -> BackboneInfo:
        """Describe a built backbone (one probe forward finds its feature channels)."""
        sha = file_sha256(weights) if weights is not None and Path(weights).is_file() else None
        parameter = next(model.parameters())
        with torch.no_grad():
            probe = model(torch.zeros(1, 3, 64, 64, device=parameter.device,
                                      dtype=parameter.dtype))
        return cls(name, sha, tuple(model.preprocessing.input_size), tuple(model.class_names),
                   int(probe.features.shape[1]))

    def to_dict(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256,
                "input_size": list(self.input_size), "class_names": list(self.class_names),
                "feature_channels": self.feature_channels}


@dataclass
class DetectorCheckpoint:
    detector: FlowEneDet
    backbone: BackboneInfo
    training: dict = field(default_factory=dict)


def save_checkpoint(directory: str | Path, checkpoint: DetectorCheckpoint) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in checkpoint.detector.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    sidecar = {"format": FORMAT, "version": VERSION,
               "config": checkpoint.detector.config.to_dict(),
               "statistics": checkpoint.detector.statistics.to_dict(),
               "backbone": checkpoint.backbone.to_dict(), "training": checkpoint.training}
    (directory / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n")


def load_checkpoint(directory: str | Path) -> DetectorCheckpoint:
    directory = Path(directory)
    sidecar_path, weights_path = directory / SIDECAR_FILE, directory / WEIGHTS_FILE
    for path in (sidecar_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{path} not found: {directory} is not a FED checkpoint "
                                  "(create one with `flowenedet train`)")
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{sidecar_path} is not valid JSON: {error}") from error
    if sidecar.get("format") != FORMAT or sidecar.get("version") != VERSION:
        raise CheckpointError(f"{sidecar_path}: format {sidecar.get('format')!r} version "
                              f"{sidecar.get('version')!r}, expected {FORMAT!r} {VERSION}")
    try:
        config = FEDConfig(**sidecar["config"])
        backbone = sidecar["backbone"]
        info = BackboneInfo(backbone["name"], backbone.get("weights_sha256"),
                            tuple(backbone["input_size"]), tuple(backbone["class_names"]),
                            int(backbone["feature_channels"]))
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{sidecar_path} is incomplete: {error}") from error
    detector = FlowEneDet(config, SMLStatistics.from_dict(sidecar["statistics"]))
    try:
        detector.load_state_dict(load_file(str(weights_path)))
    except Exception as error:
        raise CheckpointError(f"{weights_path} does not match {sidecar_path}: {error}") from error
    return DetectorCheckpoint(detector.eval(), info, sidecar.get("training", {}))


def check_pairing(checkpoint: DetectorCheckpoint, backbone: BackboneInfo) -> None:
    """Refuse a detector trained for another model; warn when only the weights file differs."""
    info = checkpoint.backbone
    if info.name != backbone.name or len(info.class_names) != len(backbone.class_names):
        raise CheckpointError(f"the FED checkpoint was trained for {info.name} with "
                              f"{len(info.class_names)} classes, not {backbone.name} with "
                              f"{len(backbone.class_names)}")
    if (checkpoint.detector.config.variant == "fed-c"
            and info.feature_channels != backbone.feature_channels):
        raise CheckpointError(f"the FED-C checkpoint was trained on {info.feature_channels}-"
                              f"channel features, but {backbone.name} gives "
                              f"{backbone.feature_channels}: use the same feature layer")
    weights_sha256 = backbone.weights_sha256
    if info.weights_sha256 and weights_sha256 and info.weights_sha256 != weights_sha256:
        LOGGER.warning("backbone weights differ from the ones FED was trained on "
                       "(sha256 %s... vs %s...): retrain FED for these weights",
                       weights_sha256[:12], info.weights_sha256[:12])
