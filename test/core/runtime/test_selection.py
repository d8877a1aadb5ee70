import pytest

from flowenedet_core.errors import ConfigError, RuntimeBackendError
from flowenedet_core.runtime.base import stage_of_kernel
from flowenedet_core.runtime.selection import Environment, choose_backend

GPU = "NVIDIA H100"


@pytest.mark.parametrize(("environment", "expected", "reason"), [
    (Environment("10.9.0", GPU, True), "tensorrt", "TensorRT 10.9.0 and GPU"),
    (Environment(None, GPU, True), "torch", "TensorRT is not installed: torch on CUDA"),
    (Environment("10.9.0", None, True), "onnxruntime", "no CUDA GPU"),
    (Environment(None, None, True), "onnxruntime", "no CUDA GPU"),
    (Environment(None, None, False), "torch", "no onnxruntime"),
])
def test_auto_picks_the_fastest_available_backend_and_says_why(environment, expected, reason):
    name, why = choose_backend("auto", environment)
    assert name == expected and reason in why


@pytest.mark.parametrize(("environment", "message"), [
    (Environment(None, GPU, True), "TensorRT is not installed"),
    (Environment("11.0.0", None, True), "there is no CUDA GPU"),
])
def test_tensorrt_asked_for_but_unavailable_is_an_error(environment, message):
    with pytest.raises(RuntimeBackendError, match=message):
        choose_backend("tensorrt", environment)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigError, match="auto, tensorrt, torch, onnxruntime"):
        choose_backend("openvino", Environment(None, None, True))


def test_onnxruntime_asked_for_but_missing_is_an_error():
    with pytest.raises(RuntimeBackendError, match="pip install onnxruntime"):
        choose_backend("onnxruntime", Environment(None, None, False))


@pytest.mark.parametrize(("kernel", "stage"), [
    ("node_conv2d_3", "backbone"),
    ("relu_24_nchwc", "backbone"),  # onnxruntime's NCHWc layout rename of a node output
    ("node_sigmoid_1 + node_mul_2", "fed"),  # TensorRT fusion
    ("PWN(node_sigmoid_1, node_mul_2)", "fed"),
    ("Reformatting CopyNode for Input Tensor 0 to node_argmax", "postprocess"),
    ("ReorderOutput_token_240", "other"),
])
def test_profiled_kernels_map_back_to_their_stage(kernel, stage):
    stages = {"node_conv2d_3": "backbone", "relu_24": "backbone", "node_sigmoid_1": "fed",
              "node_mul_2": "fed", "node_argmax": "postprocess"}
    assert stage_of_kernel(kernel, stages) == stage
