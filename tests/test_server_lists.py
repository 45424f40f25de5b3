"""Every list the API returns is capped and paged by a keyset cursor (checked from the router
table, then followed page by page against a real server); logs are read by tail and followed
as a stream, whose late failures still come in the one error shape."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time

import orjson
import pytest

from labbook import tokens
from labbook.errors import WriteError
from tests.server_helpers import ServerProcess, run_kwargs

pytestmark = pytest.mark.timeout(240)

# GET routes answering a list that are not keyset-paged, and why (everything else must take
# limit= with a maximum and cursor=, and answer next_cursor).
NOT_KEYSET = {
    "/api/v1/runs/window": "a scrollbar jump to a position: offset= and limit= (capped), documented as OFFSET",
    "/api/v1/runs/{uuid}/table": "rows of one logged table file by offset= and limit= (capped), at most "
                                 "1000 columns (truncated=true past that)",
    "/api/v1/names": "the most used names first, limit= (capped) with truncated=true; no later page",
    "/api/v1/runs/{uuid}/logs": "the last tail= lines (capped), or follow=true: a stream",
    "/api/v1/lineage": "a graph: at most 10 hops and 1000 nodes, truncated=true past that",
    "/api/v1/runs/{uuid}/resources": "the names of a run's resource series, at most 1000",
    "/api/v1/runs/{uuid}": "one run (its lists: status history, names by kind)",
    "/api/v1/artifacts/version": "one version (its tags and sources)",
    "/api/v1/artifacts/stats": "one table's columns, at most 1000 (truncated=true past that)",
    "/api/v1/runs/{uuid}/metrics/series": "one series: at most points= (<= 10,000) buckets",
    "/api/v1/runs/{uuid}/resources/series": "one series: at most points= (<= 10,000) buckets",
}


def _document() -> dict:
    from labbook.config import Settings
    from labbook.server.app import create_app

    return create_app(Settings.load({})).openapi()


def _list_fields(document: dict, schema: dict) -> list[str]:
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return [name for name, field in (schema.get("properties") or {}).items()
            if field.get("type") == "array" or any(a.get("type") == "array" for a in field.get("anyOf", []))]


def test_every_list_route_has_a_hard_cap_and_a_keyset_cursor():
    document = _document()
    checked = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get is None or path.startswith("/api/v1/sync/"):  # the sync protocol's routes: below
            continue
        schema = get["responses"]["200"].get("content", {}).get("application/json", {}).get("schema", {})
        if not _list_fields(document, schema):
            continue
        params = {p["name"]: p for p in get.get("parameters", [])}
        if path in NOT_KEYSET:
            capped = [p for p in ("limit", "tail", "points") if p in params]
            assert not capped or all(params[p]["schema"].get("maximum") for p in capped), path
            continue
        checked.append(path)
        assert "limit" in params and params["limit"]["schema"]["maximum"] <= 100_000, (path, params.get("limit"))
        assert "cursor" in params, f"{path} answers a list but takes no cursor="
        response = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        assert "next_cursor" in response["properties"], f"{path} answers no next_cursor"
    assert {"/api/v1/projects", "/api/v1/runs", "/api/v1/artifacts", "/api/v1/artifacts/versions",
            "/api/v1/artifacts/files", "/api/v1/tokens", "/api/v1/runs/{uuid}/events",
            "/api/v1/runs/{uuid}/events/steps"} <= set(checked), checked
    # the sync manifest (a map of files, not an array) is capped and keyset-paged the same way
    manifest = {p["name"]: p for p in document["paths"]["/api/v1/sync/runs/{uuid}"]["get"]["parameters"]}
    assert manifest["limit"]["schema"]["maximum"] == 1000 and "cursor" in manifest
    assert "next_cursor" in document["components"]["schemas"]["SyncManifest"]["properties"]


def _all_pages(api, path: str, field: str, **params) -> list:
    seen, cursor = [], None
    while True:
        answer = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page[field]) <= params["limit"]
        seen += page[field]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_projects_steps_versions_files_and_tokens_follow_their_cursors(home, tmp_path):
    from labbook.tracking import Run

    work = tmp_path / "work"
    (work / "folder" / "sub").mkdir(parents=True)
    for index, name in enumerate(("a.txt", "b.txt", "sub/c.txt")):
        (work / "folder" / name).write_text("x" * (index + 1))
    for project in ("gamma", "alpha", "beta"):
        with Run(project=project, **run_kwargs()) as run:
            for step in (0, 3, 7):
                run.log_text("note", f"at {step}", step=step)
            for index in range(3):
                (work / "data.txt").write_text(f"version {index}")
                run.log_artifact(str(work / "data.txt"), name="data", kind="dataset")
            folder = run.log_artifact(str(work / "folder"), name="folder", kind="dataset")
    admin, _ = tokens.create_token("admin", "admin")
    tokens.create_token("second", "read")
    server = ServerProcess(home)
    try:
        with server.client(admin) as api:
            projects = _all_pages(api, "/projects", "projects", limit=1)
            assert [p["name"] for p in projects] == ["alpha", "beta", "gamma"]
            steps = _all_pages(api, f"/runs/{run.uuid}/events/steps", "steps", kind="text", name="note", limit=2)
            assert steps == [0, 3, 7]
            versions = _all_pages(api, "/artifacts/versions", "artifacts", uri="store://datasets/beta/data", limit=2)
            assert [v["version"] for v in versions] == [3, 2, 1]
            files = _all_pages(api, "/artifacts/files", "files", uri=folder.uri, limit=1)
            assert [(f["path"], f["size"]) for f in files] == [("a.txt", 1), ("b.txt", 2), ("sub/c.txt", 3)]
            held = _all_pages(api, "/tokens", "tokens", limit=1)
            assert [t["name"] for t in held] == ["admin", "second"]
            assert api.get("/projects", params={"limit": 1001}).json()["error"]["field"] == "limit"
            first = api.get("/projects", params={"limit": 1}).json()["next_cursor"]
            elsewhere = api.get("/tokens", params={"cursor": first})  # a cursor of another list
            assert elsewhere.status_code == 400 and elsewhere.json()["error"]["field"] == "cursor"
    finally:
        server.stop()


def _log_line(handle, second: int) -> None:
    handle.write(orjson.dumps({"timestamp": f"2026-11-30T12:00:{second:02d}+00:00", "stream": "stdout",
                               "message": f"line {second}"}) + b"\n")
    handle.flush()


@pytest.fixture
def live_logs(home):
    """A running run whose log file this test writes, and a read client of a real server:
    (run, log file handle, client)."""
    from labbook.tracking import Run

    run = Run(project="logs", name="live", home=home, **run_kwargs())
    run.flush()
    (run.path / "logs").mkdir(exist_ok=True)
    handle = open(run.path / "logs" / "writer.jsonl", "ab")
    handle.write(b'{"format": "labbook.logs", "version": 1}\n')
    for second in range(3):
        _log_line(handle, second)
    token, _ = tokens.create_token("reader", "read")
    server = ServerProcess(home)
    try:
        with server.client(token) as api:
            yield run, handle, api
    finally:
        handle.close()
        with contextlib.suppress(WriteError):  # a test may have removed its folder on purpose
            run.end()
        server.stop()


def _follow(api, uuid: str, got: list, **params) -> threading.Thread:
    def read() -> None:
        with api.stream("GET", f"/runs/{uuid}/logs", params={"follow": True, **params}) as answer:
            got.append(answer.status_code)
            got.append(answer.headers["content-type"])
            got.extend(orjson.loads(line) for line in answer.iter_lines() if line)

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def test_logs_tail_and_follow_until_the_run_ends(live_logs):
    run, handle, api = live_logs
    tail = api.get(f"/runs/{run.uuid}/logs", params={"tail": 2}).json()["lines"]
    assert [line["message"] for line in tail] == ["line 1", "line 2"]
    unknown = api.get(f"/runs/{'0' * 32}/logs", params={"follow": True})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    got: list = []
    reader = _follow(api, run.uuid, got, tail=1)
    time.sleep(1.5)
    _log_line(handle, 3)
    time.sleep(1.5)
    _log_line(handle, 4)
    run.end()
    reader.join(30)
    assert not reader.is_alive(), "the stream did not end with the run"
    assert got[:2] == [200, "application/x-ndjson"]
    assert [line["message"] for line in got[2:]] == ["line 2", "line 3", "line 4"]
    short: list = []
    started = time.monotonic()
    _follow(api, run.uuid, short, tail=1, timeout=1).join(30)  # an ended run: one poll, then done
    assert [line["message"] for line in short[2:]] == ["line 4"] and time.monotonic() - started < 10


def test_a_failure_inside_a_followed_stream_ends_it_with_the_error_shape(live_logs):
    run, handle, api = live_logs
    got: list = []
    reader = _follow(api, run.uuid, got, tail=1, timeout=60)
    time.sleep(1.5)
    shutil.rmtree(run.path)  # the run's folder vanishes while it is followed
    reader.join(30)
    assert not reader.is_alive(), "the stream did not end when its run vanished"
    assert got[0] == 200 and got[2]["message"] == "line 2"
    last = got[-1]
    assert set(last) == {"error"} and set(last["error"]) == {"code", "message", "field", "hint"}, last
    assert "Traceback" not in orjson.dumps(last).decode()


def test_a_wide_table_is_cut_to_1000_columns_and_a_huge_one_is_refused(home, tmp_path, monkeypatch):
    from tests.conftest import require

    require(__import__("importlib").util.find_spec("pyarrow") is not None, "pyarrow is not installed")
    from labbook.tracking import Run

    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(1005)) + "\n" + ",".join(str(i) for i in range(1005)) + "\n")
    with Run(project="tables", **run_kwargs()) as run:
        version = run.log_artifact(str(wide), name="wide", kind="dataset")
        (run.path / "outputs").mkdir(exist_ok=True)
        shutil.copy(wide, run.path / "outputs" / "wide-copy.csv")
        (run.path / "outputs" / "huge.csv").write_bytes(b"a\n" + b"1\n" * (200 << 10))
    token, _ = tokens.create_token("reader", "read")
    server = ServerProcess(home)
    try:
        with server.client(token) as api:
            page = api.get(f"/runs/{run.uuid}/table", params={"path": "outputs/wide-copy.csv"}).json()
            assert page["truncated"] is True and len(page["columns"]) == 1000 and len(page["rows"][0]) == 1000
            assert page["columns"][-1]["name"] == "c999" and page["rows"][0][-1] == 999
            stats = api.get("/artifacts/stats", params={"uri": version.uri}).json()
            assert stats["truncated"] is True and len(stats["columns"]) == 1000 and stats["rows"] == 1
    finally:
        server.stop()
    import labbook.server.routes_media as media

    monkeypatch.setattr(media, "MAX_TABLE_BYTES", 100 << 10)
    with pytest.raises(media.ApiError) as refused:
        media._read_table(run.path / "outputs" / "huge.csv", "csv", "path")
    assert refused.value.status == 413 and refused.value.field == "path" and "Download" in refused.value.hint
