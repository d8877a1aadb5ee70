"""The fused (Triton) FED flow against the PyTorch flow: compiled on a GPU, else through
triton's CPU interpreter.

test/conftest.py sets TRITON_INTERPRET=1 without a GPU. The interpreter runs a kernel's program
once per launch-grid cell in Python, so the grids here are tiny and the tile sizes small enough
to give several programs, a partial last one and tiles straddling two images of a batch. On a
GPU the same tests run the compiled kernels on CUDA tensors, against the PyTorch flow in IEEE
float32 (`full_float32`).
"""

import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowenedet_core.errors import ConfigError
from flowenedet_core.export.graph import FEDHead
from flowenedet_core.fed import FEDConfig
from flowenedet_core.fed.fused import (
    FusedFlow,
    config_unsupported_reason,
    triton_missing_reason,
)
from flowenedet_core.fed.fused.benchmark import (
    full_float32,
    random_detector,
    random_inputs,
    time_fused_vs_torch,
)

TRITON_MISSING = triton_missing_reason()
needs_triton = pytest.mark.skipif(TRITON_MISSING is not None,
                                  reason=f"fused FED flow: {TRITON_MISSING}")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPO = Path(__file__).resolve().parents[3]

# id: (config, batch, grid, pixels per program)
CASES = {
    "fed-u-L8-K7": (FEDConfig(num_blocks=8, kernel_size=7), 2, (9, 13), 128),
    "fed-c-cheapest-L4-K7-separable-P8": (
        FEDConfig(variant="fed-c", num_blocks=4, separable=True, condition_groups=8),
        2, (9, 13), 128),
    "fed-c-dense-P8-dot-conv": (
        FEDConfig(variant="fed-c", num_blocks=2, kernel_size=3, condition_groups=8),
        3, (5, 7), 16),
    "fed-c-dense-P16-dot-condition": (
        FEDConfig(variant="fed-c", num_blocks=2, kernel_size=3, condition_groups=16),
        1, (6, 6), 16),
    "fed-c-dense-P2-K5-no-dot": (
        FEDConfig(variant="fed-c", num_blocks=3, kernel_size=5, condition_groups=2),
        2, (4, 6), 8),
    "fed-u-separable-K3": (FEDConfig(num_blocks=2, kernel_size=3, separable=True), 1, (3, 5), 4),
    "fed-u-K7-on-4x4-widest-reflect": (FEDConfig(num_blocks=2, kernel_size=7), 2, (4, 4), 32),
}


def close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Within 1e-5 of the reference, relative to the reference's largest magnitude."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def fed_probability(detector, u: torch.Tensor, log_det: torch.Tensor) -> torch.Tensor:
    class_logits = detector.base(u, log_det)
    return torch.sigmoid(class_logits[:, 1] - class_logits[:, 0])


@needs_triton
@pytest.mark.parametrize("case", CASES)
def test_fused_flow_matches_the_pytorch_flow_and_its_probability(case):
    config, batch, grid, block_pixels = CASES[case]
    detector = random_detector(config).to(DEVICE)
    z, condition = (None if t is None else t.to(DEVICE)
                    for t in random_inputs(config, batch, grid))
    fused = FusedFlow(detector, block_pixels)
    with torch.no_grad():
        assert fused.unavailable_reason(z, condition) is None
        with full_float32():
            u, log_det = detector.transform(z, condition)
        fused_u, fused_log_det = fused(z, condition)
        assert u.abs().max() > 0.1 and log_det.abs().max() > 0.1  # not an identity flow
        close(fused_u, u)
        close(fused_log_det, log_det)
        close(fed_probability(detector, fused_u, fused_log_det),
              fed_probability(detector, u, log_det))


@needs_triton
def test_fused_flow_reads_the_weights_at_every_call():
    config = FEDConfig(num_blocks=1, kernel_size=3)
    detector = random_detector(config).to(DEVICE)
    fused = FusedFlow(detector)
    z, _ = random_inputs(config, 1, (4, 5))
    z = z.to(DEVICE)
    with torch.no_grad():
        before = fused(z)[0]
        detector.load_state_dict(random_detector(config, seed=7).state_dict())
        after = fused(z)[0]
        with full_float32():
            close(after, detector.transform(z)[0])
    assert (after - before).abs().max() > 1e-3
    detector.double()
    assert "parameters must be float32" in fused.unavailable_reason(z)
    detector.to("meta", torch.float32)  # moved away from z
    assert f"parameters must be float32 on {z.device}, like z" in fused.unavailable_reason(z)


