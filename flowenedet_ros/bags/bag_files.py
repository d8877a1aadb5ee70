"""What a rosbag2 is made of, as found: metadata.yaml when there is one (its storage, compression,
split parts and promised message counts), the storage files that are really there, and the
compression of each message, declared or not.

Nothing here writes beside the bag: a file-compressed part is decompressed into a temporary
folder, and messages are decompressed in memory.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import lz4.frame
import yaml

try:
    from compression import zstd
except ImportError:  # Python < 3.14
    from backports import zstd

LOGGER = logging.getLogger(__name__)
STORAGE_SUFFIXES = (".mcap", ".db3")
FILE_CODECS = {".zstd": "zstd", ".lz4": "lz4"}  # a file-compressed part: bag_0.mcap.zstd
# Frame magics: a CDR message starts with its encapsulation header (00 00 or 00 01), never
# with these, so a compressed message is told from a plain one by its first four bytes.
MESSAGE_MAGICS = {b"\x28\xb5\x2f\xfd": "zstd", b"\x04\x22\x4d\x18": "lz4"}
DECOMPRESSORS = {"zstd": zstd.decompress, "lz4": lz4.frame.decompress}


@dataclass
class BagFiles:
    """A rosbag2 as found on disk."""

    parts: list[Path] = field(default_factory=list)  # storage files present, in order
    missing: list[str] = field(default_factory=list)  # parts metadata.yaml lists, not there
    metadata: bool = False  # metadata.yaml found and readable
    storage: str = ""  # mcap | sqlite3 (from metadata.yaml, else the files' suffixes)
    compression_format: str = ""  # zstd | lz4 | "" as metadata.yaml declares
    compression_mode: str = ""  # file | message | "" as metadata.yaml declares
    promised: dict[str, int] = field(default_factory=dict)  # topic -> metadata.yaml's count
    custom: dict[str, str] = field(default_factory=dict)  # metadata.yaml's custom_data
    problems: list[str] = field(default_factory=list)

    @property
    def message_codec(self) -> str | None:
        """The declared per-message compression, if any."""
        return (self.compression_format or "zstd") if self.compression_mode == "message" else None


def is_storage_file(path: Path) -> bool:
    """bag_0.mcap, bag_0.db3 and their file-compressed forms (bag_0.mcap.zstd)."""
    name = path.name.removesuffix(path.suffix) if path.suffix in FILE_CODECS else path.name
    return path.is_file() and PurePath(name).suffix in STORAGE_SUFFIXES


def find_bag_files(path: Path) -> BagFiles:
    """One storage file, or a folder with or without metadata.yaml (split parts found missing
    are named, not fatal)."""
    if path.is_file():
        return BagFiles([path], storage=_storage_of(path))
    found = sorted(p for p in path.iterdir() if is_storage_file(p))
    files = BagFiles()
    metadata = path / "metadata.yaml"
    if metadata.is_file():
        try:
            _read_metadata(yaml.safe_load(metadata.read_text())["rosbag2_bagfile_information"],
                           path, files)
        except (yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
            files.problems.append(f"{metadata}: unreadable ({type(error).__name__}: {error}); "
                                  "the storage files are read without it")
            files.parts, files.missing = [], []
            files.metadata = False
    elif found:
        LOGGER.info("%s: no metadata.yaml; reading the %d storage file(s) in the folder as the "
                    "bag", path, len(found))
    listed = set(files.parts)
    files.parts += [p for p in found if p not in listed]
    if files.metadata and len(files.parts) > len(listed):
        files.problems.append(f"{path}: {len(files.parts) - len(listed)} storage file(s) not "
                              "listed in metadata.yaml are read too")
    if files.missing:
        files.problems.append(f"{path}: {len(files.missing)} of "
                              f"{len(files.missing) + len(listed)} split parts listed in "
                              f"metadata.yaml are missing ({', '.join(files.missing)}); "
                              "reading the others")
    files.storage = files.storage or next((_storage_of(p) for p in files.parts), "")
    return files


def _read_metadata(info: dict, folder: Path, files: BagFiles) -> None:
    files.metadata = True
    files.storage = str(info.get("storage_identifier") or "")
    files.compression_format = str(info.get("compression_format") or "").lower()
    mode = str(info.get("compression_mode") or "").lower()
    files.compression_mode = "" if mode == "none" else mode
    if files.compression_mode and (files.compression_format or "zstd") not in DECOMPRESSORS:
        files.problems.append(f"{folder}: metadata.yaml declares {files.compression_format} "
                              f"compression, which is not read here (accepted: "
                              f"{', '.join(DECOMPRESSORS)})")
    files.custom = {str(k): str(v) for k, v in (info.get("custom_data") or {}).items()}
    for entry in info.get("topics_with_message_count") or ():
        topic = entry["topic_metadata"]["name"]
        files.promised[topic] = files.promised.get(topic, 0) + int(entry["message_count"])
    for relative in info.get("relative_file_paths") or ():
        part = folder / PurePath(relative).name  # older versions prefix the bag's folder
        if part.is_file():
            files.parts.append(part)
        else:
            files.missing.append(part.name)


def _storage_of(path: Path) -> str:
    name = path.name.removesuffix(path.suffix) if path.suffix in FILE_CODECS else path.name
    return {".mcap": "mcap", ".db3": "sqlite3"}.get(PurePath(name).suffix, "")


def file_codec(path: Path, files: BagFiles) -> str | None:
    """The compression of a whole storage file: its suffix, or what metadata.yaml declares."""
    if path.suffix in FILE_CODECS:
        return FILE_CODECS[path.suffix]
    return (files.compression_format or "zstd") if files.compression_mode == "file" else None


def decompressed_copy(path: Path, codec: str, folder: Path) -> Path:
    """A file-compressed part decompressed into `folder` (never beside the bag)."""
    target = folder / (path.name.removesuffix(path.suffix) if path.suffix in FILE_CODECS
                       else path.name)
    opener = zstd.open if codec == "zstd" else lz4.frame.open
    with opener(path, "rb") as source, target.open("wb") as output:
        shutil.copyfileobj(source, output)
    return target


def message_codec(data: bytes | memoryview) -> str | None:
    """zstd or lz4 when a stored message starts with that codec's frame magic."""
    return MESSAGE_MAGICS.get(bytes(data[:4]))


def decompress_message(data: bytes | memoryview) -> bytes | memoryview:
    """A message as stored -> its CDR bytes: decompressed when it starts with a zstd or lz4 frame
    magic (declared or not: a part read without its metadata.yaml still decompresses), else
    unchanged. Raises ValueError when it does not decompress."""
    codec = message_codec(data)
    if codec is None:
        return data
    try:
        return DECOMPRESSORS[codec](bytes(data))
    except (RuntimeError, ValueError, zstd.ZstdError) as error:
        raise ValueError(f"{codec}-compressed message does not decompress ({error})") from None
