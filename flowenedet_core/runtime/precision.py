"""The backbone precision of the GPU path: the fastest one whose outputs agree with fp32.

A half-precision backbone is taken only when, on the parity frames, its labels equal fp32's on at
least `LABEL_AGREEMENT` of the pixels and its uncertainty is within `UNCERTAINTY_ERROR` of fp32's
on at least `UNCERTAINTY_AGREEMENT` of them (FED itself always runs in float32; see
export.graph.FEDHead). Both are shares of pixels, not a largest error: where half precision flips
a near-tie label the uncertainty moves with it, and one such pixel in millions would otherwise
decide (an H200 measured fp16 ERFNet at 99.94 % equal labels and a largest uncertainty error of
1.9e-2). The largest error is still measured and reported. Among the precisions
that pass, fp32 included, the one with the least device time per frame wins: half precision is not
faster for every network and size (cuDNN's kernels for some layers are fp32-only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.frames import load_frames
from ..data.synthetic import render_scene
from .frame_backend import FrameTorchBackend

LOGGER = logging.getLogger(__name__)
LABEL_AGREEMENT = 0.995
UNCERTAINTY_ERROR = 1e-2
UNCERTAINTY_AGREEMENT = 0.999
PARITY_FRAMES = 4
TIMED_CALLS = 20
HALF_PRECISIONS = ("fp16", "bf16")


@dataclass(frozen=True)
class Parity:
    precision: str
    label_agreement: float  # share of pixels labelled as fp32 labels them
    uncertainty_agreement: float  # share within UNCERTAINTY_ERROR of fp32's (1 if labels only)
    uncertainty_error: float  # max |uncertainty - fp32's| (0 for a labels-only graph)

    @property
    def passed(self) -> bool:
        return (self.label_agreement >= LABEL_AGREEMENT
                and self.uncertainty_agreement >= UNCERTAINTY_AGREEMENT)


def parity(precision: str, reference: Sequence[dict[str, np.ndarray]],
           candidate: Sequence[dict[str, np.ndarray]]) -> Parity:
    """Compare per-frame outputs ({"labels", "uncertainty"}) of a precision with fp32's."""
    pairs = list(zip(reference, candidate, strict=True))
    agreement = np.mean([np.mean(r["labels"] == c["labels"]) for r, c in pairs])
    errors = [np.abs(r["uncertainty"] - c["uncertainty"]) for r, c in pairs if "uncertainty" in r]
    if not errors:
        return Parity(precision, float(agreement), 1.0, 0.0)
    return Parity(precision, float(agreement),
                  float(np.mean([np.mean(error <= UNCERTAINTY_ERROR) for error in errors])),
                  float(max(error.max() for error in errors)))


def parity_frames(images: str | Path | None, size: tuple[int, int],
                  count: int = PARITY_FRAMES) -> list[np.ndarray]:
    """Frames for the check at the model's size: the images under `images`, or rendered
    synthetic streets (objects on the road, fog and night among them) when none are given."""
    if images:
        return load_frames(images, count, size)[0]
    shifts = [None, "fog", None, "night"]
    return [render_scene(seed, size, anomalies=seed % 2, shift=shifts[seed % len(shifts)]).image
            for seed in range(count)]


def choose_precision(build: Callable[[str], FrameTorchBackend], frames: Sequence[np.ndarray],
                     candidates: Sequence[str] = HALF_PRECISIONS, timed_calls: int = TIMED_CALLS
                     ) -> tuple[FrameTorchBackend, list[dict]]:
    """The backend of the fastest precision that passes parity, and what was found for each
    (parity, device milliseconds per frame, or why it was not timed)."""
    reference = build("fp32")
    expected = [reference.run(frame[None]) for frame in frames]
    shape = (1, *frames[0].shape)
    best, best_ms = reference, float(np.median(reference.time_device(frames[0][None],
                                                                      timed_calls)))
    checks = [{"precision": "fp32", "device_ms": best_ms}]
    for precision in candidates:
        try:
            backend = build(precision)
            result = parity(precision, expected, [backend.run(f[None]) for f in frames])
        except RuntimeError as error:  # e.g. bf16 on a GPU without it
            checks.append({"precision": precision, "skipped": str(error).splitlines()[0]})
            continue
        check = asdict(result) | {"passed": result.passed}
        if result.passed:
            backend.prepare(shape)
            check["device_ms"] = float(np.median(backend.time_device(frames[0][None],
                                                                     timed_calls)))
            if check["device_ms"] < best_ms:
                best, best_ms = backend, check["device_ms"]
        checks.append(check)
    LOGGER.info("backbone precision %s (%s)", best.precision, describe_checks(checks))
    return best, checks


def describe_checks(checks: Sequence[dict]) -> str:
    """One line: 'fp32 4.1 ms; fp16 passes: labels 99.94 % equal, uncertainty 99.99 % within
    1e-02 (largest error 1.9e-02), 2.30 ms; bf16 fails: ...'."""
    parts = []
    for check in checks:
        text = check["precision"]
        if "skipped" in check:
            parts.append(f"{text} unavailable: {check['skipped']}")
            continue
        if "label_agreement" in check:
            verdict = "passes" if check["passed"] else "fails"
            text += (f" {verdict}: labels {100 * check['label_agreement']:.2f} % equal, "
                     f"uncertainty {100 * check['uncertainty_agreement']:.2f} % within "
                     f"{UNCERTAINTY_ERROR:.0e} (largest error {check['uncertainty_error']:.1e})")
        if "device_ms" in check:
            text += f", {check['device_ms']:.2f} ms"
        parts.append(text)
    return "; ".join(parts)
