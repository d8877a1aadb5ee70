"""The embedded demo model, shipped in the package: a small ERFNet trained on synthetic streets
(`erfnet-tiny.safetensors` + `.json`), FED-U and FED-C trained on top of it (`fed-u/`, `fed-c/`),
and scene-flag thresholds calibrated for it (`thresholds.yaml`). README "The embedded model" has
the commands that reproduce every file."""

from __future__ import annotations

from pathlib import Path

from ..errors import WeightsError

DIRECTORY = Path(__file__).resolve().parent
BACKBONE = "erfnet-tiny"
DETECTORS = ("fed-u", "fed-c")


def weights() -> Path:
    return _existing(DIRECTORY / f"{BACKBONE}.safetensors")


def detector(variant: str = "fed-u") -> Path:
    if variant not in DETECTORS:
        raise WeightsError(f"no embedded detector {variant!r}; choose from {', '.join(DETECTORS)}")
    return _existing(DIRECTORY / variant)


def thresholds() -> Path:
    return _existing(DIRECTORY / "thresholds.yaml")


def _existing(path: Path) -> Path:
    if not path.exists():
        raise WeightsError(f"the embedded model file {path} is missing from this installation")
    return path
