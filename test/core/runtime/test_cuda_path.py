"""The GPU path on a CUDA GPU: capture, replay, staging buffers, the precision choice and CUDA
event timing. Skipped without a GPU (CI); `scripts/gpu-bench.sh run` runs them on one."""

import numpy as np
import pytest
import torch

from flowenedet_core.benchmark import BenchOptions, bench_backend
from flowenedet_core.runtime.frame_backend import FrameTorchBackend
from flowenedet_core.runtime.pipeline import GpuOptions, Pipeline
from flowenedet_core.runtime.precision import LABEL_AGREEMENT, UNCERTAINTY_ERROR

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (none on this machine)")


def frame(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def captured(tiny_spec):
    backend = FrameTorchBackend(tiny_spec.build_graph("cuda"), "cuda")
    backend.prepare((1, 100, 150, 3))
    return backend


def test_a_frame_shape_is_captured_once_and_replayed(captured):
    assert captured.cuda_graphs and captured.fallback is None
    assert "CUDA graphs" in captured.describe()
    assert captured.prepare((1, 100, 150, 3)) == 0.0


def test_replay_gives_the_eager_module_outputs_and_returns_copies(captured):
    first, second = frame((100, 150), 1), frame((100, 150), 2)
    replayed = captured.run_frames(first[None])
    kept = {name: value.copy() for name, value in replayed.items()}
    captured.run_frames(second[None])  # reuses the static and pinned buffers
    for name in kept:
        assert np.array_equal(replayed[name], kept[name])
    with torch.inference_mode():
        eager = captured.module(torch.from_numpy(first[None]).cuda())
    assert np.array_equal(replayed["labels"], eager[0].cpu().numpy())
    assert np.allclose(replayed["uncertainty"], eager[1].cpu().numpy(), atol=1e-6)


def test_gpu_path_agrees_with_the_cpu_host_path(tiny_spec):
    gpu = Pipeline.create(tiny_spec, backend="torch", gpu=GpuOptions(camera_size=(100, 150)))
    assert isinstance(gpu.runtime, FrameTorchBackend)
    assert "backbone precision by parity" in gpu.reason and "ready in" in gpu.reason
    cpu = Pipeline.create(tiny_spec, backend="torch", device="cpu")
    for seed in range(3):
        image = frame((100, 150), seed)
        served, expected = gpu.infer(image), cpu.infer(image)
        assert np.mean(served.labels == expected.labels) >= LABEL_AGREEMENT
        assert np.abs(served.uncertainty - expected.uncertainty).max() <= UNCERTAINTY_ERROR


def test_eager_mode_is_the_host_path_on_the_gpu(tiny_spec):
    pipeline = Pipeline.create(tiny_spec, backend="torch", gpu=GpuOptions(mode="eager"))
    assert not hasattr(pipeline.runtime, "takes_frames")
    assert pipeline.infer(frame((100, 150))).labels.shape == (100, 150)


def test_bench_times_the_gpu_path_with_cuda_events(tiny_spec, tmp_path):
    frames = [frame((100, 150), seed) for seed in range(2)]
    result = bench_backend(tiny_spec, "torch", frames,
                           BenchOptions(repeats=20, artifacts=tmp_path))
    assert result["timer"] == "cuda events" and result["timing_check"] == "ok"
    assert result["end_to_end_ms"]["p50"] >= result["graph_ms"] > 0
