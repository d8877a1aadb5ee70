"""The cache of exported ONNX graphs and TensorRT engines, and its self-describing engine files.

One directory serves every command and the node: `$FLOWENEDET_CACHE`, else
`~/.cache/flowenedet/engines` (`default_cache_dir`); `--engines DIR` and the node's
`artifacts_dir` override it. It holds

- `<backbone>-<head>-<H>x<W>-<precision>-<fingerprint>.onnx`: the exported graph of a model
  (`flowenedet export` writes the same graph to a path you choose), with `-tta1-0.5-0.25` after
  the head for test-time scales. The fingerprint hashes the backbone weights, the FED checkpoint
  files, the input size, the head, the precision and the test-time scales, so a changed
  checkpoint is re-exported instead of reusing a stale file.
- `<onnx stem>-<precision>-<key>.engine`: a TensorRT plan. A serialized plan only runs on the
  TensorRT version and GPU it was built for, and only means something for the ONNX it was built
  from. Each file is therefore

      MAGIC (8 bytes) | header length (4 bytes, little endian) | header JSON | plan bytes

  where the header holds the `EngineKey` (the ONNX file's sha256, the TensorRT version, the GPU
  name and compute capability, the precision, the largest input shape) and the plan's length and
  sha256. `EngineCache.load` returns the plan only when every key field matches the running
  system and the plan is intact; otherwise it logs why, and the caller rebuilds. None of this
  needs TensorRT.

Deleting the directory is always safe: everything in it is rebuilt when needed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

LOGGER = logging.getLogger(__name__)
MAGIC = b"FEDTRT\x00\x01"
_LENGTH = struct.Struct("<I")
CACHE_VARIABLE = "FLOWENEDET_CACHE"
DEFAULT_CACHE = "~/.cache/flowenedet/engines"


def default_cache_dir() -> Path:
    """`$FLOWENEDET_CACHE` when set (and not empty), else ~/.cache/flowenedet/engines."""
    return Path(os.environ.get(CACHE_VARIABLE) or DEFAULT_CACHE).expanduser()


def cache_dir(directory: str | Path | None = None) -> Path:
    """`directory` when given (an explicit `--engines` / `artifacts_dir`), else the default."""
    return Path(directory).expanduser() if directory else default_cache_dir()


@dataclass(frozen=True)
class EngineKey:
    """Everything a plan depends on."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.9"
    precision: str  # fp32 or fp16
    shape: tuple[int, int, int, int]  # largest input (N, H, W, 3) of the optimisation profile

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def encode_engine(key: EngineKey, plan: bytes) -> bytes:
    header = json.dumps({"key": asdict(key), "plan_bytes": len(plan),
                         "plan_sha256": hashlib.sha256(plan).hexdigest()}).encode()
    return MAGIC + _LENGTH.pack(len(header)) + header + plan


def decode_engine(data: bytes) -> tuple[dict, bytes]:
    """File bytes -> (header, plan); ValueError naming what is wrong."""
    if not data.startswith(MAGIC):
        raise ValueError("not a flowenedet engine file (bad magic)")
    offset = len(MAGIC) + _LENGTH.size
    if len(data) < offset:
        raise ValueError("truncated header")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    try:
        header = json.loads(data[offset:offset + length])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"unreadable header: {error}") from None
    plan = data[offset + length:]
    if len(plan) != header.get("plan_bytes"):
        raise ValueError(f"plan is {len(plan)} bytes, header says {header.get('plan_bytes')} "
                         "(truncated file?)")
    if hashlib.sha256(plan).hexdigest() != header.get("plan_sha256"):
        raise ValueError("plan checksum mismatch (corrupt file)")
    return header, plan


def key_mismatches(header: dict, key: EngineKey) -> list[str]:
    """Human-readable differences between a file's key and the expected one."""
    stored = header.get("key", {})
    expected = asdict(key)
    expected["shape"] = list(key.shape)
    return [f"{name}: file {stored.get(name)!r}, expected {value!r}"
            for name, value in expected.items() if stored.get(name) != value]


class EngineCache:
    """<stem>-<precision>-<key digest>.engine files in one directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, stem: str, key: EngineKey) -> Path:
        return self.directory / f"{stem}-{key.precision}-{key.digest()}.engine"

    def load(self, path: str | Path, key: EngineKey) -> bytes | None:
        """The plan in `path` if it is intact and built for `key`; None (with the reason
        logged) when it must be rebuilt."""
        path = Path(path)
        if not path.is_file():
            LOGGER.info("no engine at %s: building one", path)
            return None
        try:
            header, plan = decode_engine(path.read_bytes())
        except ValueError as error:
            LOGGER.warning("engine %s is unusable (%s): rebuilding", path, error)
            return None
        mismatches = key_mismatches(header, key)
        if mismatches:
            LOGGER.warning("engine %s was built for another setup (%s): rebuilding", path,
                           "; ".join(mismatches))
            return None
        return plan

    def store(self, path: str | Path, key: EngineKey, plan: bytes) -> Path:
        """Write atomically: a crash mid-write never leaves a half file under the final name."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(encode_engine(key, plan))
        temporary.replace(path)
        LOGGER.info("engine cached at %s (%.1f MB)", path, path.stat().st_size / 1e6)
        return path
