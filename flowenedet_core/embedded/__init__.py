"""The embedded demo model, shipped in the package: a small ERFNet trained on synthetic streets
(`erfnet-tiny.safetensors` + `.json`), FED-U and FED-C trained on top of it (`fed-u/`, `fed-c/`),
and scene-flag thresholds calibrated for it (`thresholds.yaml`). `make embedded-model` reproduces
every file.

Wherever a weights file, a FED checkpoint or a parameter file is asked for, `embedded:NAME` names
one of these: `embedded:erfnet-tiny`, `embedded:fed-u`, `embedded:fed-c`, `embedded:thresholds`
(`resolve`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import WeightsError

DIRECTORY = Path(__file__).resolve().parent
BACKBONE = "erfnet-tiny"
DETECTORS = ("fed-u", "fed-c")
PREFIX = "embedded:"


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


FILES: dict[str, Callable[[], Path]] = {
    BACKBONE: weights,
    **{variant: partial(detector, variant) for variant in DETECTORS},
    "thresholds": thresholds,
}


def resolve(location: str | Path) -> Path:
    """A path as given (`~` expanded), or the shipped file `embedded:NAME` names."""
    text = str(location)
    if not text.startswith(PREFIX):
        return Path(text).expanduser()
    name = text[len(PREFIX):]
    if name not in FILES:
        raise WeightsError(f"unknown embedded model {text!r}; the embedded ones are "
                           + ", ".join(PREFIX + known for known in FILES))
    return FILES[name]()
