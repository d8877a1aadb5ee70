"""A corpus of bags written by other tools than this project, each holding the same camera frames
(all three, or what is left of them) as a plain bag written by the project's own writer:
rosbags' rosbag2 writer at metadata versions 8 and 9 (sqlite3 and MCAP; zstd per file, per message
and per MCAP chunk), the `mcap` and `mcap-ros2-support` writers (lz4 and zstd chunks, zstd per
message as rosbag2's `compression_mode: message` writes it), split bags with a part removed,
folders without metadata.yaml, sqlite3 in WAL mode, ROS 1 bags with bz2 and lz4 chunks and
big-endian flags on 8-bit images, and depth recorded beside colour.

`python test/bag_corpus.py OUT` writes the corpus to OUT (to try `flowenedet bag-info` on it).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import lz4.frame
import numpy as np
import yaml
import zstandard
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter
from mcap_ros2.writer import Writer as McapRos2Writer
from rosbags.rosbag1 import Writer as Rosbag1Writer
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, get_typestore

from flowenedet_ros.bags.records import IMAGE, TYPESTORE, camera_record, header, serialize
from flowenedet_ros.bags.writer import BagWriter

TOPIC = "/camera/image_raw"
DEPTH_TOPIC = "/camera/depth/image_raw"
FRAMES = [np.random.default_rng(20 + i).integers(0, 256, (48, 96, 3), dtype=np.uint8)
          for i in range(3)]
STAMPS = [10**9 * (index + 1) for index in range(len(FRAMES))]
ALL = (0, 1, 2)
ROS1_STORE = get_typestore(Stores.ROS1_NOETIC)


@dataclass(frozen=True)
class CorpusBag:
    name: str
    writer: str
    storage: str
    compression: str
    layout: str
    write: Callable[[Path], Path]  # writes the bag at a path; returns what to replay
    frames: tuple[int, ...] = ALL  # the FRAMES it still holds
    missing: str = ""  # a split part removed


def image(index: int, encoding: str = "rgb8"):
    """FRAMES[index] as a rosbags sensor_msgs/Image stamped STAMPS[index]."""
    return camera_record(FRAMES[index], encoding, STAMPS[index], "camera")


def plain_bag(path: Path) -> Path:
    """The frames as the project's own writer (make-bag's) writes them: the reference."""
    with BagWriter(path) as writer:
        for index in ALL:
            writer.write(TOPIC, STAMPS[index], image(index))
    return path


def rosbags_bag(path: Path, version: int, storage: StoragePlugin,
                mode: CompressionMode = CompressionMode.NONE, frames: tuple[int, ...] = ALL,
                type_name: str = IMAGE, depth: bool = False) -> Path:
    """rosbags' rosbag2 writer; `type_name` may be ROS 1 style (`sensor_msgs/Image`), as some
    converters write it; `depth` adds a 16UC1 depth topic beside the camera."""
    writer = Writer(path, version=version, storage_plugin=storage)
    writer.set_compression(mode, CompressionFormat.ZSTD)
    writer.open()
    msgdef = TYPESTORE.generate_msgdef(IMAGE, ros_version=2)[0]
    camera = writer.add_connection(TOPIC, type_name, msgdef=msgdef,
                                   rihs01=TYPESTORE.hash_rihs01(IMAGE))
    depth_connection = writer.add_connection(DEPTH_TOPIC, IMAGE, typestore=TYPESTORE) \
        if depth else None
    for index in frames:
        writer.write(camera, STAMPS[index], serialize(image(index)))
        if depth_connection is not None:
            millimetres = (FRAMES[index][:, :, 0].astype("<u2") * 20).tobytes()
            writer.write(depth_connection, STAMPS[index], serialize(TYPESTORE.types[IMAGE](
                header=header(STAMPS[index], "depth"), height=48, width=96, encoding="16UC1",
                is_bigendian=0, step=192, data=np.frombuffer(millimetres, np.uint8))))
    writer.close()
    return path


def split_bag(path: Path, missing: int | None, mode: CompressionMode) -> Path:
    """One part per frame, as `ros2 bag record --max-bag-duration` splits: each part written by
    rosbags, metadata.yaml the union of the parts' own; part `missing` then removed."""
    path.mkdir()
    infos = []
    with TemporaryDirectory() as scratch:
        for index in ALL:
            part = rosbags_bag(Path(scratch) / f"p{index}", 9, StoragePlugin.MCAP, mode,
                               (index,), "sensor_msgs/Image")
            info = yaml.safe_load((part / "metadata.yaml").read_text())
            info = info["rosbag2_bagfile_information"]
            name = f"{path.name}_{index}.mcap"
            shutil.move(next(part.glob("*.mcap")), path / name)
            info["files"][0]["path"] = name
            infos.append(info)
    merged = dict(infos[0])
    merged["relative_file_paths"] = [i["files"][0]["path"] for i in infos]
    merged["files"] = [i["files"][0] for i in infos]
    merged["message_count"] = sum(i["message_count"] for i in infos)
    merged["topics_with_message_count"][0]["message_count"] = len(infos)
    last = infos[-1]["starting_time"]["nanoseconds_since_epoch"]
    merged["duration"] = {"nanoseconds": last - STAMPS[0] + 1}
    (path / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": merged}))
    if missing is not None:
        (path / f"{path.name}_{missing}.mcap").unlink()
    return path


def folder_of_parts(path: Path, storage: StoragePlugin, parts: tuple[tuple[int, ...], ...],
                    type_name: str = IMAGE, wal: bool = False) -> Path:
    """rosbags bags moved into one folder without their metadata.yaml (`wal`: sqlite3 switched
    to write-ahead logging, as some recorders leave it)."""
    path.mkdir()
    with TemporaryDirectory() as scratch:
        for index, frames in enumerate(parts):
            part = rosbags_bag(Path(scratch) / f"p{index}", 8, storage, frames=frames,
                               type_name=type_name)
            storage_file = next(p for p in part.iterdir() if p.name != "metadata.yaml")
            shutil.move(storage_file, path / f"{path.name}_{index}{storage_file.suffix}")
    if wal:
        for database in path.glob("*.db3"):
            with closing(sqlite3.connect(database)) as connection:
                assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    return path


def mcap_ros2_file(path: Path, compression: CompressionType, chunk_size: int = 1 << 20) -> Path:
    """mcap-ros2-support's writer, which serializes the messages itself: one .mcap file."""
    with path.open("wb") as stream:
        writer = McapRos2Writer(stream, chunk_size=chunk_size, compression=compression)
        schema = writer.register_msgdef(IMAGE, TYPESTORE.generate_msgdef(IMAGE, ros_version=2)[0])
        for index in ALL:
            stamp = STAMPS[index]
            writer.write_message(TOPIC, schema, {
                "header": {"stamp": {"sec": stamp // 10**9, "nanosec": stamp % 10**9},
                           "frame_id": "camera"},
                "height": 48, "width": 96, "encoding": "rgb8", "is_bigendian": 0, "step": 288,
                "data": FRAMES[index].tobytes()}, log_time=stamp)
        writer.finish()
    return path


def mcap_message_compressed_part(path: Path, codec: str) -> Path:
    """A split part as rosbag2 writes with `compression_mode: message`, alone in its folder
    (its metadata.yaml lost): each message's CDR one zstd (or lz4) frame, chunks uncompressed."""
    path.mkdir()
    compress = zstandard.ZstdCompressor().compress if codec == "zstd" else lz4.frame.compress
    with (path / f"{path.name}_3.mcap").open("wb") as stream:
        writer = McapWriter(stream, compression=CompressionType.NONE)
        writer.start(profile="ros2", library="rosbag2")
        schema = writer.register_schema(IMAGE, "ros2msg",
                                        TYPESTORE.generate_msgdef(IMAGE, ros_version=2)[0].encode())
        channel = writer.register_channel(TOPIC, "cdr", schema)
        for index in ALL:
            writer.add_message(channel, STAMPS[index], compress(serialize(image(index))),
                               STAMPS[index])
        writer.finish()
    return path


def ros1_bag(path: Path, compression: Rosbag1Writer.CompressionFormat, encoding: str) -> Path:
    """rosbags' ROS 1 writer, 8-bit images flagged big-endian (the flag means nothing there)."""
    writer = Rosbag1Writer(path)
    writer.set_compression(compression)
    writer.open()
    connection = writer.add_connection(TOPIC, IMAGE, typestore=ROS1_STORE)
    types = ROS1_STORE.types
    for index in ALL:
        stamp, frame = STAMPS[index], FRAMES[index]
        message = types[IMAGE](
            header=types["std_msgs/msg/Header"](seq=index, stamp=types[
                "builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9),
                frame_id="camera"),
            height=48, width=96, encoding=encoding, is_bigendian=1, step=288,
            data=(frame if encoding == "rgb8" else frame[:, :, ::-1]).reshape(-1).copy())
        writer.write(connection, stamp, ROS1_STORE.serialize_ros1(message, IMAGE))
    writer.close()
    return path


MCAP, SQLITE3 = StoragePlugin.MCAP, StoragePlugin.SQLITE3
NONE, FILE, MESSAGE, STORAGE = (CompressionMode.NONE, CompressionMode.FILE,
                                CompressionMode.MESSAGE, CompressionMode.STORAGE)
CORPUS = (
    CorpusBag("rosbags-v8-sqlite3", "rosbags (metadata v8)", "sqlite3", "none", "folder",
              lambda p: rosbags_bag(p, 8, SQLITE3)),
    CorpusBag("rosbags-v9-mcap-file-zstd", "rosbags (metadata v9)", "mcap", "zstd per file",
              "folder", lambda p: rosbags_bag(p, 9, MCAP, FILE)),
    CorpusBag("rosbags-v9-sqlite3-message-zstd", "rosbags (metadata v9)", "sqlite3",
              "zstd per message", "folder", lambda p: rosbags_bag(p, 9, SQLITE3, MESSAGE)),
    CorpusBag("rosbags-v8-mcap-chunk-zstd", "rosbags (metadata v8)", "mcap", "zstd chunks",
              "folder", lambda p: rosbags_bag(p, 8, MCAP, STORAGE)),
    CorpusBag("mcap-ros2-lz4.mcap", "mcap-ros2-support", "mcap", "lz4 chunks", "one .mcap file",
              lambda p: mcap_ros2_file(p, CompressionType.LZ4)),
    CorpusBag("mcap-ros2-zstd.mcap", "mcap-ros2-support", "mcap", "zstd chunks",
              "one .mcap file", lambda p: mcap_ros2_file(p, CompressionType.ZSTD)),
    CorpusBag("mcap-message-zstd-part", "mcap", "mcap", "zstd per message (undeclared)",
              "one split part, no metadata.yaml",
              lambda p: mcap_message_compressed_part(p, "zstd")),
    CorpusBag("mcap-message-lz4-part", "mcap", "mcap", "lz4 per message (undeclared)",
              "one split part, no metadata.yaml",
              lambda p: mcap_message_compressed_part(p, "lz4")),
    CorpusBag("split-message-zstd", "rosbags (metadata v9)", "mcap", "zstd per message",
              "3 split parts, ROS 1 type names", lambda p: split_bag(p, None, MESSAGE)),
    CorpusBag("split-message-zstd-part-missing", "rosbags (metadata v9)", "mcap",
              "zstd per message", "3 split parts, the 2nd removed, ROS 1 type names",
              lambda p: split_bag(p, 1, MESSAGE), (0, 2), "split-message-zstd-part-missing_1"),
    CorpusBag("db3-wal-no-metadata", "rosbags (metadata v8) + sqlite3", "sqlite3 (WAL mode)",
              "none", "folder of one .db3, no metadata.yaml, ROS 1 type names",
              lambda p: folder_of_parts(p, SQLITE3, (ALL,), "sensor_msgs/Image", wal=True)),
    CorpusBag("mcap-parts-no-metadata", "rosbags (metadata v8)", "mcap", "none",
              "folder of 2 .mcap parts, no metadata.yaml",
              lambda p: folder_of_parts(p, MCAP, ((0, 1), (2,)))),
    CorpusBag("ros1-bz2.bag", "rosbags (ROS 1)", "rosbag1", "bz2 chunks",
              "one .bag, rgb8 flagged big-endian",
              lambda p: ros1_bag(p, Rosbag1Writer.CompressionFormat.BZ2, "rgb8")),
    CorpusBag("ros1-lz4.bag", "rosbags (ROS 1)", "rosbag1", "lz4 chunks",
              "one .bag, bgr8 flagged big-endian",
              lambda p: ros1_bag(p, Rosbag1Writer.CompressionFormat.LZ4, "bgr8")),
    CorpusBag("colour-and-depth", "rosbags (metadata v9)", "mcap", "none",
              "folder, 16UC1 depth beside colour",
              lambda p: rosbags_bag(p, 9, MCAP, depth=True)),
)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    plain_bag(out / "plain")
    for bag in CORPUS:
        bag.write(out / bag.name)
    print("\n".join(str(out / bag.name) for bag in CORPUS))