@needs_triton
@pytest.mark.parametrize(("change", "reason"), [
    (lambda detector, z: (detector.train(), z), "training mode"),
    (lambda detector, z: (detector, z[:, :, :3, :3]), "too small for the 7x7 reflect padding"),
    (lambda detector, z: (detector, z.double()), "float32"),
    (lambda detector, z: (detector, z.requires_grad_()), "gradients are required"),
])
def test_fused_flow_says_why_it_cannot_run(change, reason):
    config = FEDConfig(num_blocks=1)
    detector, z = change(random_detector(config).to(DEVICE),
                         random_inputs(config, 1, (5, 5))[0].to(DEVICE))
    fused = FusedFlow(detector)
    assert reason in fused.unavailable_reason(z)
    with pytest.raises(ConfigError, match="fused FED flow cannot run"):
        fused(z)


@needs_triton
def test_fed_c_without_its_condition_is_refused():
    config = FEDConfig(variant="fed-c", num_blocks=1, condition_groups=4)
    fused = FusedFlow(random_detector(config).to(DEVICE))
    z, condition = (t.to(DEVICE) for t in random_inputs(config, 1, (5, 5)))
    with torch.no_grad():
        assert "needs a float32 condition (1, 4, 5, 5)" in fused.unavailable_reason(z)
        assert "needs a float32 condition" in fused.unavailable_reason(z, condition[:, :2])


def test_a_subnet_wider_than_a_register_tile_is_unsupported():
    wide = random_detector(FEDConfig(variant="fed-c", num_blocks=1, condition_groups=63))
    assert "65 channels" in config_unsupported_reason(wide)
    assert config_unsupported_reason(random_detector(FEDConfig(
        variant="fed-c", num_blocks=1, condition_groups=62))) is None


def test_missing_triton_is_the_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # makes `import triton` fail
    config = FEDConfig(num_blocks=1)
    reason = FusedFlow(random_detector(config)).unavailable_reason(
        random_inputs(config, 1, (5, 5))[0])
    assert reason.startswith("triton cannot be imported")


def without_interpreter(script: str) -> str:
    """`script`'s output, run by a Python whose triton compiles (no TRITON_INTERPRET)."""
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-c", script], env=environment, text=True,
                          capture_output=True, timeout=600, check=True).stdout


def cpu_reason_without_interpreter(prelude: str = "") -> str:
    """The fused flow's reason for CPU tensors in a Python started without TRITON_INTERPRET
    that first runs `prelude`."""
    return without_interpreter(
        prelude
        + "from flowenedet_core.fed import FEDConfig\n"
        "from flowenedet_core.fed.fused import FusedFlow\n"
        "from flowenedet_core.fed.fused.benchmark import random_detector, random_inputs\n"
        "config = FEDConfig(num_blocks=1)\n"
        "z, _ = random_inputs(config, 1, (5, 5))\n"
        "print(FusedFlow(random_detector(config)).unavailable_reason(z))\n")


@needs_triton
def test_compiled_kernels_refuse_cpu_tensors():
    assert ("z is on cpu: compiled Triton kernels need CUDA tensors"
            in cpu_reason_without_interpreter())


@needs_triton
def test_interpreter_switched_on_after_triton_was_imported_is_refused():
    output = cpu_reason_without_interpreter(
        "import os\n"
        "import torch._dynamo  # imports triton, for compiled kernels\n"
        "os.environ['TRITON_INTERPRET'] = '1'\n")
    assert "TRITON_INTERPRET=1 was set after triton was first imported" in output


@needs_triton
def test_kernels_compile_for_an_h100_without_spilling():
    output = without_interpreter(
        "import json\n"
        "from flowenedet_core.fed import FEDConfig\n"
        "from flowenedet_core.fed.fused.benchmark import PRESETS\n"
        "from flowenedet_core.fed.fused.gpu_compile import compile_for_gpu\n"
        "dense = FEDConfig(variant='fed-c', num_blocks=1, condition_groups=16)\n"
        "print(json.dumps([compile_for_gpu(c) for c in "
        "(PRESETS['fed-u'], PRESETS['fed-c-cheap'], dense)]))\n")
    fed_u, cheapest, dense = json.loads(output.splitlines()[-1])
    assert set(cheapest) == set(dense) == {"flow_block_kernel KEEP=0", "flow_block_kernel KEEP=1",
                                           "condition_kernel"}
    assert set(fed_u) == {"flow_block_kernel KEEP=0", "flow_block_kernel KEEP=1"}
    for usage in (*fed_u.values(), *cheapest.values(), *dense.values()):
        assert usage.endswith("STACK:0"), usage  # no register spills at the default tiles


