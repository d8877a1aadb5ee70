"""`flowenedet export`, `bench` and `build-engine` on the random ERFNet and FED."""

import json

import numpy as np
import pytest

from flowenedet_core.cli.main import build_parser, main
from flowenedet_core.cli.model_args import model_spec
from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend


def model_args(tiny_data, tiny_fed):
    return ["--backbone", "erfnet", "--weights", str(tiny_data["weights"]), "--size", "64x128",
            "--fed", str(tiny_fed)]


def test_export_writes_a_graph_onnxruntime_runs(tiny_data, tiny_fed, tmp_path):
    out = tmp_path / "model.onnx"
    assert main(["export", *model_args(tiny_data, tiny_fed), "--out", str(out)]) == 0
    outputs = OnnxRuntimeBackend(out).run(np.zeros((2, 64, 128, 3), np.uint8))
    assert outputs["labels"].shape == (2, 64, 128)


def test_bench_reports_stages_latency_and_backbone_cost_per_backend(tiny_data, tiny_fed,
                                                                   tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", *model_args(tiny_data, tiny_fed), "--backends", "torch,onnxruntime",
            "--images", str(tiny_data["anomaly"] / "images"), "--repeats", "3", "--warmup", "1",
            "--engines", str(tmp_path / "engines"), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["frames"] == {"source": str(tiny_data["anomaly"] / "images"), "count": 3,
                                "size": [48, 96], "repeats": 3}  # frames at their own size
    assert report["model"]["gmacs"]["backbone"] > report["model"]["gmacs"]["fed"] > 0
    assert list(report["backends"]) == ["auto", "torch-eager", "onnxruntime"]
    assert report["backends"]["auto"]["device"].startswith("onnxruntime")  # no GPU here
    for result in report["backends"].values():
        assert {"convert", "preprocess", "backbone", "fed", "postprocess"} <= set(
            result["stages_ms"])
        latency = result["end_to_end_ms"]
        assert 0 < latency["p50"] <= latency["p99"] and latency["mean"] > 0
        assert result["backbone_only_ms"] > 0 and result["throughput_fps"] > 0
        assert result["timer"] == "wall clock" and isinstance(result["timing_check"], str)
        assert result["frame_size"] == [48, 96] and result["precision"] == "fp32"
    summary = report["summary"]
    assert summary["best"] in report["backends"] and summary["auto_over_best"] >= 1
    assert summary["auto_speedup_over_torch_eager_fp32"] > 0
    assert report["environment"]["cuda"] is None
    assert "| onnxruntime | fp32 |" in capsys.readouterr().out


def test_bench_times_cameras_batched_and_one_pipeline_each(tiny_data, tiny_fed, tmp_path,
                                                          capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", *model_args(tiny_data, tiny_fed), "--backends", "", "--camera-size",
            "100x150", "--cameras", "1,2", "--repeats", "2", "--warmup", "1", "--engines",
            str(tmp_path / "engines"), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["frames"]["size"] == [100, 150] and list(report["backends"]) == ["auto"]
    for mode in ("batched", "pipelines"):
        assert list(report["cameras"][mode]) == ["1", "2"]
        for result in report["cameras"][mode].values():
            assert result["latency_ms"]["p50"] > 0 and result["total_fps"] > 0
    assert len(report["cameras"]["pipelines"]["2"]["per_camera_p50_ms"]) == 2
    assert "2 camera(s), batched: per-camera p50" in capsys.readouterr().out


def test_bench_times_an_untrained_fed_config_on_random_weights(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["bench", "--backbone", "erfnet", "--size", "64x128", "--fed-config",
            "variant=fed-c,num_blocks=2,separable=1,condition_groups=8", "--backends",
            "onnxruntime,tensorrt", "--repeats", "2", "--warmup", "1", "--engines",
            str(tmp_path), "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["model"]["weights"] == "random" and "untrained" in report["model"]["fed"]
    assert report["frames"]["source"] == "random"
    assert "end_to_end_ms" in report["backends"]["onnxruntime"]
    assert "TensorRT" in report["backends"]["tensorrt"]["skipped"]


def test_build_engine_without_tensorrt_is_one_clear_error(tiny_data, tiny_fed, capsys):
    assert main(["build-engine", *model_args(tiny_data, tiny_fed)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "TensorRT is not installed" in error


def test_bad_fed_config_is_rejected_with_the_valid_names(capsys):
    with pytest.raises(SystemExit, match="2"):
        main(["bench", "--backbone", "erfnet", "--fed-config", "layers=3"])
    assert "num_blocks" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "scales"), [([], (1.0,)), (["--tta"], (1.0, 0.5, 0.25)),
                                                (["--tta", "0.5,1"], (1.0, 0.5))])
def test_export_puts_test_time_scales_into_the_model(tiny_data, tiny_fed, option, scales):
    args = build_parser().parse_args(["export", *model_args(tiny_data, tiny_fed), *option,
                                      "--out", "model.onnx"])
    assert model_spec(args).tta_scales == scales
