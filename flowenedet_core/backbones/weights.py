"""Reading backbone weights safely (no arbitrary unpickling) and reporting key mismatches."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError

LOGGER = logging.getLogger(__name__)


def read_state_dict(path: str | Path, nested_keys: tuple[str, ...] = ("state_dict", "model")
                    ) -> dict[str, torch.Tensor]:
    """Load a state dict from .pth (weights_only) or .safetensors; strip a DDP `module.` prefix."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (pass --weights PATH to real weights)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"cannot read weights {path}: {error}") from error
    for key in nested_keys:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state dict")
    return {_strip_prefix(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _strip_prefix(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str | Path,
              ignore_prefixes: tuple[str, ...] = (), strict: bool = True,
              allow_unexpected: bool = True) -> list[str]:
    """Copy `state` into `model`; report missing/unexpected keys.

    Unexpected keys starting with one of `ignore_prefixes` (an auxiliary head, say) are dropped
    silently. With `strict`, any missing key or shape mismatch raises, and so do other unexpected
    keys unless `allow_unexpected`; returns the report lines.
    """
    own = model.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    report = []
    if missing:
        report.append(f"missing keys ({len(missing)}): {', '.join(missing[:10])}"
                      + (" ..." if len(missing) > 10 else ""))
    if unexpected:
        report.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:10])}"
                      + (" ..." if len(unexpected) > 10 else ""))
    for key in mismatched:
        report.append(f"shape mismatch {key}: checkpoint {tuple(state[key].shape)} "
                      f"vs model {tuple(own[key].shape)}")
    if strict and (missing or mismatched or (unexpected and not allow_unexpected)):
        raise WeightsError(f"weights {source} do not fit {type(model).__name__}: "
                           + "; ".join(report))
    usable = {k: v for k, v in state.items() if k in own and k not in mismatched}
    model.load_state_dict(usable, strict=False)
    for line in report:
        LOGGER.warning("%s: %s", source, line)
    return report


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hash of a weights file: ties a FED checkpoint to the exact backbone it was trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
