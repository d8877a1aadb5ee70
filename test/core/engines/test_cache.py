import logging
from pathlib import Path

import pytest

from flowenedet_core.engines.builder import build_plan
from flowenedet_core.engines.cache import (
    CACHE_VARIABLE,
    EngineCache,
    EngineKey,
    cache_dir,
    decode_engine,
    default_cache_dir,
    encode_engine,
    key_mismatches,
)
from flowenedet_core.errors import ConfigError, RuntimeBackendError

KEY = EngineKey("ab" * 32, "10.9.0.34", "NVIDIA H100 80GB HBM3", "9.0", "fp16", (1, 512, 1024, 3))
PLAN = bytes(range(256)) * 40


def test_engine_file_round_trips_key_and_plan():
    header, plan = decode_engine(encode_engine(KEY, PLAN))
    assert plan == PLAN and key_mismatches(header, KEY) == []


@pytest.mark.parametrize(("damage", "message"), [
    (lambda data: b"NOTOURS!" + data[8:], "bad magic"),
    (lambda data: data[:-10], "truncated"),
    (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), "checksum"),
    (lambda data: data[:12] + b"{not json" + data[21:], "unreadable header"),
])
def test_damaged_engine_files_are_recognised(damage, message):
    with pytest.raises(ValueError, match=message):
        decode_engine(damage(encode_engine(KEY, PLAN)))


@pytest.mark.parametrize("field", ["onnx_sha256", "tensorrt_version", "gpu_name",
                                   "compute_capability", "precision", "shape"])
def test_every_key_field_invalidates_the_cached_engine(tmp_path, field, caplog):
    cache = EngineCache(tmp_path)
    path = cache.store(cache.path_for("model", KEY), KEY, PLAN)
    assert cache.load(path, KEY) == PLAN
    changed = {"shape": (2, 512, 1024, 3)}.get(field, "other")
    other = EngineKey(**{**KEY.__dict__, field: changed})
    assert other.digest() != KEY.digest()
    with caplog.at_level(logging.WARNING):
        assert cache.load(path, other) is None
    assert field in caplog.text and "rebuilding" in caplog.text


def test_corrupt_cached_engine_is_rebuilt_not_loaded(tmp_path, caplog):
    cache = EngineCache(tmp_path)
    path = cache.store(cache.path_for("model", KEY), KEY, PLAN)
    path.write_bytes(path.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING):
        assert cache.load(path, KEY) is None
    assert "truncated" in caplog.text
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_names_say_what_the_engine_is(tmp_path):
    path = EngineCache(tmp_path).path_for("erfnet-fed-512x1024-fp32-0123", KEY)
    assert path.name == f"erfnet-fed-512x1024-fp32-0123-fp16-{KEY.digest()}.engine"


@pytest.mark.parametrize(("version", "precision", "onnx", "strongly_typed", "flag"), [
    ("10.9.0.34", "fp32", "fp32", False, False),
    ("10.9.0.34", "fp16", "fp32", False, True),  # TensorRT 10: FP16 builder flag
    ("11.0.0", "fp32", "fp32", True, False),
    ("11.0.0", "fp16", "fp16", True, False),  # TensorRT 11: strongly typed FP16 export
])
def test_build_plans_follow_the_tensorrt_major_version(version, precision, onnx,
                                                       strongly_typed, flag):
    plan = build_plan(version, precision)
    assert (plan.onnx_precision, plan.strongly_typed, plan.fp16_flag) == (
        onnx, strongly_typed, flag)


def test_build_plan_rejects_old_tensorrt_and_unknown_precisions():
    with pytest.raises(RuntimeBackendError, match="too old"):
        build_plan("8.6.1", "fp16")
    with pytest.raises(ConfigError, match="fp32, fp16"):
        build_plan("10.9.0", "int8")


def test_the_cache_is_flowenedet_cache_else_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "mine"))
    assert default_cache_dir() == cache_dir() == cache_dir("") == tmp_path / "mine"
    assert cache_dir(tmp_path / "given") == tmp_path / "given"  # --engines / artifacts_dir
    monkeypatch.delenv(CACHE_VARIABLE)
    assert default_cache_dir() == Path.home() / ".cache" / "flowenedet" / "engines"
