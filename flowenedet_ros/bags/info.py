"""`flowenedet bag-info`: what `ros2 bag info` prints, for users of the pip install (no `ros2`
CLI): files, storage, compression, duration, topics with types and counts, and each image topic's
encoding and size (depth marked), read the way replay reads it (split parts missing, no
metadata.yaml, ROS 1 bags)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from ..image_conversion import depth_kind
from .bag_files import FILE_CODECS
from .reader import BagSource
from .records import CAMERA_TYPES
from .scan import MCAP_MAGIC

ROS1_HEADER = b"#ROSBAG V2.0\n"


@dataclass
class TopicInfo:
    topic: str
    msgtype: str
    count: int
    image: str = ""  # image topics: encoding (or CompressedImage format) and size
    promised: int | None = None  # what metadata.yaml says, where it says otherwise


@dataclass
class BagInfo:
    path: Path
    files: list[tuple[str, int]]  # storage files present: name, bytes
    missing: list[str]  # split parts metadata.yaml lists that are not there
    metadata: str  # where types and counts come from
    storage: str
    compression: str
    time_range: tuple[int, int] | None  # first and last record time, ns
    topics: list[TopicInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def bag_info(path: str | Path) -> BagInfo:
    """Reads counts and times from the storage's indexes where it has them, else from every
    record; the first message of each image topic for its encoding and size."""
    with BagSource(path) as source:
        counts, time_range = dict(source.contents.counts), source.contents.time_range
        topics = source.contents.topics
        if time_range is None or set(counts) != set(topics):
            counts, time_range = _count(source)
        images = [t for t, kind in topics.items() if kind in CAMERA_TYPES]
        first = source.first_messages(set(images)) if images else {}
        files = source.files
        info = BagInfo(Path(path), [(p.name, p.stat().st_size) for p in files.parts],
                       files.missing, _metadata(source), files.storage, _compression(source),
                       time_range, problems=source.problems)
        promised = files.promised
        info.topics = [TopicInfo(topic, msgtype, counts.get(topic, 0),
                                 describe_image(first[topic]) if topic in first else "",
                                 promised.get(topic) if promised.get(topic, counts.get(topic, 0))
                                 != counts.get(topic, 0) else None)
                       for topic, msgtype in sorted(topics.items())]
    return info


def _metadata(source: BagSource) -> str:
    if source.ros1:
        return "ROS 1 bag (its own connection and chunk records)"
    return "metadata.yaml" if source.files.metadata else \
        "none (types and counts from the storage files)"


def _count(source: BagSource) -> tuple[dict[str, int], tuple[int, int] | None]:
    counts: dict[str, int] = {}
    first, last = None, None
    for stored in source.raw_messages():
        counts[stored.topic] = counts.get(stored.topic, 0) + 1
        first = stored.timestamp if first is None else min(first, stored.timestamp)
        last = stored.timestamp if last is None else max(last, stored.timestamp)
    return counts, None if first is None else (first, last)


def describe_image(message) -> str:
    """`rgb8 640x480`, `'rgb8; png compressed bgr8' 96x48`, with `(depth: 16UC1)` for depth."""
    depth = depth_kind(message)
    suffix = f" (depth: {depth})" if depth else ""
    if not hasattr(message, "format"):
        return f"{message.encoding} {message.width}x{message.height}{suffix}"
    pixels = cv2.imdecode(np.frombuffer(bytes(message.data), np.uint8), cv2.IMREAD_UNCHANGED)
    size = "undecodable" if pixels is None else f"{pixels.shape[1]}x{pixels.shape[0]}"
    return f"{message.format.strip()!r} {size}{suffix}"


def _compression(source: BagSource) -> str:
    files, found = source.files, []
    if files.compression_mode:
        found.append(f"{files.compression_format or 'zstd'} per {files.compression_mode} "
                     "(metadata.yaml)")
    elif any(part.suffix in FILE_CODECS for part in files.parts):
        found.append(f"{FILE_CODECS[files.parts[0].suffix]} per file (file names)")
    if files.compression_mode != "message":
        found += [f"{codec} per message (found in the data)"
                  for codec in sorted(source.message_codecs)]
    chunks = set()
    for part in files.parts:
        chunks |= ros1_chunk_compressions(part) if source.ros1 else \
            mcap_chunk_compressions(part)
    found += [f"{codec} chunks" for codec in sorted(chunks - {"", "none"})]
    return ", ".join(found) or "none"


def mcap_chunk_compressions(path: Path) -> set[str]:
    """The compression of each chunk of an MCAP file ("" uncompressed), from its top-level
    records (chunk bodies are skipped, not read)."""
    found: set[str] = set()
    if path.suffix != ".mcap":
        return found
    with path.open("rb") as file:
        if file.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            return found
        while len(head := file.read(9)) == 9:
            opcode, length = struct.unpack("<BQ", head)
            if opcode == 0x06 and length >= 32:  # Chunk: times, size, crc, compression, ...
                body = file.read(32)
                (size,) = struct.unpack_from("<I", body, 28)
                found.add(file.read(size).decode(errors="replace"))
                file.seek(length - 32 - size, 1)
            elif opcode == 0x02:  # Footer
                break
            else:
                file.seek(length, 1)
    return found


def ros1_chunk_compressions(path: Path) -> set[str]:
    """The compression of each chunk of a ROS 1 bag (none, bz2, lz4), from its record headers."""
    found: set[str] = set()
    with path.open("rb") as file:
        if file.read(len(ROS1_HEADER)) != ROS1_HEADER:
            return found
        while len(size := file.read(4)) == 4:
            header = file.read(struct.unpack("<I", size)[0])
            fields, offset = {}, 0
            while offset + 4 <= len(header):
                (length,) = struct.unpack_from("<I", header, offset)
                name, _, value = header[offset + 4: offset + 4 + length].partition(b"=")
                fields[name] = value
                offset += 4 + length
            data_size = file.read(4)
            if len(data_size) < 4:
                break
            if fields.get(b"op") == b"\x05":  # Chunk
                found.add(fields.get(b"compression", b"").decode(errors="replace"))
            file.seek(struct.unpack("<I", data_size)[0], 1)
    return found


def format_info(info: BagInfo) -> str:
    """The text `flowenedet bag-info` prints, laid out as `ros2 bag info` does."""
    start, end = info.time_range or (None, None)
    lines = [("Files", ", ".join(f"{name} ({_size(size)})" for name, size in info.files)),
             ("Missing parts", ", ".join(info.missing) or "none"),
             ("Metadata", info.metadata),
             ("Bag size", _size(sum(size for _, size in info.files))),
             ("Storage id", info.storage),
             ("Compression", info.compression),
             ("Duration", "unknown" if start is None else f"{(end - start) / 1e9:.9f} s"),
             ("Start", _time(start)), ("End", _time(end)),
             ("Messages", str(sum(t.count for t in info.topics)))]
    text = [f"{name + ':':<19}{value}" for name, value in lines]
    for index, topic in enumerate(info.topics):
        text.append(f"{'Topic information:' if index == 0 else '':<19}Topic: {topic.topic} | "
                    f"Type: {topic.msgtype} | Count: {topic.count}"
                    + (f" (metadata.yaml: {topic.promised})" if topic.promised is not None else "")
                    + (f" | Image: {topic.image}" if topic.image else ""))
    text += [f"{'Problems:' if index == 0 else '':<19}{problem}"
             for index, problem in enumerate(info.problems)]
    return "\n".join(text)


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    return ""


def _time(stamp: int | None) -> str:
    if stamp is None:
        return "unknown"
    moment = datetime.fromtimestamp(stamp // 1_000_000_000, UTC)
    return (f"{moment:%b %d %Y %H:%M:%S}.{stamp % 1_000_000_000:09d} UTC "
            f"({stamp // 1_000_000_000}.{stamp % 1_000_000_000:09d})")
