"""The GPU path's parts that run without a GPU: resizing inside the graph, the frame backend
(eager on the CPU, with its reason), the precision check and choice, batches of cameras and the
fallback to the eager host path. CUDA graph capture itself needs a GPU (scripts/gpu-bench.sh)."""

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.fed import FEDConfig
from flowenedet_core.fed.fused import slower_than_pytorch_reason
from flowenedet_core.fed.fused.benchmark import full_float32
from flowenedet_core.runtime.frame_backend import FrameTorchBackend
from flowenedet_core.runtime.frame_graph import FrameGraph
from flowenedet_core.runtime.pipeline import GpuOptions, Pipeline
from flowenedet_core.runtime.precision import (
    LABEL_AGREEMENT,
    UNCERTAINTY_AGREEMENT,
    UNCERTAINTY_ERROR,
    choose_precision,
    parity,
    parity_frames,
)
from flowenedet_core.runtime.torch_backend import TorchBackend


def frame(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def host(tiny_spec):
    """Today's CPU path: eager torch, resizing on the host."""
    return Pipeline.create(tiny_spec, backend="torch", device="cpu")


@pytest.mark.parametrize("shape", [(64, 128), (100, 150), (48, 96), (256, 512)])
def test_resizing_inside_the_graph_matches_the_host_path(host, shape):
    image = frame(shape)
    expected = host.infer(image)
    with torch.inference_mode():
        labels, uncertainty, model_labels, model_uncertainty = FrameGraph(
            host.runtime.graph)(torch.from_numpy(image)[None])
    # identical model input (same antialiased resize, same rounding), so identical model maps
    assert np.array_equal(model_labels[0].numpy(), expected.model_labels)
    assert np.array_equal(model_uncertainty[0].numpy(), expected.model_uncertainty)
    assert np.array_equal(labels[0].numpy(), expected.labels)
    assert np.abs(uncertainty[0].numpy() - expected.uncertainty).max() < 1e-5


def test_frame_backend_on_the_cpu_runs_eagerly_and_says_why(tiny_spec):
    backend = FrameTorchBackend(tiny_spec.build_graph(), "cpu")
    assert backend.fallback == "CUDA graphs need a CUDA GPU" and not backend.cuda_graphs
    assert backend.precision == "fp32" and "eager" in backend.describe()
    assert backend.prepare((1, 100, 150, 3)) > 0 and backend.prepare((1, 100, 150, 3)) == 0
    outputs = backend.run_frames(np.stack([frame((100, 150)), frame((100, 150), 1)]))
    assert outputs["labels"].shape == (2, 100, 150) and outputs["labels"].dtype == np.uint8
    assert outputs["uncertainty"].shape == (2, 100, 150)
    assert outputs["model_uncertainty"].shape == (2, 64, 128)
    assert len(backend.time_device(frame((64, 128))[None], 3)) == 3


def test_frame_path_pipeline_serves_what_the_host_path_serves(tiny_spec, host):
    pipeline = Pipeline.frame_path(tiny_spec, "cpu", GpuOptions(camera_size=(100, 150),
                                                                precisions=(), fused_fed=False))
    assert isinstance(pipeline.runtime, FrameTorchBackend)
    assert pipeline.describe().endswith("(eager, fp32 backbone, PyTorch FED flow)")
    image = frame((100, 150), 2)
    served, expected = pipeline.infer(image), host.infer(image)
    assert np.array_equal(served.model_labels, expected.model_labels)
    assert np.array_equal(served.labels, expected.labels)
    assert np.abs(served.uncertainty - expected.uncertainty).max() < 1e-5


def test_frame_path_chooses_the_backbone_precision_and_says_how(tiny_spec):
    # the PyTorch flow: Triton's interpreter would take minutes over the choice's calls
    pipeline = Pipeline.frame_path(tiny_spec, "cpu", GpuOptions(fused_fed=False),
                                   reason="asked for")
    reason = pipeline.reason
    assert reason.startswith("asked for; backbone precision by parity: fp32, ")
    assert "; fp16 " in reason and "; bf16 " in reason and "ready in" in reason
    assert pipeline.describe().endswith(
        f"(eager, {pipeline.runtime.precision} backbone, PyTorch FED flow)")


@pytest.mark.parametrize("gpu_path", [False, True])
def test_a_batch_of_cameras_gives_what_each_frame_gives_alone(tiny_spec, host, gpu_path):
    options = GpuOptions(precisions=(), fused_fed=False)
    pipeline = Pipeline.frame_path(tiny_spec, "cpu", options) if gpu_path else host
    images = [frame((100, 150), seed) for seed in range(3)]
    batch = pipeline.infer_batch(images)
    for image, prediction in zip(images, batch, strict=True):
        alone = pipeline.infer(image)
        assert np.array_equal(prediction.labels, alone.labels)
        assert np.allclose(prediction.uncertainty, alone.uncertainty, atol=1e-6)
        assert prediction.model_uncertainty.shape == (64, 128)


def test_a_batch_takes_frames_of_one_size(host):
    with pytest.raises(Exception, match="frames of one size"):
        host.infer_batch([frame((64, 128)), frame((100, 150))])


def test_parity_measures_the_shares_of_equal_labels_and_close_uncertainty():
    labels = np.zeros((10, 100), np.uint8)
    uncertainty = np.full((10, 100), 0.5, np.float32)
    reference = [{"labels": labels, "uncertainty": uncertainty}]
    changed = labels.copy()
    changed[0, :4] = 1  # 0.4 % of the pixels
    close = uncertainty + np.float32(UNCERTAINTY_ERROR / 2)
    result = parity("fp16", reference, [{"labels": changed, "uncertainty": close}])
    assert result.label_agreement == pytest.approx(0.996)
    assert result.uncertainty_agreement == 1.0
    assert result.uncertainty_error == pytest.approx(UNCERTAINTY_ERROR / 2)
    assert result.passed
    changed[0, :6] = 1  # 0.6 %: below LABEL_AGREEMENT
    assert parity("fp16", reference, [{"labels": changed, "uncertainty": close}]).label_agreement \
        < LABEL_AGREEMENT
    assert not parity("fp16", reference, [{"labels": changed, "uncertainty": close}]).passed
    one_far = close.copy()
    one_far[0, 0] += 0.5  # one pixel in 1000 far off: the share still passes, the max says it
    result = parity("fp16", reference, [{"labels": labels, "uncertainty": one_far}])
    assert result.passed and result.uncertainty_agreement == pytest.approx(UNCERTAINTY_AGREEMENT)
    assert result.uncertainty_error == pytest.approx(0.5 + UNCERTAINTY_ERROR / 2)
    one_far[0, 1] += 0.5  # two in 1000: below UNCERTAINTY_AGREEMENT
    assert not parity("fp16", reference, [{"labels": labels, "uncertainty": one_far}]).passed
    far = uncertainty + np.float32(2 * UNCERTAINTY_ERROR)
    assert not parity("bf16", reference, [{"labels": labels, "uncertainty": far}]).passed
    labels_only = parity("bf16", [{"labels": labels}], [{"labels": labels}])
    assert labels_only.uncertainty_error == 0 and labels_only.passed


def test_precision_choice_keeps_fp32_unless_a_half_precision_agrees_and_is_faster(tiny_spec):
    frames = parity_frames(None, (64, 128), count=2)
    assert len(frames) == 2 and frames[0].shape == (64, 128, 3)

    def build(precision):
        return FrameTorchBackend(replace(tiny_spec, precision=precision).build_graph(), "cpu")

    chosen, checks = choose_precision(build, frames, ("bf16",), timed_calls=2)
    assert [check["precision"] for check in checks] == ["fp32", "bf16"]
    assert checks[0]["device_ms"] > 0
    bf16 = checks[1]
    assert {"label_agreement", "uncertainty_agreement", "uncertainty_error", "passed"} <= set(bf16)
    if not bf16["passed"]:
        assert chosen.precision == "fp32" and "device_ms" not in bf16
    else:
        fastest = min(checks, key=lambda check: check["device_ms"])
        assert chosen.precision == fastest["precision"]


def test_any_failure_of_the_gpu_path_falls_back_to_eager_fp32_with_the_reason(tiny_spec,
                                                                              tmp_path):
    pipeline = Pipeline.frame_path(tiny_spec, "cpu", GpuOptions(parity_images=tmp_path),
                                   reason="asked for")
    assert isinstance(pipeline.runtime, TorchBackend)
    assert "GPU path failed (DataError: no images" in pipeline.reason
    assert pipeline.reason.endswith("eager fp32")
    assert "GPU path failed (DataError: no images" in pipeline.describe()  # diagnostics
    assert pipeline.infer(frame((100, 150))).labels.shape == (100, 150)


def test_gpu_options_reject_an_unknown_mode():
    with pytest.raises(Exception, match="gpu mode 'fast' is not one of auto, eager"):
        GpuOptions(mode="fast")


def test_frame_path_runs_fed_through_the_fused_kernels_with_the_same_outputs(tiny_separable_spec):
    pytest.importorskip("triton", reason="triton is not installed: the fused FED flow cannot run")
    device = "cuda" if torch.cuda.is_available() else "cpu"  # compiled kernels, or interpreted
    with full_float32():
        fused = Pipeline.frame_path(tiny_separable_spec, device, GpuOptions(precisions=()))
        plain = Pipeline.frame_path(tiny_separable_spec, device, GpuOptions(precisions=(),
                                                                       fused_fed=False))
        image = frame((100, 150), 3)
        served, expected = fused.infer(image), plain.infer(image)
    assert plain.runtime.graph.head.fused_flow is None
    head = fused.runtime.graph.head
    assert head.fused_flow is not None and not head.fallback_reasons  # the kernels ran
    assert np.array_equal(served.labels, expected.labels)
    assert np.abs(served.uncertainty - expected.uncertainty).max() < 1e-5


class HostTensorCalls(TorchDispatchMode):
    """Records the operators that make a tensor from host data during a call (`torch.tensor`,
    indexing with a Python list): on a GPU each is a host-to-device copy that CUDA graph capture
    refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in (torch.ops.aten.lift_fresh.default, torch.ops.aten.index.Tensor):
            self.calls.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("model", ["erfnet-fed-c", "efficientvit-b0-fed-u-margin-prior"])
def test_the_frame_graph_makes_no_tensor_from_host_data_so_a_gpu_can_capture_it(tiny_separable_spec,
                                                                               model, fused):
    spec = tiny_separable_spec if model == "erfnet-fed-c" else ModelSpec(
        "efficientvit-b0", None, (64, 128),
        untrained_fed=FEDConfig(margin=True, condition_prior=True, flow_stride=8))
    graph = FrameGraph(spec.build_graph("cpu", fused)).eval()
    image = torch.from_numpy(frame((100, 150)))[None]
    with torch.inference_mode(), HostTensorCalls() as recorder:
        graph(image)
    assert recorder.calls == []


def test_a_wide_dense_subnet_keeps_the_pytorch_flow_on_the_gpu_path_and_says_why(tiny_spec, caplog):
    with caplog.at_level(logging.INFO, logger="flowenedet_core.export.graph"):
        graph = tiny_spec.build_graph("cpu", fused_fed=True)  # dense 7x7 FED-C, P 16
    why = "a dense 7x7 subnet over 18 channels runs slower fused"
    assert graph.head.fused_flow is None and why in caplog.text
    assert graph.head.describe_flow() == f"PyTorch FED flow ({why} than as PyTorch's " \
        "convolutions (separable=1 is fused))"
    for narrow in (FEDConfig(), FEDConfig(margin=True),  # 2 and 4 channels: fused
                   FEDConfig(variant="fed-c", condition_groups=8, separable=True)):
        assert slower_than_pytorch_reason(narrow) is None
    assert slower_than_pytorch_reason(FEDConfig(variant="fed-c", condition_groups=8))
