"""One module from camera image to uncertainty: what `export` writes to ONNX and what the torch
runtime runs, so every backend executes the same computation.

    image uint8 (N, H, W, 3) RGB at the backbone's input size
        -> preprocess -> backbone -> head -> postprocess
        -> labels uint8 (N, H, W) train ids, uncertainty float32 (N, H, W) in [0, 1]

The head is FED (p(m = 1) on its flow grid, the classifier's resolution) or a baseline score mapped
into [0, 1]. Postprocessing upsamples the class logits and the uncertainty bilinearly to (H, W) and
takes the argmax there (the evaluation convention). The top-level submodule names are the stage
names that `profile` reports (`stage_of_node` maps ONNX nodes back to them).

With test-time scales (`tta_scales`, see flowenedet_core.tta) preprocessing also resizes the image
to each extra scale, backbone and head run once per scale, and postprocessing averages the
uncertainties upsampled to (H, W); the labels are scale 1's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.base import Backbone, BackboneOutput, freeze, upsample_to
from ..errors import ConfigError
from ..fed.detector import FlowEneDet
from ..fed.fused import FusedFlow, slower_than_pytorch_reason, tracing
from ..fed.statistics import SMLStatistics
from ..scores import SCORES, ScoreInputs
from ..tta import SINGLE_SCALE, average, check_tta_scales, scaled_size

STAGES = ("preprocess", "backbone", "head", "postprocess")
LOGGER = logging.getLogger(__name__)


def _sigmoid(score: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.sigmoid(score)


def _identity(score: torch.Tensor, num_classes: int) -> torch.Tensor:
    return score


def _normalized_entropy(score: torch.Tensor, num_classes: int) -> torch.Tensor:
    return score / math.log(num_classes)


# Baseline scores a graph can carry, each with its monotone map into [0, 1] (rankings, and so
# AUROC / AP / FPR95, are unchanged). MC-dropout is random and cannot be part of a graph.
UNIT_INTERVAL_MAPS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "msp": _identity,
    "msp20": _identity,
    "entropy": _normalized_entropy,
    "maxlogit": _sigmoid,
    "energy": _sigmoid,
    "sml": _sigmoid,
}


def resize_matrix(source: int, target: int) -> torch.Tensor:
    """(target, source): the weights of torch's antialiased bilinear resize along one axis."""
    # One image per source pixel; two columns wide: torch's antialiased kernel mis-weighs
    # images one pixel wide.
    basis = torch.eye(source)[:, None, :, None].expand(source, 1, source, 2)
    resized = F.interpolate(basis, size=(target, 2), mode="bilinear", align_corners=False,
                            antialias=True)
    return resized[:, 0, :, 0].T.contiguous()