def test_block_pixels_must_be_a_power_of_two():
    with pytest.raises(ConfigError, match="power of two, got 48"):
        FusedFlow(random_detector(FEDConfig(num_blocks=1)), block_pixels=48)


@needs_triton
def test_fused_head_gives_the_graphs_uncertainty(tiny_separable_spec):
    graph = tiny_separable_spec.build_graph(DEVICE)
    image = torch.randint(0, 256, (1, 64, 128, 3), dtype=torch.uint8, device=DEVICE)
    with torch.no_grad(), full_float32():
        labels, uncertainty = graph(image)
        graph.head = FEDHead(graph.head.detector, graph.backbone, fused=True)
        fused_labels, fused_uncertainty = graph(image)
    assert graph.head.fused_flow is not None and not graph.head.fallback_reasons
    assert graph.head.describe_flow() == "fused FED flow"
    assert torch.equal(fused_labels, labels)
    close(fused_uncertainty, uncertainty)


def test_fused_head_falls_back_to_pytorch_and_logs_the_reason_once(tiny_separable_spec,
                                                                 monkeypatch, caplog):
    graph = tiny_separable_spec.build_graph()
    image = torch.randint(0, 256, (1, 64, 128, 3), dtype=torch.uint8)
    with torch.no_grad():
        expected = graph(image)[1]
        graph.head = FEDHead(graph.head.detector, graph.backbone, fused=True)
        monkeypatch.setitem(sys.modules, "triton", None)
        with caplog.at_level(logging.WARNING, logger="flowenedet_core.export.graph"):
            outputs = [graph(image)[1] for _ in range(2)]
    assert [r.getMessage() for r in caplog.records] == [
        "fused FED flow not used, running the PyTorch flow: triton cannot be imported "
        "(import of triton halted; None in sys.modules; pip install triton: Linux x86_64 wheels)"]
    assert all(torch.equal(output, expected) for output in outputs)
    assert graph.head.describe_flow().startswith("PyTorch FED flow (triton cannot be imported")


@needs_triton
def test_micro_benchmark_times_both_flows_and_checks_they_agree():
    result = time_fused_vs_torch(FEDConfig(variant="fed-c", num_blocks=1, kernel_size=3,
                                           separable=True, condition_groups=8),
                                 (4, 6), DEVICE, repeats=2, warmup=1)
    assert result["timer"] == ("cuda-events" if DEVICE == "cuda" else "perf_counter")
    assert result["torch_ms"]["median"] > 0 and result["fused_ms"]["p99"] > 0
    assert max(result["max_abs_difference"].values()) < 1e-5


@needs_triton
def test_documented_interpreter_benchmark_command_prints_json():
    prefix = "TRITON_INTERPRET=1 python -m flowenedet_core.fed.fused "
    (line,) = [line for line in (REPO / "docs" / "performance.md").read_text().splitlines()
               if line.startswith(prefix)]
    # as written: its own process, so it runs in the interpreter on a GPU machine too
    output = subprocess.run([sys.executable, *shlex.split(line)[2:]], cwd=REPO, text=True,
                            env=os.environ | {"TRITON_INTERPRET": "1"}, capture_output=True,
                            timeout=600, check=True).stdout
    result = json.loads(output)
    assert result["config"]["num_blocks"] == 8 and result["grid"] == [8, 16]
    assert max(result["max_abs_difference"].values()) < 1e-5 and result["fused_ms"]["median"] > 0


@needs_triton
def test_onnx_export_of_a_fused_head_traces_the_pytorch_flow(tiny_separable_spec, tiny_onnx,
                                                             tmp_path, caplog):
    import numpy as np

    from flowenedet_core.export.onnx_export import export_onnx, read_graph_info
    from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend

    graph = tiny_separable_spec.build_graph()
    graph.head = FEDHead(graph.head.detector, graph.backbone, fused=True)
    assert graph.head.fused_flow is not None
    info = read_graph_info(tiny_onnx)[0]
    with caplog.at_level(logging.WARNING, logger="flowenedet_core.export.graph"):
        path = export_onnx(graph, tmp_path / "fused.onnx", info)
    assert not caplog.records and not graph.head.fallback_reasons
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 128, 3), dtype=np.uint8)
    with torch.no_grad():
        uncertainty = graph(torch.from_numpy(images))[1].numpy()
    assert np.abs(OnnxRuntimeBackend(path).run(images)["uncertainty"] - uncertainty).max() <= 1e-3
