"""Shared fixtures: where the real data lives (../shared/data), skipping visibly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FLOWENEDET_SHARED_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "erfnet" / "erfnet_cityscapes.pth").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (set FLOWENEDET_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def erfnet_weights(shared_data: Path) -> Path:
    return shared_data / "erfnet" / "erfnet_cityscapes.pth"
