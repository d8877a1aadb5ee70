"""Bags as they are found: every bag of the corpus (written by other tools; split, cut, without
metadata, depth beside colour) replays, from a read-only copy, to the labels the same frames get
in a plain bag, and nothing in it is written: files, sizes and hashes are unchanged."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from bag_corpus import CORPUS, STAMPS, TOPIC, mcap_ros2_file, plain_bag, rosbags_bag
from mcap.writer import CompressionType
from rosbags.rosbag2.enums import CompressionMode, StoragePlugin

from flowenedet_core.runtime.pipeline import Pipeline
from flowenedet_ros.bags.info import bag_info, format_info
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import image_array, output_topics, stamp_ns
from flowenedet_ros.bags.replay import ReplayOptions, replay
from flowenedet_ros.bags.scan import scan_sqlite3
from flowenedet_ros.cli import main
from flowenedet_ros.parameter_file import default_values

SEGMENTATION = output_topics()["segmentation"]


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Every file under `path` (or `path` itself): relative name -> (size, sha256)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(f.relative_to(path.parent)): (f.stat().st_size,
                                              hashlib.sha256(f.read_bytes()).hexdigest())
            for f in files}


def read_only(path: Path) -> None:
    """`chmod -R a-w`."""
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        item.chmod(item.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def labels(bag: Path) -> dict[int, np.ndarray]:
    with BagSource(bag) as source:
        return {stamp_ns(m.message.header): image_array(m.message)
                for m in source.messages({SEGMENTATION})}


@pytest.fixture(scope="module")
def pipeline(tiny_onnx) -> Pipeline:
    return Pipeline.create(onnx=tiny_onnx, backend="onnxruntime", threads=1)


def test_every_corpus_bag_replays_read_only_to_the_labels_of_the_plain_bag(pipeline, tmp_path):
    values = default_values()
    options = ReplayOptions(outputs=("segmentation",), gallery_frames=0)
    replay(plain_bag(tmp_path / "plain"), pipeline, values, tmp_path / "plain-out", options,
           progress=False)
    expected = labels(tmp_path / "plain-out")
    assert sorted(expected) == STAMPS
    rows = ["| writer | storage | compression | layout | frames served | labels equal to the "
            "plain bag |", "|---|---|---|---|---|---|"]
    for bag in CORPUS:
        path = bag.write(tmp_path / "corpus" / bag.name)
        read_only(path)
        before = fingerprint(path)
        result = replay(path, pipeline, values, tmp_path / "out" / bag.name, options,
                        progress=False)
        info = format_info(bag_info(path))
        assert fingerprint(path) == before, bag.name  # nothing written, nothing added
        got = labels(tmp_path / "out" / bag.name)
        frames = result.summary["frames"]
        equal = sorted(got) == [STAMPS[i] for i in bag.frames] and all(
            np.array_equal(array, expected[stamp]) for stamp, array in got.items())
        rows.append(f"| {bag.writer} | {bag.storage} | {bag.compression} | {bag.layout} | "
                    f"{frames['served']} of {len(STAMPS)} | {'yes' if equal else 'no'} |")
        assert equal and frames["served"] == len(bag.frames), (bag.name, result.summary)
        assert result.summary["camera_topic"] == TOPIC
        assert frames["failed"] == 0
        if bag.missing:  # named once, and what metadata.yaml promised against what was read
            assert result.summary["problems"] == [
                f"{path}: 1 of 3 split parts listed in metadata.yaml are missing "
                f"({bag.missing}.mcap); reading the others",
                f"{TOPIC}: metadata.yaml promised 3 messages, 2 were read"], bag.name
            assert "Count: 2 (metadata.yaml: 3)" in info
        else:
            assert result.summary["problems"] == [], (bag.name, result.summary["problems"])
    print("\n" + "\n".join(rows))


def test_a_wal_mode_database_scanned_row_by_row_leaves_no_journal_beside_it(tmp_path):
    """The record-by-record fallback opens sqlite3 read-only and immutable: a WAL-mode database
    gets no -wal / -shm files (a plain read-only open would create them)."""
    bag = rosbags_bag(tmp_path / "bag", 8, StoragePlugin.SQLITE3)
    database = next(bag.glob("*.db3"))
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    before = fingerprint(bag)
    problems: list[str] = []
    rows = list(scan_sqlite3(database, None, problems.append))
    assert [row[1] for row in rows] == STAMPS and problems == []
    assert fingerprint(bag) == before
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as plain:  # what it avoids
        plain.execute("SELECT count(*) FROM messages").fetchone()
        assert database.with_name(database.name + "-shm").exists()
    plain.close()



@pytest.mark.parametrize("kind", ["zstd chunks", "zstd per message"])
def test_a_cut_short_compressed_mcap_is_scanned_and_its_frames_decompressed(pipeline, tmp_path,
                                                                            kind):
    """A recorder killed mid-write: no footer, so rosbags cannot open it and the record scan
    reads on, decompressing each whole chunk (one per frame here) or message."""
    if kind == "zstd chunks":
        path = mcap_ros2_file(tmp_path / "cut.mcap", CompressionType.ZSTD, chunk_size=1)
    else:
        path = next(rosbags_bag(tmp_path / "bag", 9, StoragePlugin.MCAP,
                                CompressionMode.MESSAGE).glob("*.mcap"))
        (path.parent / "metadata.yaml").unlink()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    result = replay(path, pipeline, default_values(), tmp_path / "out",
                    ReplayOptions(outputs=("segmentation",), gallery_frames=0), progress=False)
    assert any("rosbags cannot open it" in p for p in result.summary["problems"])
    plain = replay(plain_bag(tmp_path / "plain"), pipeline, default_values(),
                   tmp_path / "plain-out", ReplayOptions(outputs=("segmentation",),
                                                         gallery_frames=0), progress=False)
    assert plain.summary["frames"]["served"] == 3
    got, expected = labels(tmp_path / "out"), labels(tmp_path / "plain-out")
    assert len(got) == result.summary["frames"]["served"] == 2
    assert all(np.array_equal(array, expected[stamp]) for stamp, array in got.items())


def test_bag_info_says_what_ros2_bag_info_would_and_finds_undeclared_compression(tmp_path,
                                                                                 capsys):
    bag = next(b for b in CORPUS if b.name == "mcap-message-zstd-part")
    path = bag.write(tmp_path / bag.name)
    assert main(["bag-info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Files:             {bag.name}_3.mcap (42.2 KiB)"
    assert "Compression:       zstd per message (found in the data)" in lines
    assert "Duration:          2.000000000 s" in lines
    assert lines[-1] == ("Topic information: Topic: /camera/image_raw | Type: "
                         "sensor_msgs/msg/Image | Count: 3 | Image: rgb8 96x48")


def test_bag_info_on_the_real_realsense_bag(realsense_bag, capsys):
    assert main(["bag-info", str(realsense_bag)]) == 0
    out = capsys.readouterr().out
    assert "Compression:       lz4 chunks" in out and "Messages:          135" in out
    assert ("Topic: /device_0/sensor_0/Depth_0/image/data | Type: sensor_msgs/msg/Image | "
            "Count: 2 | Image: mono16 640x480") in out  # mono16 stays a grey camera
    assert ("Topic: /device_0/sensor_1/Color_0/image/data | Type: sensor_msgs/msg/Image | "
            "Count: 1 | Image: rgb8 640x480") in out


def test_messages_still_in_a_write_ahead_log_are_named_not_read_and_the_log_is_left_alone(
        tmp_path):
    bag = rosbags_bag(tmp_path / "bag", 8, StoragePlugin.SQLITE3, frames=(0, 1))
    database = next(bag.glob("*.db3"))
    writer = sqlite3.connect(database)  # a recorder still writing: its log not yet folded in
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("DELETE FROM messages WHERE id = 2")
    writer.commit()
    try:
        before = fingerprint(bag)
        assert f"{database.name}-wal" in {Path(name).name for name in before}
        with BagSource(bag) as source:
            assert [m.timestamp for m in source.messages()] == STAMPS[:2]
            assert source.problems == [f"{database}-wal: messages still in the sqlite3 "
                                       "write-ahead log are not read (the bag is opened "
                                       "read-only and immutable)"]
        assert fingerprint(bag) == before
    finally:
        writer.close()
