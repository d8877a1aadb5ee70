"""`bench`, `build-engine`, the node and replay use one cache: FLOWENEDET_CACHE (else
~/.cache/flowenedet/engines), so a graph exported by one is found by the others."""

from __future__ import annotations

import logging

from flowenedet_core.engines.cache import CACHE_VARIABLE, cache_dir
from flowenedet_ros.cli import ALL_COMMANDS
from flowenedet_ros.cli import main as flowenedet
from flowenedet_ros.parameter_file import load_parameter_file
from flowenedet_ros.pipeline_factory import create_pipeline


def test_the_node_and_replay_find_the_graph_bench_exported(tiny_data, tiny_fed, tmp_path,
                                                           monkeypatch, caplog):
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_VARIABLE, str(cache))
    model = ["--backbone", "erfnet", "--weights", str(tiny_data["weights"]), "--size", "64x128",
             "--fed", str(tiny_fed)]
    assert flowenedet(["bench", *model, "--backends", "onnxruntime", "--repeats", "1",
                       "--warmup", "0", "--images", str(tiny_data["anomaly"] / "images")]) == 0
    exported = {path: path.stat().st_mtime_ns for path in cache.glob("*.onnx")}
    assert exported, "bench exported nothing into FLOWENEDET_CACHE"
    values = load_parameter_file(None, {"backbone": "erfnet", "weights": str(tiny_data["weights"]),
                                        "fed": str(tiny_fed), "input_size": [64, 128],
                                        "backend": "onnxruntime"})
    assert values["artifacts_dir"] == ""  # the node's default: the cache
    with caplog.at_level(logging.INFO, "flowenedet_core.runtime.artifacts"):
        assert create_pipeline(values).backend == "onnxruntime"  # the node's and replay's
    assert not [r for r in caplog.records if r.message.startswith("exporting")]
    assert {path: path.stat().st_mtime_ns for path in cache.glob("*.onnx")} == exported


def test_every_command_that_caches_defaults_to_the_cache(tmp_path, monkeypatch):
    from flowenedet_core.cli.main import build_parser

    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))
    parser = build_parser(ALL_COMMANDS)
    model = ["--backbone", "erfnet-tiny", "--weights", "embedded:erfnet-tiny"]
    for command in (["build-engine", *model], ["bench", *model]):
        assert cache_dir(parser.parse_args(command).engines) == tmp_path
        given = parser.parse_args([*command, "--engines", str(tmp_path / "mine")]).engines
        assert cache_dir(given) == tmp_path / "mine"
