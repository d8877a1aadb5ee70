"""Storage files read record by record, for what rosbags cannot open (a recorder killed before it
wrote the MCAP footer, a truncated or damaged sqlite3 file): MCAP by its record framing (chunks
uncompressed, lz4 or zstd), sqlite3 row by row. Both read only: sqlite3 is opened `mode=ro` and
`immutable=1`, so no `-wal` / `-shm` file is ever created beside the bag.

Each scan yields (topic, record time ns, type name as stored, message bytes as stored) and
reports problems through a callback, one line each.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from .bag_files import DECOMPRESSORS

MCAP_MAGIC = b"\x89MCAP0\r\n"
Problem = Callable[[str], None]
RawMessage = tuple[str, int, str, bytes]


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A sqlite3 connection that can neither write the file nor create a journal beside it."""
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def sqlite3_topics(path: Path, problem: Problem) -> dict[str, str]:
    """Topic -> type name as stored."""
    try:
        with connect_read_only(path) as connection:
            return dict(connection.execute("SELECT name, type FROM topics"))
    except sqlite3.Error as error:
        problem(f"{path}: no topic table ({error})")
        return {}


def scan_sqlite3(path: Path, topics: set[str] | None, problem: Problem) -> Iterator[RawMessage]:
    """Row-by-row sqlite3 scan: a damaged row or page costs that row, not the rest."""
    try:
        connection = connect_read_only(path)
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
    connection.close()
    if lost:
        problem(f"{path}: {lost} damaged message rows skipped")


def mcap_topics(path: Path, problem: Problem) -> dict[str, str]:
    """Topic -> schema name, from the channel records."""
    found: dict[str, str] = {}
    for _ in scan_mcap(path, set(), problem, found):
        pass
    return found


def scan_mcap(path: Path, topics: set[str] | None, problem: Problem,
              found: dict[str, str] | None = None) -> Iterator[RawMessage]:
    """Record-by-record MCAP scan that reads on into an uncompressed chunk cut short and stops
    where the file stops making sense; `found` collects topic -> schema name."""
    data = path.read_bytes()
    if not data.startswith(MCAP_MAGIC):
        problem(f"{path}: not an MCAP file")
        return
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    count = 0

    def walk(buffer: bytes, offset: int) -> Iterator[RawMessage]:
        nonlocal count
        for opcode, body in _records(buffer, offset):
            try:
                if opcode == 0x03:  # Schema: id, name, encoding, data
                    (schema_id,) = struct.unpack_from("<H", body, 0)
                    schemas[schema_id] = _string(body, 2)[0]
                elif opcode == 0x04:  # Channel: id, schema id, topic, encoding, metadata
                    channel_id, schema_id = struct.unpack_from("<HH", body, 0)
                    topic = _string(body, 4)[0]
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
                    records = _chunk_records(body, path, problem)
                    if records is not None:
                        yield from walk(records, 0)
            except (struct.error, UnicodeDecodeError):
                return  # a record cut short: the end of what can be read

    yield from walk(data, len(MCAP_MAGIC))
    footer = data[-len(MCAP_MAGIC):] == MCAP_MAGIC and len(data) > 2 * len(MCAP_MAGIC)
    if not footer:
        problem(f"{path}: MCAP file ends early; {count} messages were readable")


def _records(buffer: bytes, offset: int) -> Iterator[tuple[int, memoryview]]:
    """(opcode, body) of each record; a chunk cut short still holds whole records."""
    view = memoryview(buffer)
    while offset + 9 <= len(buffer):
        opcode, length = struct.unpack_from("<BQ", buffer, offset)
        body = view[offset + 9: offset + 9 + length]
        offset += 9 + length
        if len(body) == length or opcode == 0x06:
            yield opcode, body
        if len(body) < length:
            return


def _string(body: memoryview, offset: int) -> tuple[str, int]:
    (size,) = struct.unpack_from("<I", body, offset)
    return bytes(body[offset + 4: offset + 4 + size]).decode(), offset + 4 + size


def _chunk_records(body: memoryview, path: Path, problem: Problem) -> bytes | None:
    """A chunk's records, decompressed; None (and a problem) when they cannot be."""
    compression, start = _string(body, 28)
    records = bytes(body[start + 8:])
    if not compression:
        return records
    if compression not in DECOMPRESSORS:
        problem(f"{path}: a {compression}-compressed chunk is skipped (accepted: "
                f"{', '.join(DECOMPRESSORS)})")
        return None
    try:
        return DECOMPRESSORS[compression](records)
    except Exception as error:  # the codecs raise their own types on damaged data
        problem(f"{path}: a {compression}-compressed chunk cannot be decompressed "
                f"({type(error).__name__}: {error}); skipped")
        return None