class Resize(nn.Module):
    """Antialiased bilinear resize of (N, C, H, W) as two matrix products.

    The same weights as `F.interpolate(antialias=True)` (evaluation's image resize), but as
    MatMuls: TensorRT's Resize layer cannot antialias."""

    def __init__(self, source: tuple[int, int], target: tuple[int, int]) -> None:
        super().__init__()
        self.register_buffer("rows", resize_matrix(source[0], target[0]))
        self.register_buffer("columns", resize_matrix(source[1], target[1]).T.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows @ x @ self.columns


class Preprocess(nn.Module):
    """uint8 NHWC RGB -> normalised float NCHW in the backbone's dtype: the image itself, then
    resized to each further size in `sizes` (the test-time scales)."""

    def __init__(self, backbone: Backbone, dtype: torch.dtype,
                 sizes: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self.dtype = dtype
        self.register_buffer("mean", torch.tensor(backbone.preprocessing.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.preprocessing.std).view(1, 3, 1, 1))
        self.resizes = nn.ModuleList(Resize(sizes[0], size) for size in sizes[1:])

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = image.float().permute(0, 3, 1, 2)  # cast first: TensorRT takes uint8 only into a Cast
        x = (x - self.mean) / self.std
        return [x.to(self.dtype)] + [resize(x).to(self.dtype) for resize in self.resizes]


class FEDHead(nn.Module):
    """Backbone outputs -> p(m = 1) (N, 1, h, w) on FED's grid, always in float32.

    FED's energy input goes through log(1 - sigmoid(.) + 1e-6), which underflows in half
    precision, so the detector stays float32 even in an FP16 graph (it is tiny).

    `fused=True` runs the flow as Triton kernels (flowenedet_core.fed.fused) whenever they can
    run these inputs, else the PyTorch flow, logging each reason once; a configuration the
    kernels run slower than PyTorch (`slower_than_pytorch_reason`) keeps the PyTorch flow, said
    once at construction. Export and torch.compile always trace the PyTorch flow."""

    def __init__(self, detector: FlowEneDet, backbone: Backbone, fused: bool = False) -> None:
        super().__init__()
        self.detector = freeze(detector.float())
        self.input_size = tuple(backbone.preprocessing.input_size)
        self.logits_on_grid = backbone.logits_on_grid  # a method: not a second submodule
        self.slower_fused = slower_than_pytorch_reason(detector.config) if fused else None
        if self.slower_fused:
            LOGGER.info("PyTorch FED flow: %s", self.slower_fused)
        self.fused_flow = FusedFlow(self.detector) if fused and not self.slower_fused else None
        self.fallback_reasons: set[str] = set()  # the ones logged so far

    def describe_flow(self) -> str:
        """Which flow runs, and why not the fused one where it was asked for (diagnostics)."""
        why = sorted(self.fallback_reasons) or ([self.slower_fused] if self.slower_fused else [])
        if self.fused_flow is not None and not why:
            return "fused FED flow"
        return "PyTorch FED flow" + (f" ({'; '.join(why)})" if why else "")

    def flow(self, z: torch.Tensor, condition: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The fused flow where it can run, else the detector's."""
        if tracing():
            return self.detector.transform(z, condition)
        reason = self.fused_flow.unavailable_reason(z, condition)
        if reason is None:
            return self.fused_flow.run(z, condition)
        if reason not in self.fallback_reasons:
            self.fallback_reasons.add(reason)
            LOGGER.warning("fused FED flow not used, running the PyTorch flow: %s", reason)
        return self.detector.transform(z, condition)

    def forward(self, output: BackboneOutput, input_size: tuple[int, int] | None = None
                ) -> torch.Tensor:
        """`input_size`: what the backbone ran at (a test-time scale's); default its own."""
        input_size = input_size or self.input_size
        grid = self.detector.grid_size(input_size)
        logits = self.logits_on_grid(output, grid)  # FED casts what it uses to float32 itself
        transform = None if self.fused_flow is None else self.flow
        return self.detector.score(logits, output.features, input_size, transform)[:, None]


class BaselineHead(nn.Module):
    """A registry score on the classifier-resolution logits, mapped into [0, 1]."""

    def __init__(self, score: str, backbone: Backbone,
                 statistics: SMLStatistics | None = None) -> None:
        super().__init__()
        if score not in UNIT_INTERVAL_MAPS:
            raise ConfigError(f"score {score!r} cannot be part of an exported graph; choose fed "
                              f"(--fed DIR) or one of {', '.join(UNIT_INTERVAL_MAPS)}")
        if SCORES[score].needs_statistics and statistics is None:
            raise ConfigError(f"score {score!r} needs SML statistics (--stats)")
        self.score = SCORES[score]
        self.to_unit = UNIT_INTERVAL_MAPS[score]
        self.num_classes = backbone.num_classes
        self.statistics = statistics

    def forward(self, output: BackboneOutput, input_size: tuple[int, int] | None = None
                ) -> torch.Tensor:
        """`input_size` is FEDHead's interface; baseline scores need only the logits."""
        logits = output.logits.float()
        inputs = ScoreInputs(logits, self.num_classes, output, None,
                             input_size or tuple(logits.shape[-2:]), self.statistics)
        return self.to_unit(self.score.function(inputs), self.num_classes)[:, None]


class Postprocess(nn.Module):
    """Logits and uncertainties -> image size (bilinear); argmax -> uint8 labels, the mean of the
    uncertainties (one per test-time scale) -> float32."""

    def __init__(self, num_classes: int, image_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.image_size = image_size

    def forward(self, logits: torch.Tensor, uncertainties: list[torch.Tensor] | None
                ) -> tuple[torch.Tensor, ...]:
        class_logits = upsample_to(logits[:, :self.num_classes], self.image_size)
        labels = class_logits.argmax(1).to(torch.uint8)
        if uncertainties is None:
            return (labels,)
        # Bilinear weights and the mean are convex, so maps in [0, 1] stay in [0, 1].
        return labels, average([upsample_to(uncertainty.float(), self.image_size)[:, 0]
                                for uncertainty in uncertainties])


class InferenceGraph(nn.Module):
    """Image in, labels and uncertainty out (labels only when `head` is None: the backbone-only
    reference the benchmark compares FED against). `tta_scales`: the uncertainty is the mean over
    these scales of the image (1.0 among them; see flowenedet_core.tta)."""

    def __init__(self, backbone: Backbone, head: nn.Module | None,
                 dtype: torch.dtype = torch.float32,
                 tta_scales: Sequence[float] = SINGLE_SCALE) -> None:
        super().__init__()
        self.image_size = tuple(backbone.preprocessing.input_size)
        self.tta_scales = check_tta_scales(tta_scales)
        if head is None and self.tta_scales != SINGLE_SCALE:
            raise ConfigError("test-time scales average the uncertainty: a labels-only graph "
                              "has none")
        self.input_sizes = [scaled_size(self.image_size, scale) for scale in self.tta_scales]
        self.preprocess = Preprocess(backbone, dtype, self.input_sizes)
        self.backbone = backbone.to(dtype).eval()
        self.head = head
        self.postprocess = Postprocess(backbone.num_classes, self.image_size)

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("labels",) if self.head is None else ("labels", "uncertainty")

    @property
    def head_stage(self) -> str:
        """What the head is called in timings: `fed` or `score`."""
        return "fed" if isinstance(self.head, FEDHead) else "score"

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = [self.backbone(x) for x in self.preprocess(image)]  # scale 1 first
        uncertainties = None if self.head is None else [
            self.head(output, size) for output, size in zip(outputs, self.input_sizes,
                                                           strict=True)]
        return self.postprocess(outputs[0].logits, uncertainties)
