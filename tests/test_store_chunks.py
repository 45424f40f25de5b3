"""Append-only files as immutable chunk objects with their committed ranges in the catalog:
on a local folder with SQLite, and on S3 (moto on loopback) with PostgreSQL."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

from labbook.catalog.catalog import Catalog
from labbook.catalog.chunks import ChunkedFiles
from labbook.errors import AppendConflict, EventFileError, InvalidValueError
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database

PATH = "events/metric/loss/0-1-abcdef.lbm"


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def store(request, tmp_path):
    """(root URL, catalog URL) of an empty store."""
    if request.param == "local+sqlite":
        return str(tmp_path / "store"), f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("s3_bucket"), request.getfixturevalue("postgres_url")


@pytest.fixture
def files(store):
    root, url = store
    catalog = Catalog(url, auto_migrate=True)
    yield ChunkedFiles(root, catalog)
    catalog.close()


def test_appends_read_back_in_order_and_by_range(files):
    run = uuid.uuid4().hex
    assert files.committed(run, PATH) == 0 and files.read(run, PATH) == b"" and files.files(run) == {}
    assert files.append(run, PATH, 0, b"header\n") == 7
    assert files.append(run, PATH, 7, b"0123456789") == 17
    assert files.append(run, PATH, 17, b"abc") == 20
    assert files.read(run, PATH) == b"header\n0123456789abc"
    assert files.read(run, PATH, 5, 12) == b"r\n01234"  # across two chunks
    assert files.read(run, PATH, 18) == b"bc" and files.read(run, PATH, 20) == b""
    assert files.files(run) == {PATH: 20} and files.committed(run, PATH) == 20
    assert [(o, n) for o, n, _ in files.chunks(run, PATH)] == [(0, 7), (7, 10), (17, 3)]
    assert files.fs.exists(files.chunks(run, PATH)[1][2])  # each chunk is its own object


def test_a_resend_is_a_no_op_and_an_overlap_commits_only_the_new_bytes(files):
    run = uuid.uuid4().hex
    files.append(run, PATH, 0, b"abcdef")
    before = files.chunks(run, PATH)
    assert files.append(run, PATH, 0, b"abcdef") == 6  # the whole append again
    assert files.append(run, PATH, 2, b"cd") == 6  # a piece inside
    assert files.chunks(run, PATH) == before  # nothing stored twice
    assert files.append(run, PATH, 4, b"efgh") == 8  # "ef" committed already, "gh" is new
    assert files.read(run, PATH) == b"abcdefgh"
    assert [(o, n) for o, n, _ in files.chunks(run, PATH)] == [(0, 6), (6, 2)]


def test_a_gap_or_changed_bytes_is_a_conflict_naming_the_fix(files):
    run = uuid.uuid4().hex
    files.append(run, PATH, 0, b"abcdef")
    with pytest.raises(AppendConflict, match=r"bytes \[8, 10\) start past the 6 committed; resend from offset 6") as gap:
        files.append(run, PATH, 8, b"xy")
    assert (gap.value.reason, gap.value.committed, gap.value.path) == ("gap", 6, PATH)
    with pytest.raises(AppendConflict, match="differ from the 6 committed bytes") as changed:
        files.append(run, PATH, 3, b"Xefgh")
    assert changed.value.reason == "changed" and changed.value.offset == 3
    assert files.read(run, PATH) == b"abcdef"  # nothing of either was committed
    with pytest.raises(AppendConflict, match="start past the 0 committed"):
        files.append(run, "logs/0-1-abcdef.jsonl", 5, b"x")


@pytest.mark.parametrize("path", ["/etc/passwd", "a/../b", "a//b", "a\\b", "", "a/./b", "x\x00y"])
def test_paths_that_could_escape_are_refused(files, path):
    with pytest.raises(InvalidValueError, match="not a run file path"):
        files.append(uuid.uuid4().hex, path, 0, b"x")


def test_bad_run_ids_and_offsets_are_refused(files):
    with pytest.raises(InvalidValueError, match="not a run id"):
        files.append("../x", PATH, 0, b"x")
    with pytest.raises(InvalidValueError, match="offset=-1"):
        files.append(uuid.uuid4().hex, PATH, -1, b"x")


def _append_records(root: str, url: str, run: str, writer: int, records: int, queue) -> None:
    """One process: appends fixed 8-byte records to the shared file, each at the committed end."""
    catalog = Catalog(url)
    files = ChunkedFiles(root, catalog)
    done = 0
    while done < records:
        record = f"{writer}:{done:05d}\n".encode()[:8].ljust(8, b"_")
        at = files.committed(run, PATH)
        try:
            files.append(run, PATH, at, record)
            done += 1
        except AppendConflict as error:  # another process committed first: a gap or a change at `at`
            assert error.reason in ("changed", "gap")
    catalog.close()
    queue.put(writer)


def test_two_processes_appending_to_one_file_serialise(files, store):
    root, url = store
    run = uuid.uuid4().hex
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_append_records, args=(root, url, run, w, 40, queue)) for w in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(180)
        assert process.exitcode == 0
    data = files.read(run, PATH)
    records = [data[i:i + 8] for i in range(0, len(data), 8)]
    assert len(data) == 640 and files.committed(run, PATH) == 640
    for writer in (b"1", b"2"):  # every record of each writer once, in its own order
        mine = [r for r in records if r.startswith(writer + b":")]
        assert mine == [f"{writer.decode()}:{i:05d}\n".encode()[:8] for i in range(40)]
    chunks = files.chunks(run, PATH)
    assert [o for o, _, _ in chunks] == list(range(0, 640, 8))  # contiguous, no overlap, nothing twice


def test_tails_of_several_files_commit_together_and_a_moved_file_takes_the_usual_rules(files):
    run = uuid.uuid4().hex
    other = "events/text/note/0-1-abcdef.jsonl"
    files.append(run, PATH, 0, b"head")
    files.append_tails(run, {PATH: (4, b"-tail"), other: (0, b"first\n")})
    assert files.files(run) == {PATH: 9, other: 6}
    assert files.read(run, PATH) == b"head-tail" and files.read(run, other) == b"first\n"
    files.append(run, other, 6, b"second\n")  # another writer moves the file before this batch commits
    files.append_tails(run, {PATH: (9, b"!"), other: (6, b"second\n")})  # the same bytes: a resend
    assert files.read(run, PATH) == b"head-tail!" and files.read(run, other) == b"first\nsecond\n"
    assert [(o, n) for o, n, _ in files.chunks(run, other)] == [(0, 6), (6, 7)]  # nothing stored twice
    with pytest.raises(AppendConflict):
        files.append_tails(run, {other: (6, b"changed")})
    assert files.read(run, other) == b"first\nsecond\n"


def test_read_buffer_gives_the_bytes_read_gives(files):
    run = uuid.uuid4().hex
    data = bytes(range(256)) * 40
    at = 0
    for cut in (1, 2, 30, 31, 700, 4096, 9000, len(data)):  # chunks of 1 byte to several KiB
        files.append(run, PATH, at, data[at:cut])
        at = cut
    assert files.read_buffer(uuid.uuid4().hex, PATH) == b""
    for start, end in ((0, None), (0, 1), (1, 2), (5, 31), (29, 4097), (8999, None), (len(data), None), (3, 3)):
        got = files.read_buffer(run, PATH, start, end)
        assert isinstance(got, bytearray) and got == files.read(run, PATH, start, end) == data[start:end]
    with pytest.raises(InvalidValueError, match="pass 0 <= start <= end"):
        files.read_buffer(run, PATH, 5, 4)


def test_read_buffer_names_a_chunk_that_lost_bytes(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", auto_migrate=True)
    files = ChunkedFiles(str(tmp_path / "store"), catalog)
    run = uuid.uuid4().hex
    files.append(run, PATH, 0, b"header\n0123456789")
    ((_, _, key),) = files.chunks(run, PATH)
    with open(key, "r+b") as handle:
        handle.truncate(10)
    with pytest.raises(EventFileError, match="labbook sync"):
        files.read_buffer(run, PATH)
    catalog.close()
