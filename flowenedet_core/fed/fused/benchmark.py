"""PyTorch eager vs the fused flow, one detector configuration on one grid.

    python -m flowenedet_core.fed.fused --preset fed-c-cheap --grid 256x512 --device cuda
    python -m flowenedet_core.fed.fused --config variant=fed-c,condition_groups=8 --device cuda

prints one JSON object (median and p99 milliseconds of each, and their largest difference). On
CUDA every repetition is timed with CUDA events; elsewhere (the interpreter, for tests) with
perf_counter. The detector is random: its timing does not depend on trained weights.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ...cli.model_args import parse_fed_config
from ...errors import ConfigError
from ...runtime.torch_backend import time_calls
from ..detector import FEDConfig, FlowEneDet
from ..statistics import SMLStatistics
from .flow import FusedFlow

PRESETS = {
    "fed-u": FEDConfig(),
    "fed-c-cheap": FEDConfig(variant="fed-c", num_blocks=4, separable=True, condition_groups=8),
    "fed-c-reference": FEDConfig(variant="fed-c", num_blocks=8, condition_groups=32),
}


def random_detector(config: FEDConfig, seed: int = 0, spread: float = 0.5) -> FlowEneDet:
    """An eval-mode float32 detector with every parameter moved off its (often zero) init."""
    statistics = SMLStatistics(("a", "b"), (0.0, 0.0), (1.0, 1.0), (1, 1))
    detector = FlowEneDet(config, statistics)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.add_(spread * torch.randn(parameter.shape, generator=generator))
    return detector.eval()


def random_inputs(config: FEDConfig, batch: int, grid: tuple[int, int], seed: int = 1
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """z (B, 2, h, w) and, for FED-C, a condition (B, P, h, w)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, 2, *grid, generator=generator)
    if not config.condition_channels:
        return z, None
    return z, torch.randn(batch, config.condition_channels, *grid, generator=generator)


@contextmanager
def full_float32() -> Iterator[None]:
    """PyTorch's convolutions and matmuls in IEEE float32 inside the block. On Ampere and later
    cuDNN may use TF32 (a 10-bit mantissa) for float32 convolutions by default, which moves the
    PyTorch flow by ~1e-4; the fused kernels' dots are IEEE, and are checked against IEEE."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def time_fused_vs_torch(config: FEDConfig, grid: tuple[int, int], device: str = "cuda",
                        repeats: int = 200, batch: int = 1, warmup: int = 5,
                        block_pixels: int | None = None) -> dict:
    """Median / p99 ms of `detector.transform` (eager) and of the fused flow on random inputs,
    after `warmup` untimed runs of each (triton compiles on the first), and their largest
    absolute differences in u and log-det (against the PyTorch flow in IEEE float32; it is
    timed as PyTorch runs it by default)."""
    device = torch.device(device)
    detector = random_detector(config).to(device)
    z, condition = (None if t is None else t.to(device)
                    for t in random_inputs(config, batch, grid))
    fused = FusedFlow(detector, block_pixels)
    result = {"config": config.to_dict(), "grid": list(grid), "batch": batch,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "timer": "cuda-events" if device.type == "cuda" else "perf_counter",
              "repeats": repeats, "block_pixels": fused.block_pixels}
    with torch.no_grad():
        reason = fused.unavailable_reason(z, condition)
        if reason is not None:
            raise ConfigError(f"the fused flow cannot run here: {reason}")
        with full_float32():
            reference = detector.transform(z, condition)
        output = fused.run(z, condition)
        result["max_abs_difference"] = {
            "u": (reference[0] - output[0]).abs().max().item(),
            "log_det": (reference[1] - output[1]).abs().max().item()}
        for name, function in (("torch", lambda: detector.transform(z, condition)),
                               ("fused", lambda: fused.run(z, condition))):
            for _ in range(warmup):
                function()
            times = sorted(time_calls(function, device, repeats))
            result[f"{name}_ms"] = {"median": times[len(times) // 2],
                                    "p99": times[min(len(times) - 1, int(0.99 * len(times)))]}
    return result


def _grid(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flowenedet_core.fed.fused",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="fed-u")
    parser.add_argument("--config", type=parse_fed_config, default=None,
                        help="a configuration instead of a preset, as `bench --fed-config`: "
                             "variant=fed-c,num_blocks=2,condition_groups=8")
    parser.add_argument("--grid", type=_grid, default=(256, 512),
                        help="flow grid HxW (a 1024x2048 frame at flow_stride 4: 256x512)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs of each first")
    parser.add_argument("--block-pixels", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        result = time_fused_vs_torch(args.config or PRESETS[args.preset], args.grid,
                                     args.device, args.repeats, args.batch, args.warmup,
                                     args.block_pixels)
    except ConfigError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(result, indent=2))
