"""FlowEneDet.transform through one Triton kernel per flow block (inference, float32).

`FusedFlow(detector)` keeps only a reference to the detector and reads its parameter tensors at
every call (see kernels.py): moving or retraining the detector can never leave it with stale
weights. `unavailable_reason` says, before a call, why the fused path cannot run these inputs
(triton missing, CPU tensors without triton's interpreter, training mode, an unsupported
configuration, ...); callers fall back to `detector.transform`, the reference implementation.
"""

from __future__ import annotations

import contextlib
import functools
from types import ModuleType

import torch

from ...errors import ConfigError
from ..blocks import kept_dimension
from ..detector import FEDConfig, FlowEneDet

# Pixels per program on a GPU (tests pass fewer, to get several programs on tiny grids): the
# most that compile for sm_90 without spilling registers (gpu_compile.py; dense KxK through
# tl.dot holds (C, C) weight tiles as well), not yet tuned on a GPU.
BLOCK_PIXELS = 128
DENSE_BLOCK_PIXELS = {16: 32, 32: 16}  # padded channels -> pixels, dense KxK through tl.dot
# The subnet's channels (2 + P) are held as one register tile; dense KxK weights as (C, C).
MAX_CHANNELS = 64
DOT_MIN = 16  # tl.dot needs every operand side >= 16


@functools.cache
def load_kernels() -> ModuleType:
    from . import kernels  # imports triton: TRITON_INTERPRET is read now, once
    return kernels


def triton_missing_reason() -> str | None:
    """None when triton can be imported, else why not."""
    try:
        import triton  # noqa: F401
    except ImportError as error:
        return f"triton cannot be imported ({error}; pip install triton: Linux x86_64 wheels)"
    return None


def interpreted() -> bool:
    """Whether the kernels run in triton's CPU interpreter (TRITON_INTERPRET=1 at import)."""
    from triton.runtime.interpreter import InterpretedFunction
    return isinstance(load_kernels().flow_block_kernel, InterpretedFunction)


def interpreter_reason() -> str | None:
    """None when the kernels can run on CPU tensors (in the interpreter), else why not."""
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction

    if not interpreted():
        return ("compiled Triton kernels need CUDA tensors (TRITON_INTERPRET=1 runs them on the "
                "CPU, for tests)")
    if not isinstance(tl.zeros, InterpretedFunction):
        return ("TRITON_INTERPRET=1 was set after triton was first imported (torch._dynamo "
                "imports it): set it before")
    return None


def config_unsupported_reason(detector: FlowEneDet) -> str | None:
    """None when the kernels implement this detector's configuration, else why not."""
    channels = 2 + detector.config.condition_channels
    if channels > MAX_CHANNELS:
        return (f"the coupling subnet has {channels} channels (2 + condition_groups); the fused "
                f"kernel holds at most {MAX_CHANNELS} in registers")
    return None


def slower_than_pytorch_reason(config: FEDConfig) -> str | None:
    """Why the GPU path keeps the PyTorch flow for `config` although the kernels can run it.

    A dense KxK subnet 16 or more channels wide (padded; FED-C with 8 or more groups) goes
    through tl.dot: a program computes the subnet's first layer again at each of the K^2 taps of
    each of its pixels and reads the (C, C) tap weights K^2 times per tile, where cuDNN tiles the
    convolution through shared memory. On an H200 that was 1.7x (P 8), 4.8x (P 16) and 13x
    (P 32) slower than PyTorch's flow; FED-U (2 channels, 4 with the margin) and separable FED-C
    were 7-13x faster fused (docs/performance.md). Widths 5-8 (P 3-6) were not measured."""
    channels = 2 + config.condition_channels
    if not config.separable and _power_of_two_above(channels) >= DOT_MIN:
        return (f"a dense {config.kernel_size}x{config.kernel_size} subnet over {channels} "
                "channels runs slower fused than as PyTorch's convolutions (separable=1 is fused)")
    return None


def tracing() -> bool:
    """Whether torch is tracing (export, torch.compile, jit): graphs keep the PyTorch flow."""
    return (torch.compiler.is_compiling() or torch.compiler.is_exporting()
            or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing())


