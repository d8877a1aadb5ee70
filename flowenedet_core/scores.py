"""Per-pixel uncertainty scores, one function each, all with the same signature.

FED scores are bound to a trained detector with `fed_score(name, detector)`; the others live in
the `SCORES` registry.

Every score maps a `ScoreInputs` to a (B, H, W) tensor where higher means "less trustworthy"
(anomaly or misclassification). Scores come from the `SCORES` registry, never from string tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from .backbones.base import Backbone, BackboneOutput, upsample_to
from .errors import ConfigError
from .fed.detector import FlowEneDet
from .fed.statistics import SMLStatistics


@dataclass
class ScoreInputs:
    """What a score may look at for one batch."""

    logits: torch.Tensor  # (B, C_out, H, W) at the evaluation resolution, extra channels included
    num_classes: int  # the first `num_classes` channels are the classes
    output: BackboneOutput  # the backbone's native-resolution outputs
    backbone: Backbone | None  # only MC-dropout re-runs its classifier
    input_size: tuple[int, int]  # (height, width) the backbone ran at
    statistics: SMLStatistics | None = None
    mc_samples: int = 8
    mc_dropout: float = 0.2

    @property
    def class_logits(self) -> torch.Tensor:
        return self.logits[:, :self.num_classes]

    def upsample(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, h, w) or (B, K, h, w) maps -> the evaluation resolution, bilinearly."""
        squeeze = maps.dim() == 3
        maps = upsample_to(maps.unsqueeze(1) if squeeze else maps, self.logits.shape[-2:])
        return maps[:, 0] if squeeze else maps


ScoreFunction = Callable[[ScoreInputs], torch.Tensor]


@dataclass(frozen=True)
class Score:
    name: str
    function: ScoreFunction
    description: str
    needs_statistics: bool = False


def msp(inputs: ScoreInputs) -> torch.Tensor:
    return 1 - torch.softmax(inputs.class_logits, dim=1).amax(1)


def msp_all_channels(inputs: ScoreInputs) -> torch.Tensor:
    return 1 - torch.softmax(inputs.logits, dim=1).amax(1)


def max_logit(inputs: ScoreInputs) -> torch.Tensor:
    return -inputs.class_logits.amax(1)


def energy(inputs: ScoreInputs) -> torch.Tensor:
    return -torch.logsumexp(inputs.class_logits, dim=1)


def entropy(inputs: ScoreInputs) -> torch.Tensor:
    log_probs = torch.log_softmax(inputs.class_logits, dim=1)
    return -(log_probs.exp() * log_probs).sum(1)


def standardized_max_logit(inputs: ScoreInputs) -> torch.Tensor:
    mean, std = inputs.statistics.tensors(inputs.logits.device)
    max_logit_value, prediction = inputs.class_logits.max(1)
    return -(max_logit_value - mean.view(-1)[prediction]) / std.view(-1)[prediction]


def mc_dropout_entropy(inputs: ScoreInputs) -> torch.Tensor:
    """Entropy of the mean softmax of passes with channel dropout on the classifier input."""
    mean_probs = 0
    for _ in range(inputs.mc_samples):
        dropped = F.dropout2d(inputs.output.classifier_input, inputs.mc_dropout, training=True)
        logits = inputs.upsample(inputs.backbone.classify(dropped)[:, :inputs.num_classes])
        mean_probs = mean_probs + torch.softmax(logits, dim=1) / inputs.mc_samples
    return -(mean_probs * torch.log(mean_probs.clamp_min(1e-12))).sum(1)


def fed_probability(inputs: ScoreInputs, detector: FlowEneDet) -> torch.Tensor:
    probability = detector.score(inputs.output.logits, inputs.output.features, inputs.input_size)
    return inputs.upsample(probability)


def fed_score(name: str, detector: FlowEneDet) -> Score:
    """A FED score bound to one detector, so several detectors are compared in one pass."""
    return Score(name, partial(fed_probability, detector=detector),
                 f"FlowEneDet {detector.config.variant} p(m = 1 | z, a)")


SCORES: dict[str, Score] = {score.name: score for score in (
    Score("msp", msp, "1 - maximum softmax probability"),
    Score("msp20", msp_all_channels, "1 - MSP over every output channel (ERFNet: 19 + void)"),
    Score("maxlogit", max_logit, "negative maximum logit"),
    Score("energy", energy, "free energy -logsumexp(logits)"),
    Score("entropy", entropy, "softmax entropy"),
    Score("sml", standardized_max_logit, "negative standardized max logit",
          needs_statistics=True),
    Score("mcdropout", mc_dropout_entropy, "entropy of the MC-dropout mean softmax"),
)}


def resolve_scores(names: str | list[str]) -> list[Score]:
    """'msp,fed' or ['msp', 'fed'] -> registry entries; unknown names raise with the choices."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCORES]
    if unknown:
        raise ConfigError(f"unknown score(s) {', '.join(unknown)}; "
                          f"choose from {', '.join(SCORES)}")
    return [SCORES[name] for name in names]
