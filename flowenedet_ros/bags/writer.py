"""Write a rosbag2 (mcap by default, sqlite3 on request; optionally zstd-compressed per file or per
message, as `ros2 bag record --compression-mode`) topic by topic, closing it properly even when the
run around it fails, so nothing already written is lost."""

from __future__ import annotations

from pathlib import Path

from rosbags.rosbag2 import Writer, WriterError
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

from flowenedet_core.errors import DataError

from .records import TYPESTORE, serialize

STORAGE = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
COMPRESSION = {"none": CompressionMode.NONE, "file": CompressionMode.FILE,
               "message": CompressionMode.MESSAGE}  # zstd


class BagWriter:
    """`write(topic, timestamp_ns, message)`; connections are added on a topic's first message.
    `custom` (and what `set_custom` adds before closing) goes into metadata.yaml's custom_data."""

    def __init__(self, path: str | Path, storage: str = "mcap",
                 custom: dict[str, str] | None = None, compression: str = "none") -> None:
        self.path = Path(path)
        if storage not in STORAGE:
            raise DataError(f"storage must be one of {', '.join(STORAGE)}, got {storage!r}")
        if compression not in COMPRESSION:
            raise DataError(f"compression must be one of {', '.join(COMPRESSION)}, got "
                            f"{compression!r}")
        if self.path.exists():
            raise DataError(f"{self.path} exists; rosbag2 writes a new folder (remove it or "
                            "choose another path)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST,
                              storage_plugin=STORAGE[storage])
        self._writer.set_compression(COMPRESSION[compression], CompressionFormat.ZSTD)
        self.set_custom(custom or {})
        try:
            self._writer.open()
        except WriterError as error:
            raise DataError(f"cannot write a bag at {self.path}: {error}") from None
        self._connections: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def write(self, topic: str, timestamp: int, message) -> None:
        """A rosbags message."""
        self.write_raw(topic, message.__msgtype__, timestamp, serialize(message))

    def write_raw(self, topic: str, msgtype: str, timestamp: int, data: bytes) -> None:
        """An already CDR-serialized message (from another bag or rclpy's serializer)."""
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            self._connections[topic] = connection
        self._writer.write(connection, timestamp, data)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def set_custom(self, custom: dict[str, str]) -> None:
        """More custom_data, known only once the messages are written."""
        for key, value in custom.items():
            self._writer.set_custom_data(key, value)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *_) -> None:
        self.close()
