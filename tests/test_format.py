"""The on-disk formats: safe names, event files, torn writes, run.json."""

from __future__ import annotations

import os

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labbook.errors import InvalidNameError, PathEscapeError
from labbook.store import format as fmt
from labbook.store.layout import RunFolder, safe_join
from labbook.store.names import MAX_NAME_LENGTH, check_name, decode_name, encode_name
from labbook.store.runfile import update_run_file

names = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=300).filter(lambda s: s.strip())


@given(names)
def test_encoded_names_are_one_safe_component(name):
    encoded = encode_name(name)
    assert "/" not in encoded and "\\" not in encoded and "\x00" not in encoded
    assert encoded not in (".", "..") and not encoded.startswith(".")
    assert len(encoded.encode()) <= 200
    decoded = decode_name(encoded)
    assert decoded is None or decoded == name  # None: cut, the exact name is in the header


@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
               min_size=1, max_size=15).filter(lambda s: s.strip()))
def test_short_names_round_trip(name):
    # 15 characters encode to at most 180 bytes (4 UTF-8 bytes each, 3 characters per byte), so
    # they are never cut
    assert decode_name(encode_name(name)) == name


@given(names, names)
def test_distinct_names_get_distinct_files(a, b):
    if a != b:
        assert encode_name(a) != encode_name(b)


def test_long_names_are_cut_and_found_through_the_header(tmp_path):
    folder = RunFolder(tmp_path)
    name = "layer/" * 150
    path = folder.series_file("metric", name, "w1")
    path.parent.mkdir(parents=True)
    path.write_bytes(fmt.header_bytes("metric", name, "w1"))
    assert decode_name(path.parent.name) is None
    assert folder.series_names("metric") == [name]


def test_name_limit_is_documented_in_the_error():
    with pytest.raises(InvalidNameError, match=str(MAX_NAME_LENGTH)):
        check_name("x" * (MAX_NAME_LENGTH + 1))


@given(st.lists(st.sampled_from(["a", "..", ".", "b", "", "/"]), max_size=6))
def test_safe_join_never_leaves_the_root(tmp_path_factory, parts):
    root = tmp_path_factory.mktemp("root")
    rel = "/".join(parts)
    try:
        target = safe_join(root, rel)
    except PathEscapeError:
        return
    resolved = target.resolve()
    assert resolved == root.resolve() or root.resolve() in resolved.parents


@given(st.lists(st.tuples(st.integers(-2**62, 2**62), st.integers(0, 2**62),
                          st.floats(allow_nan=True, allow_infinity=True)), max_size=50),
       st.integers(0, 23))
@settings(max_examples=50)
def test_metric_file_round_trips_and_drops_a_torn_tail(tmp_path_factory, records, torn):
    path = tmp_path_factory.mktemp("m") / "w.lbm"
    steps = [r[0] for r in records]
    times = [r[1] for r in records]
    values = [r[2] for r in records]
    data = fmt.header_bytes("metric", "m", "w") + fmt.encode_metric_records(steps, times, values)
    path.write_bytes(data + b"\x01" * torn)  # a partial record after the whole ones
    read = fmt.read_metric_file(path)
    assert read["step"].tolist() == steps
    assert read["timestamp"].tolist() == times
    np.testing.assert_array_equal(read["value"], np.array(values, dtype=float))


def test_metric_file_with_a_torn_header_reads_as_empty(tmp_path):
    path = tmp_path / "w.lbm"
    path.write_bytes(fmt.header_bytes("metric", "m", "w")[:10])
    assert len(fmt.read_metric_file(path)) == 0


def test_json_lines_skip_a_torn_last_line(tmp_path):
    path = tmp_path / "w.jsonl"
    lines = [fmt.encode_json_record(i, 1_700_000_000_000_000 + i, {"v": i}) for i in range(3)]
    path.write_bytes(fmt.header_bytes("text", "t", "w") + b"".join(lines) + lines[0][:7])
    records = list(fmt.iter_json_records(path))
    assert [r["value"] for r in records] == [{"v": 0}, {"v": 1}, {"v": 2}]
    assert records[0]["timestamp"] == "2023-11-14T22:13:20.000000+00:00"


def test_newer_format_versions_are_refused_with_advice(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(orjson.dumps({"format": "labbook.events", "version": 99}) + b"\n")
    with pytest.raises(ValueError, match="Upgrade labbook"):
        fmt.read_header(path)


def test_run_file_updates_merge_under_the_lock(tmp_path):
    path = tmp_path / "run.json"
    update_run_file(path, [], initial={"uuid": "u", "inputs": {}, "tags": []})
    update_run_file(path, [("merge", "inputs", {"a": 1}), ("tags_add", "tags", ["x", "y"])])
    data = update_run_file(path, [("merge", "inputs", {"b": 2}), ("tags_add", "tags", ["x", "z"])])
    assert data["inputs"] == {"a": 1, "b": 2} and data["tags"] == ["x", "y", "z"]
    assert data["format"] == "labbook.run" and data["version"] == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_each_run_file_update_has_a_newer_mtime_even_within_one_clock_tick(tmp_path):
    """Catalog rows compare run.json's mtime to tell a newer reading from an older one, and a
    new file's time stamp is the clock's coarse tick (milliseconds): updates made within one
    tick (a run that starts and ends at once) must still leave strictly growing mtimes, apart
    by more than a row's racy mark."""
    from labbook.catalog.indexer import RACY_MARK

    path = tmp_path / "run.json"
    update_run_file(path, [], initial={"uuid": "u", "status": "running"})
    stamps = [path.stat().st_mtime_ns]
    for status in ("succeeded", "failed", "stopped", "succeeded"):
        update_run_file(path, [("set", "status", status)])
        stamps.append(path.stat().st_mtime_ns)
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    assert min(gaps) > RACY_MARK * 1e9, gaps


def test_asset_paths_follow_the_layout(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.asset_path("image", "sample", 3, "png") == tmp_path / "assets/image/sample_3.png"
    assert folder.asset_path("model", "net", None, None) == tmp_path / "assets/model/net"
    assert folder.asset_path("image", "a/b", 1, ".png") == tmp_path / "assets/image/a%2Fb_1.png"
