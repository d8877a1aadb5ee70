"""What one deployed model is: backbone + weights + uncertainty head + input size + precision
+ test-time scales.

A `ModelSpec` builds the `InferenceGraph` and names the exported artifacts: its fingerprint covers
the bytes of every file involved, so a changed checkpoint never reuses a stale ONNX or engine.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch

from ..backbones.base import Backbone
from ..backbones.registry import create_backbone
from ..backbones.weights import file_sha256
from ..checkpoint import BackboneInfo, check_pairing, load_checkpoint
from ..errors import CheckpointError, ConfigError, WeightsError
from ..fed.detector import FEDConfig, FlowEneDet
from ..fed.statistics import SMLStatistics
from ..tta import SINGLE_SCALE, check_tta_scales
from .graph import BaselineHead, FEDHead, InferenceGraph

Precision = Literal["fp32", "fp16", "bf16"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16,
                                  "bf16": torch.bfloat16}
SPEC_FORMAT = 6  # bump when the graph's computation changes


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines the graph's outputs."""

    backbone: str  # registry name, e.g. "erfnet"
    weights: Path | None  # None: random weights (timing only)
    size: tuple[int, int] | None = None  # (height, width); None: the backbone's default
    fed: Path | None = None  # FED checkpoint directory; None: a baseline score
    score: str = "msp"  # the baseline when `fed` is None
    stats: Path | None = None  # SML statistics JSON (the `sml` baseline only)
    precision: Precision = "fp32"  # the backbone's dtype; FED always runs in float32
    untrained_fed: FEDConfig | None = None  # a random FED of this config (timing only)
    with_head: bool = True  # False: labels only (the benchmark's backbone-only reference)
    tta_scales: tuple[float, ...] = SINGLE_SCALE  # uncertainty averaged over these scales

    def __post_init__(self) -> None:
        if self.precision not in DTYPES:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(DTYPES)}")
        # one canonical order (1.0 first), so equal specs have equal fingerprints
        object.__setattr__(self, "tta_scales", check_tta_scales(self.tta_scales))

    @property
    def head_name(self) -> str:
        if not self.with_head:
            return "none"
        if self.fed is not None or self.untrained_fed is not None:
            return "fed"
        return self.score

    def backbone_only(self) -> ModelSpec:
        return replace(self, fed=None, untrained_fed=None, with_head=False,
                       tta_scales=SINGLE_SCALE)

    def fingerprint(self) -> str:
        """sha256 over the spec and the content of every file it names (first 16 hex digits)."""
        files = {}
        if self.weights is not None and not Path(self.weights).exists():
            raise WeightsError(f"backbone weights not found: {self.weights}")
        if self.fed is not None and self.with_head and not Path(self.fed).is_dir():
            raise CheckpointError(f"FED checkpoint directory not found: {self.fed} (create it "
                                  "with `flowenedet train`)")
        if self.weights is not None and Path(self.weights).is_file():
            files["weights"] = file_sha256(self.weights)
        elif self.weights is not None:  # a Hugging Face folder
            files["weights"] = {p.name: file_sha256(p) for p in sorted(Path(self.weights).iterdir())
                                if p.is_file()}
        if self.fed is not None and self.with_head:
            files["fed"] = {p.name: file_sha256(p) for p in sorted(Path(self.fed).glob("fed.*"))}
        if self.stats is not None:
            files["stats"] = file_sha256(self.stats)
        payload = {"format": SPEC_FORMAT, "backbone": self.backbone, "size": self.size,
                   "head": self.head_name, "precision": self.precision, "files": files,
                   "tta_scales": list(self.tta_scales),
                   "untrained_fed": self.untrained_fed and self.untrained_fed.to_dict()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def artifact_stem(self, fingerprint: str) -> str:
        """A readable file stem: erfnet-fed-512x1024-fp32-<fingerprint>, with -tta1-0.5-0.25
        after the head for test-time scales (the caller passes the fingerprint it already
        computed: hashing the weights is the expensive part)."""
        height, width = self.resolved_size()
        head = self.head_name
        if self.tta_scales != SINGLE_SCALE:
            head += "-tta" + "-".join(f"{scale:g}" for scale in self.tta_scales)
        backbone = re.sub(r"[^\w.-]", "_", self.backbone)  # module:callable -> module_callable
        return f"{backbone}-{head}-{height}x{width}-{self.precision}-{fingerprint}"

    def resolved_size(self) -> tuple[int, int]:
        if self.size is not None:
            return tuple(self.size)
        return tuple(create_backbone(self.backbone, None).preprocessing.input_size)

    def build_graph(self, device: torch.device | str = "cpu", fused_fed: bool = False
                    ) -> InferenceGraph:
        """The frozen backbone with its head, ready to run or export. `fused_fed`: FED's flow
        as Triton kernels where they can run and are faster (FEDHead; the GPU path: the same
        outputs, so not part of the fingerprint, and export always traces the PyTorch flow)."""
        options = {"input_size": tuple(self.size)} if self.size else {}
        backbone = create_backbone(self.backbone, self.weights, **options)
        head = self._head(backbone, fused_fed) if self.with_head else None
        return InferenceGraph(backbone, head, DTYPES[self.precision],
                              self.tta_scales).to(device).eval()

    def _head(self, backbone: Backbone, fused_fed: bool) -> torch.nn.Module:
        if self.fed is not None:
            checkpoint = load_checkpoint(self.fed)
            check_pairing(checkpoint, BackboneInfo.of(backbone, self.backbone, self.weights))
            detector = checkpoint.detector
        elif self.untrained_fed is not None:
            count = backbone.num_classes
            statistics = SMLStatistics(backbone.class_names, (0.0,) * count, (1.0,) * count,
                                       (0,) * count)
            detector = FlowEneDet(self.untrained_fed, statistics)
        else:
            statistics = SMLStatistics.load(self.stats) if self.stats else None
            return BaselineHead(self.score, backbone, statistics)
        return FEDHead(detector, backbone, fused_fed)
