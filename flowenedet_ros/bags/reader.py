"""Read a rosbag2 (a folder with metadata.yaml, or one .mcap / .db3 file; file, message or MCAP
chunk zstd compression) or a ROS 1 .bag message by message, and keep what can be read of a damaged
rosbag2.

`rosbags` reads intact bags. ROS 1 messages are converted to the ROS 2 types (CDR) as they are
read, and ROS 1 style type names (`sensor_msgs/Image`) become `sensor_msgs/msg/Image`, so
everything after the reader sees one kind of bag. When rosbags cannot open a rosbag2 (a recorder
killed before it wrote the MCAP footer or metadata.yaml, a truncated sqlite3 file) the storage
files are scanned record by record instead: MCAP by its record framing, sqlite3 row by row. Every
problem (a file cut short, a row or message that cannot be decoded) is kept in `problems`, one
line each, and reading goes on with the next readable message.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.convert.converter import migrate_message
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError

from flowenedet_core.errors import DataError

from .records import TYPESTORE, deserialize

LOGGER = logging.getLogger(__name__)
STORAGE_SUFFIXES = (".mcap", ".db3")
ROS1_MAGIC = b"#ROSBAG V2.0"


def ros2_type_name(name: str) -> str:
    """`sensor_msgs/Image` (ROS 1 style, written by some converters) -> `sensor_msgs/msg/Image`."""
    parts = name.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else name


@dataclass
class BagMessage:
    topic: str
    timestamp: int  # record time, ns
    message: object  # rosbags dataclass of the topic's type


@dataclass
class BagContents:
    """What a bag holds: topic -> type, message counts where known, custom metadata."""

    topics: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)


class BagSource:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"no bag at {self.path}")
        self.problems: list[str] = []
        self._migrations: dict[str, object] = {}  # rosbags' cache of ROS 1 -> 2 conversions
        self.contents = BagContents(custom=self._custom_data())
        self._reader: Reader | AnyReader | None = None
        self.ros1 = _is_ros1(self.path)
        if self.ros1:
            self._reader = _open_ros1(self.path)
        else:
            try:
                reader = Reader(self.path)
                reader.open()
            except (ReaderError, FileNotFoundError, sqlite3.Error, ValueError, KeyError) as error:
                self._problem(f"{self.path}: rosbags cannot open it ({error}); scanning its "
                              "storage files for readable messages")
                self._scan_topics()
            else:
                self._reader = reader
        for connection in self._reader.connections if self._reader else ():
            self.contents.topics[connection.topic] = ros2_type_name(connection.msgtype)
            self.contents.counts[connection.topic] = (
                self.contents.counts.get(connection.topic, 0) + connection.msgcount)
        if not self.contents.topics:
            raise DataError(f"{self.path}: no readable topics"
                            + (f" ({self.problems[-1]})" if self.problems else ""))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _problem(self, text: str) -> None:
        LOGGER.warning(text)
        self.problems.append(text)

    def _custom_data(self) -> dict[str, str]:
        metadata = self.path / "metadata.yaml"
        if not metadata.is_file():
            return {}
        try:
            info = yaml.safe_load(metadata.read_text())["rosbag2_bagfile_information"]
        except (yaml.YAMLError, KeyError, TypeError):
            return {}
        return dict(info.get("custom_data") or {})

    def storage_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return sorted(p for p in self.path.iterdir() if p.suffix in STORAGE_SUFFIXES)

    def messages(self, topics: set[str] | None = None) -> Iterator[BagMessage]:
        """Messages on `topics` (default: all) in record order, each deserialized; undecodable
        ones are skipped and counted."""
        undecodable: dict[str, int] = {}
        for topic, timestamp, msgtype, data in self.raw_messages(topics):
            try:
                message = deserialize(data, msgtype)
            except Exception as error:  # rosbags raises plain errors on bad CDR
                if topic not in undecodable:
                    self._problem(f"{topic}: message at {timestamp} ns cannot be decoded as "
                                  f"{msgtype} ({type(error).__name__}: {error}); skipped")
                undecodable[topic] = undecodable.get(topic, 0) + 1
                continue
            yield BagMessage(topic, timestamp, message)
        for topic, count in undecodable.items():
            if count > 1:
                self._problem(f"{topic}: {count} messages in all could not be decoded")

    def raw_messages(self, topics: set[str] | None = None
                     ) -> Iterator[tuple[str, int, str, bytes]]:
        """(topic, record time ns, type name, CDR bytes) in record order."""
        if self._reader is None:
            for path in self.storage_files():
                scan = _scan_mcap if path.suffix == ".mcap" else _scan_sqlite3
                yield from scan(path, topics, self._problem)
            return
        connections = [c for c in self._reader.connections if topics is None or c.topic in topics]
        count, unconvertible = 0, set()
        try:
            for connection, timestamp, data in self._reader.messages(connections=connections):
                count += 1
                msgtype = ros2_type_name(connection.msgtype)
                if self.ros1:
                    try:
                        data = self._ros1_to_cdr(data, msgtype)
                    except (KeyError, SerdeError, ValueError, TypeError) as error:
                        if connection.topic not in unconvertible:
                            unconvertible.add(connection.topic)
                            self._problem(f"{connection.topic}: ROS 1 {msgtype} has no ROS 2 "
                                          f"counterpart here ({type(error).__name__}: {error}); "
                                          "skipped")
                        continue
                yield connection.topic, timestamp, msgtype, data
        except (ReaderError, AnyReaderError, sqlite3.Error, OSError, ValueError) as error:
            self._problem(f"{self.path}: unreadable after {count} messages ({error}); "
                          "the rest is skipped")

    def _ros1_to_cdr(self, data: bytes, msgtype: str) -> bytes:
        """A ROS 1 message -> CDR of the ROS 2 type of that name (Header loses `seq`)."""
        store = self._reader.typestore
        message = migrate_message(store, TYPESTORE, msgtype, msgtype, self._migrations,
                                  store.deserialize_ros1(data, msgtype))
        return bytes(TYPESTORE.serialize_cdr(message, msgtype))

    def _scan_topics(self) -> None:
        """Topic names and types from the storage files themselves."""
        for path in self.storage_files():
            if path.suffix == ".mcap":
                for _message in _scan_mcap(path, set(), lambda _: None, self.contents.topics):
                    pass
            else:
                try:
                    with _connect(path) as connection:
                        for name, msgtype in connection.execute("SELECT name, type FROM topics"):
                            self.contents.topics[name] = msgtype
                except sqlite3.Error as error:
                    self._problem(f"{path}: no topic table ({error})")


def _is_ros1(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(len(ROS1_MAGIC)) == ROS1_MAGIC


def _open_ros1(path: Path) -> AnyReader:
    try:
        reader = AnyReader([path])
        reader.open()
    except (AnyReaderError, OSError) as error:
        raise DataError(f"{path}: not a readable ROS 1 bag ({error})") from None
    return reader


MCAP_MAGIC = b"\x89MCAP0\r\n"


def _scan_mcap(path: Path, topics: set[str] | None, problem,
               found: dict[str, str] | None = None) -> Iterator[tuple[str, int, str, bytes]]:
    """Record-by-record MCAP scan that reads on into a chunk cut short (rosbags writes
    uncompressed chunks) and stops where the file stops making sense."""
    data = path.read_bytes()
    if not data.startswith(MCAP_MAGIC):
        problem(f"{path}: not an MCAP file")
        return
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    count = 0

    def records(buffer: bytes, offset: int) -> Iterator[tuple[int, memoryview]]:
        view = memoryview(buffer)
        while offset + 9 <= len(buffer):
            opcode, length = struct.unpack_from("<BQ", buffer, offset)
            body = view[offset + 9: offset + 9 + length]
            offset += 9 + length
            if len(body) == length or opcode == 0x06:  # a cut chunk still holds whole records
                yield opcode, body
            if len(body) < length:
                return

    def string(body: memoryview, offset: int) -> tuple[str, int]:
        (size,) = struct.unpack_from("<I", body, offset)
        return bytes(body[offset + 4: offset + 4 + size]).decode(), offset + 4 + size

    def walk(buffer: bytes, offset: int) -> Iterator[tuple[str, int, str, bytes]]:
        nonlocal count
        for opcode, body in records(buffer, offset):
            try:
                if opcode == 0x03:  # Schema: id, name, encoding, data
                    (schema_id,) = struct.unpack_from("<H", body, 0)
                    schemas[schema_id] = string(body, 2)[0]
                elif opcode == 0x04:  # Channel: id, schema id, topic, encoding, metadata
                    channel_id, schema_id = struct.unpack_from("<HH", body, 0)
                    topic = string(body, 4)[0]
                    channels[channel_id] = (topic, schemas.get(schema_id, ""))
                    if found is not None:
                        found[topic] = channels[channel_id][1]
                elif opcode == 0x05:  # Message: channel, sequence, log time, publish time, data
                    channel_id, _, log_time, _ = struct.unpack_from("<HIQQ", body, 0)
                    if channel_id in channels:
                        count += 1
                        topic, msgtype = channels[channel_id]
                        if topics is None or topic in topics:
                            yield topic, log_time, msgtype, bytes(body[22:])
                elif opcode == 0x06:  # Chunk: times, size, crc, compression, records
                    compression, start = string(body, 28)
                    if compression:
                        problem(f"{path}: a {compression}-compressed chunk is skipped")
                        continue
                    yield from walk(bytes(body[start + 8:]), 0)
            except (struct.error, UnicodeDecodeError):
                return  # a record cut short: the end of what can be read

    yield from walk(data, len(MCAP_MAGIC))
    footer = data[-len(MCAP_MAGIC):] == MCAP_MAGIC and len(data) > 2 * len(MCAP_MAGIC)
    if not footer:
        problem(f"{path}: MCAP file ends early; {count} messages were readable")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _scan_sqlite3(path: Path, topics: set[str] | None,
                  problem) -> Iterator[tuple[str, int, str, bytes]]:
    """Row-by-row sqlite3 scan: a damaged row or page costs that row, not the rest."""
    try:
        connection = _connect(path)
        table = {row[0]: (row[1], row[2])
                 for row in connection.execute("SELECT id, name, type FROM topics")}
        last_id = connection.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
    except sqlite3.Error as error:
        problem(f"{path}: not a readable rosbag2 sqlite3 file ({error})")
        return
    lost = 0
    with connection:
        for row_id in range(1, last_id + 1):
            try:
                row = connection.execute("SELECT topic_id, timestamp, data FROM messages "
                                         "WHERE id = ?", (row_id,)).fetchone()
            except sqlite3.Error:
                lost += 1
                continue
            if row is None or row[0] not in table:
                continue
            topic, msgtype = table[row[0]]
            if topics is None or topic in topics:
                yield topic, row[1], msgtype, row[2]
    if lost:
        problem(f"{path}: {lost} damaged message rows skipped")
