"""Compile the fused flow's kernels for an NVIDIA GPU without one (triton's bundled ptxas).

Triton's interpreter accepts programs its compiler rejects, so the CPU parity tests alone do not
show the kernels build for a GPU; this does, and reports each kernel's registers and stack
(spills) from the cubin. Needs triton imported without TRITON_INTERPRET.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from ...errors import ConfigError
from ..blocks import kept_dimension
from ..detector import FEDConfig
from .flow import (
    default_block_pixels,
    interpreted,
    kernel_constants,
    load_kernels,
)

# run-time integer arguments; every other non-constexpr argument is a float32 pointer
INTEGER_ARGUMENTS = {"mixing_row_stride", "mixing_column_stride", "batch", "height", "width",
                     "pixels"}


def _resource_usage(cubin: bytes) -> str:
    import triton

    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        lines = subprocess.run([str(cuobjdump), "--dump-resource-usage", file.name],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    usage = next(line for line in lines if "REG:" in line).split()
    return " ".join(field for field in usage if field.split(":")[0] in ("REG", "STACK"))


def compile_for_gpu(config: FEDConfig, arch: int = 90, block_pixels: int | None = None
                    ) -> dict[str, str]:
    """Kernel name -> 'REG:n STACK:bytes' for every kernel `config` launches, built for sm_`arch`.

    Raises triton's compilation error where a kernel does not build."""
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0") or interpreted():
        raise ConfigError("compile_for_gpu needs triton imported without TRITON_INTERPRET")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernels = load_kernels()
    conditioning, block = kernel_constants(config, block_pixels or default_block_pixels(config))
    builds = [(f"flow_block_kernel KEEP={kept_dimension(index)}", kernels.flow_block_kernel,
               {**block, "KEEP": kept_dimension(index)}) for index in (0, 1)]
    if conditioning is not None:
        builds.append(("condition_kernel", kernels.condition_kernel, conditioning))
    usage = {}
    for name, kernel, constants in builds:
        signature = {argument: "constexpr" if argument in constants
                     else "i32" if argument in INTEGER_ARGUMENTS else "*fp32"
                     for argument in kernel.arg_names}
        compiled = triton.compile(ASTSource(kernel, signature, constants),
                                  target=GPUTarget("cuda", arch, 32))
        usage[name] = _resource_usage(compiled.asm["cubin"])
    return usage
