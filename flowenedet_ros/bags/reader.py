"""Read a bag as it is found, message by message: a rosbag2 folder (split parts, some of them
missing, or no metadata.yaml at all), one .mcap / .db3 file, or a ROS 1 .bag; compressed per file,
per message (declared or not) or per MCAP chunk; and what can be read of a damaged one.

`rosbags` reads intact storage files, part by part. ROS 1 messages are converted to the ROS 2
types (CDR) as they are read, and ROS 1 style type names (`sensor_msgs/Image`) become
`sensor_msgs/msg/Image`, so everything after the reader sees one kind of bag. A part rosbags
cannot open (a recorder killed before it wrote the MCAP footer, a truncated sqlite3 file) is
scanned record by record instead (`scan`). Every problem (a missing part, a file cut short, a
message that cannot be decoded) is kept in `problems`, one line each, and reading goes on with the
next readable message. Nothing is ever written beside the bag.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import NamedTuple

from rosbags.convert.converter import migrate_message
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError

from flowenedet_core.errors import DataError

from .bag_files import (
    BagFiles,
    decompress_message,
    decompressed_copy,
    file_codec,
    find_bag_files,
    message_codec,
)
from .records import TYPESTORE, deserialize
from .scan import mcap_topics, scan_mcap, scan_sqlite3, sqlite3_topics

LOGGER = logging.getLogger(__name__)
ROS1_MAGIC = b"#ROSBAG V2.0"


def ros2_type_name(name: str) -> str:
    """`sensor_msgs/Image` (ROS 1 style, written by some converters) -> `sensor_msgs/msg/Image`."""
    parts = name.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else name


@dataclass
class BagMessage:
    topic: str
    timestamp: int  # record time, ns
    message: object  # rosbags dataclass of the topic's type; None when it cannot be decoded
    error: str = ""  # why it cannot be decoded


class StoredMessage(NamedTuple):
    topic: str
    timestamp: int  # record time, ns
    msgtype: str  # ROS 2 name
    data: bytes | memoryview  # CDR (decompressed, converted from ROS 1)
    error: str = ""  # why `data` is not this type's CDR (it could not be decompressed)


@dataclass
class BagContents:
    """What a bag holds: topic -> type, message counts where known, custom metadata."""

    topics: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    time_range: tuple[int, int] | None = None  # first and last record time, ns, where known


@dataclass
class _Part:
    path: Path  # as found
    reader: Reader | AnyReader | None  # None: scanned record by record
    readable: Path  # what is read (a decompressed copy of a file-compressed part)
    topics: dict[str, str] = field(default_factory=dict)  # scanned parts: topic -> stored type


class BagSource:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"no bag at {self.path}")
        self.problems: list[str] = []
        self._migrations: dict[str, object] = {}  # rosbags' cache of ROS 1 -> 2 conversions
        self._temporary: TemporaryDirectory | None = None
        self.message_codecs: set[str] = set()  # per-message compressions met while reading
        self.ros1 = _is_ros1(self.path)
        if self.ros1:
            self.files = BagFiles([self.path], storage="rosbag1")
            self._parts = [_Part(self.path, _open_ros1(self.path), self.path)]
        else:
            self.files = find_bag_files(self.path)
            for problem in self.files.problems:
                self._problem(problem)
            self._parts = [part for path in self.files.parts
                           if (part := self._open_part(path)) is not None]
        self.contents = BagContents(custom=dict(self.files.custom))
        self._collect_contents()
        if not self.contents.topics:
            self.close()
            raise DataError(f"{self.path}: no readable topics"
                            + (f" ({self.problems[-1]})" if self.problems else ""))

    def close(self) -> None:
        for part in self._parts:
            if part.reader is not None:
                part.reader.close()
        self._parts = []
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            LOGGER.warning(text)
            self.problems.append(text)

    def _open_part(self, path: Path) -> _Part | None:
        """A part read by rosbags, or scanned; None (and a problem) when it cannot be
        decompressed."""
        readable = path
        codec = file_codec(path, self.files)
        if codec is not None:
            if self._temporary is None:
                self._temporary = TemporaryDirectory(prefix="flowenedet-bag-")
            try:
                readable = decompressed_copy(path, codec, Path(self._temporary.name))
            except Exception as error:  # the codecs raise their own types on damaged data
                self._problem(f"{path}: {codec}-compressed part cannot be decompressed "
                              f"({type(error).__name__}: {error}); skipped")
                return None
        wal = path.with_name(path.name + "-wal")
        if wal.is_file() and wal.stat().st_size:
            self._problem(f"{wal}: messages still in the sqlite3 write-ahead log are not read "
                          "(the bag is opened read-only and immutable)")
        try:
            reader = Reader(readable)
            reader.open()
        except (ReaderError, FileNotFoundError, sqlite3.Error, ValueError, KeyError) as error:
            self._problem(f"{path}: rosbags cannot open it ({error}); scanning it for readable "
                          "messages")
            scan = mcap_topics if readable.suffix == ".mcap" else sqlite3_topics
            return _Part(path, None, readable, scan(readable, self._problem))
        return _Part(path, reader, readable)

    def _collect_contents(self) -> None:
        topics, counts = self.contents.topics, self.contents.counts
        starts, ends = [], []
        for part in self._parts:
            if part.reader is None:
                for topic, msgtype in part.topics.items():
                    topics[topic] = ros2_type_name(msgtype)
                continue
            for connection in part.reader.connections:
                topics[connection.topic] = ros2_type_name(connection.msgtype)
                counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
            if part.reader.message_count:
                starts.append(part.reader.start_time)
                ends.append(part.reader.end_time - 1)  # rosbags: one past the last
        scanned = any(part.reader is None for part in self._parts)
        if starts and not scanned:
            self.contents.time_range = (min(starts), max(ends))
        if scanned:  # counts only from the parts rosbags read would understate
            for topic in set(counts) & {t for p in self._parts if p.reader is None
                                        for t in p.topics}:
                del counts[topic]

    def messages(self, topics: set[str] | None = None,
                 keep_undecodable: bool = False) -> Iterator[BagMessage]:
        """Messages on `topics` (default: all) in record order, each deserialized. Undecodable
        ones are skipped and counted, or with `keep_undecodable` yielded with `message` None and
        the error (the caller reports them)."""
        undecodable: dict[str, int] = {}
        for stored in self.raw_messages(topics):
            item = decode(stored)
            if item.message is not None or keep_undecodable:
                yield item
                continue
            if stored.topic not in undecodable:
                self._problem(f"{stored.topic}: message at {stored.timestamp} ns {item.error}; "
                              "skipped")
            undecodable[stored.topic] = undecodable.get(stored.topic, 0) + 1
        for topic, count in undecodable.items():
            if count > 1:
                self._problem(f"{topic}: {count} messages in all could not be decoded")

    def first_messages(self, topics: set[str]) -> dict[str, object]:
        """The first decodable message of each of `topics` (reading stops once all are seen)."""
        found: dict[str, object] = {}
        if not topics:
            return found
        for item in self.messages(topics, keep_undecodable=True):
            if item.message is not None and item.topic not in found:
                found[item.topic] = item.message
                if len(found) == len(topics):
                    break
        return found

    def raw_messages(self, topics: set[str] | None = None) -> Iterator[StoredMessage]:
        """Each message on `topics` (default: all) in record order as CDR bytes, part by part;
        at the end, what metadata.yaml promised is compared with what was read."""
        read: dict[str, int] = {}
        for part in self._parts:
            for topic, timestamp, msgtype, data in self._stored(part, topics):
                read[topic] = read.get(topic, 0) + 1
                msgtype = ros2_type_name(msgtype)
                if self.ros1:
                    try:
                        data = self._ros1_to_cdr(data, msgtype)
                    except (KeyError, SerdeError, ValueError, TypeError) as error:
                        self._problem(f"{topic}: ROS 1 {msgtype} has no ROS 2 counterpart here "
                                      f"({type(error).__name__}: {error}); skipped")
                        continue
                    yield StoredMessage(topic, timestamp, msgtype, data)
                    continue
                codec = message_codec(data)
                if codec is not None:
                    self.message_codecs.add(codec)
                try:
                    yield StoredMessage(topic, timestamp, msgtype, decompress_message(data))
                except ValueError as error:
                    yield StoredMessage(topic, timestamp, msgtype, data, str(error))
        self._compare_promised(read, topics)

    def _stored(self, part: _Part, topics: set[str] | None) -> Iterator[tuple[str, int, str,
                                                                           bytes]]:
        """(topic, record time, type name as stored, bytes as stored) of one part."""
        if part.reader is None:
            scan = scan_mcap if part.readable.suffix == ".mcap" else scan_sqlite3
            yield from scan(part.readable, topics, self._problem)
            return
        connections = [c for c in part.reader.connections if topics is None or c.topic in topics]
        if not connections:
            return
        count = 0
        try:
            for connection, timestamp, data in part.reader.messages(connections=connections):
                count += 1
                yield connection.topic, timestamp, connection.msgtype, data
        except (ReaderError, AnyReaderError, sqlite3.Error, OSError, ValueError) as error:
            self._problem(f"{part.path}: unreadable after {count} messages ({error}); "
                          "the rest is skipped")

    def _compare_promised(self, read: dict[str, int], topics: set[str] | None) -> None:
        for topic, promised in self.files.promised.items():
            if (topics is None or topic in topics) and read.get(topic, 0) < promised:
                self._problem(f"{topic}: metadata.yaml promised {promised} messages, "
                              f"{read.get(topic, 0)} were read")

    def _ros1_to_cdr(self, data: bytes, msgtype: str) -> bytes:
        """A ROS 1 message -> CDR of the ROS 2 type of that name (Header loses `seq`)."""
        store = self._parts[0].reader.typestore
        message = migrate_message(store, TYPESTORE, msgtype, msgtype, self._migrations,
                                  store.deserialize_ros1(data, msgtype))
        return bytes(TYPESTORE.serialize_cdr(message, msgtype))


def decode(stored: StoredMessage) -> BagMessage:
    """A stored message deserialized, or with `message` None and why it cannot be."""
    if stored.error:
        return BagMessage(stored.topic, stored.timestamp, None, stored.error)
    try:
        return BagMessage(stored.topic, stored.timestamp,
                          deserialize(stored.data, stored.msgtype))
    except Exception as error:  # rosbags raises plain errors on bad CDR
        return BagMessage(stored.topic, stored.timestamp, None,
                          f"cannot be decoded as {stored.msgtype} "
                          f"({type(error).__name__}: {error})")


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