class FusedFlow:
    """`detector.transform(z, condition) -> (u, log_det)` as len(detector.blocks) Triton kernels.

    The detector's parameters are read at every call, never copied."""

    def __init__(self, detector: FlowEneDet, block_pixels: int | None = None) -> None:
        """`block_pixels`: pixels per program, a power of two; default_block_pixels's if None."""
        if block_pixels is None:
            block_pixels = default_block_pixels(detector.config)
        if block_pixels < 1 or block_pixels & (block_pixels - 1):
            raise ConfigError(f"block_pixels must be a power of two, got {block_pixels}")
        self.detector = detector
        self.block_pixels = block_pixels

    def unavailable_reason(self, z: torch.Tensor, condition: torch.Tensor | None = None
                           ) -> str | None:
        """None when `self(z, condition)` can run, else the reason it cannot (one line)."""
        if tracing():
            return "the module is being traced (export, torch.compile): the graph keeps PyTorch"
        reason = triton_missing_reason() or config_unsupported_reason(self.detector)
        if reason is not None:
            return reason
        if self.detector.training:
            return "the detector is in training mode (dropout, ActNorm initialisation, autograd)"
        return self._inputs_reason(z, condition) or self._parameters_reason(z)

    def _inputs_reason(self, z: torch.Tensor, condition: torch.Tensor | None) -> str | None:
        config = self.detector.config
        if z.dtype != torch.float32 or z.dim() != 4 or z.shape[1] != 2:
            return f"z must be float32 (B, 2, H, W), got {z.dtype} {tuple(z.shape)}"
        if not z.is_cuda:
            reason = (f"{z.device} cannot run Triton kernels" if z.device.type != "cpu"
                      else interpreter_reason())
            if reason is not None:
                return f"z is on {z.device}: {reason}"
        batch, _, height, width = z.shape
        if config.condition_channels:
            expected = (batch, config.condition_channels, height, width)
            if (condition is None or condition.dtype != torch.float32
                    or condition.device != z.device or tuple(condition.shape) != expected):
                return f"FED-C needs a float32 condition {expected} on {z.device}"
        radius = config.kernel_size // 2
        if min(height, width) <= radius:
            return (f"the {height}x{width} grid is too small for the {config.kernel_size}x"
                    f"{config.kernel_size} reflect padding")
        return None

    def _parameters_reason(self, z: torch.Tensor) -> str | None:
        parameters = list(self.detector.blocks.parameters())
        if any(p.device != z.device or p.dtype != torch.float32 for p in parameters):
            return f"the detector's parameters must be float32 on {z.device}, like z"
        if not all(p.is_contiguous() for name, p in self.detector.blocks.named_parameters()
                   if not name.endswith("mixing.weight")):
            return "the detector's parameters must be contiguous (the 2x2 mixing excepted)"
        if torch.is_grad_enabled() and (z.requires_grad
                                        or any(p.requires_grad for p in parameters)):
            return "gradients are required (the kernels are inference only; use torch.no_grad())"
        return None

    def __call__(self, z: torch.Tensor, condition: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow on (B, 2, H, W) z: (u, per-dimension log-det), as `detector.transform`."""
        reason = self.unavailable_reason(z, condition)
        if reason is not None:
            raise ConfigError(f"the fused FED flow cannot run: {reason}")
        return self.run(z, condition)

    def run(self, z: torch.Tensor, condition: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """`__call__` without its checks: for callers whose `unavailable_reason` just said None."""
        with torch.cuda.device(z.device) if z.is_cuda else contextlib.nullcontext():
            return self._launch(z.contiguous(), condition)

    def _launch(self, current: torch.Tensor, condition: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """The blocks' kernels, on the current CUDA device (where triton launches)."""
        kernels = load_kernels()
        conditioning, block_constants = kernel_constants(self.detector.config, self.block_pixels)
        batch, _, height, width = current.shape
        grid = (-(-batch * height * width // self.block_pixels),)
        log_det = torch.zeros_like(current)
        hidden = None
        if conditioning is not None:
            condition = condition.contiguous()
            hidden = current.new_empty(batch, conditioning["CHANNELS"], height, width)
        for index, block in enumerate(self.detector.blocks):
            subnet = block.coupling.subnet
            if conditioning is not None:
                kernels.condition_kernel[grid](
                    condition, hidden, block.condition_norm.bias, block.condition_norm.log_scale,
                    subnet[0].weight, subnet[0].bias, batch, height * width, **conditioning)
            output = torch.empty_like(current)
            kernels.flow_block_kernel[grid](
                current, current if hidden is None else hidden, output, log_det,
                block.actnorm.bias, block.actnorm.log_scale, block.mixing.weight,
                subnet[0].weight, subnet[0].bias, subnet[2].weight, subnet[2].bias,
                subnet[5].weight, subnet[5].bias,
                block.attention.query.weight, block.attention.query.bias, block.attention.gate,
                *block.mixing.weight.stride(), batch, height, width,
                KEEP=kept_dimension(index), **block_constants)
            current = output
        return current, log_det


def _power_of_two_above(count: int) -> int:
    return 1 << (count - 1).bit_length()


def default_block_pixels(config: FEDConfig) -> int:
    """Pixels per program for `config` (see BLOCK_PIXELS)."""
    channels_pad = _power_of_two_above(2 + config.condition_channels)
    if config.separable or channels_pad < DOT_MIN:
        return BLOCK_PIXELS
    return DENSE_BLOCK_PIXELS.get(channels_pad, DOT_MIN)


def kernel_constants(config: FEDConfig, block_pixels: int) -> tuple[dict | None, dict]:
    """The compile-time constants of condition_kernel (None for FED-U) and of
    flow_block_kernel (less KEEP, which alternates with the block)."""
    groups = config.condition_channels
    channels = 2 + groups
    channels_pad = _power_of_two_above(channels)
    dot = block_pixels >= DOT_MIN and channels_pad >= DOT_MIN
    block = {"CONDITIONED": bool(groups), "CHANNELS": channels, "CHANNELS_PAD": channels_pad,
             "KERNEL": config.kernel_size, "SEPARABLE": config.separable, "DOT": dot,
             "BLOCK": block_pixels}
    if not groups:
        return None, block
    groups_pad = _power_of_two_above(groups)
    return {"CONDITION": groups, "CONDITION_PAD": groups_pad, "CHANNELS": channels,
            "CHANNELS_PAD": channels_pad, "DOT": dot and groups_pad >= DOT_MIN,
            "BLOCK": block_pixels}, block
