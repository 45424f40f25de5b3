"""One test per security class, against a real server: traversal, references, sandboxed HTML and
SVG, body size, Host and Origin, filter injection; and bad requests get the one error shape."""

from __future__ import annotations

import http.client
import http.server
import os
import threading

import pytest

import labbook
from labbook import tokens
from tests.server_helpers import PROJECT, ServerProcess, make_project, run_kwargs

pytestmark = pytest.mark.timeout(300)
MAX_BODY = 4096


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One server for the module, on its own home, with a body limit of 4 KiB."""
    root = tmp_path_factory.mktemp("security")
    home = root / ".labbook"
    work = root / "work"
    work.mkdir()
    made = make_project(home, work)
    from labbook.tracking import Run

    elsewhere = root / "elsewhere"
    with Run(project=PROJECT, name="files", home=home, **run_kwargs()) as run:
        (work / "page.html").write_text("<script>window.__pwned = 1</script>")
        (work / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
        run.log_artifact(str(work / "page.html"), name="page")
        run.log_artifact(str(work / "drawing.svg"), name="drawing")
        (work / "outside.bin").write_bytes(b"secret bytes")
        outside = run.log_artifact(str(work / "outside.bin"), name="outside", artifact_path=str(elsewhere))
        (root / "target.txt").write_text("root:x:0:0")
        os.symlink(root / "target.txt", run.path / "outputs" / "link.txt")
        run.log_inputs(**{"a'b;c": 1})
        made["files_run"] = run.uuid
        made["outside_uri"] = outside.uri
    token, _ = tokens.create_token("admin", "admin", home=home)
    server = ServerProcess(home, LABBOOK_SERVER_MAX_BODY=str(MAX_BODY))
    made.update(home=home, token=token, server=server)
    yield made
    server.stop()


def _is_error_shape(response, status=None) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field", "hint"}, body
    assert "Traceback" not in response.text
    if status is not None:
        assert response.status_code == status, response.text
    return body["error"]


def _raw_get(world, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """Send ``path`` exactly as written (no client-side normalisation of '..')."""
    connection = http.client.HTTPConnection("127.0.0.1", world["server"].port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {world['token']}", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


TRAVERSALS = [
    "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd", "..\\..\\..\\etc\\passwd", "..%5c..%5cetc%5cpasswd",
    "/etc/passwd", "%2fetc%2fpasswd", "assets/../../../../etc/passwd", "run.json%00.png",
    "outputs/link.txt", "file:///etc/passwd", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "outputs/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "0" * 300, "outputs/" + "x" * 256 + ".csv",  # names no file system holds (over 255 bytes)
]


@pytest.mark.parametrize("attack", TRAVERSALS)
def test_no_path_parameter_escapes_the_run_folder(world, attack):
    status, body = _raw_get(world, f"/api/v1/runs/{world['files_run']}/files/{attack}")
    assert 400 <= status < 500, (status, body[:200])
    assert b"root:" not in body
    uuid_attack, body = _raw_get(world, f"/api/v1/runs/{attack.replace('/', '%2f')}")
    assert 400 <= uuid_attack < 500 and b"root:" not in body


def test_ids_and_uris_are_checked(world):
    with world["server"].client(world["token"]) as api:
        for bad in ("abc", "0" * 31 + "g", "%2e%2e", "1234", "0" * 32 + "%00"):
            error = _is_error_shape(api.get(f"/runs/{bad}/events/steps", params={"kind": "text", "name": "x"}), 422)
            assert error["field"] == "uuid" and "32-hex-digit" in error["hint"]
        for uri in ("store://../../etc/passwd", "file:///etc/passwd", "store://models/churn/../../x"):
            answer = api.get("/artifacts/version", params={"uri": uri})
            assert 400 <= answer.status_code < 500 and "root:" not in answer.text
            _is_error_shape(answer)


def test_references_are_shown_but_never_fetched(world):
    hits = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    trap = http.server.HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    from labbook.tracking import Run

    with Run(project=PROJECT, name="refs", home=world["home"], **run_kwargs()) as run:
        run.log_artifact_ref(f"http://127.0.0.1:{trap.server_port}/secret", name="trap")
    try:
        with world["server"].client(world["token"]) as api:
            graph = api.get("/lineage", params={"run": run.uuid}).json()
            assert f"http://127.0.0.1:{trap.server_port}/secret" in {n["label"] for n in graph["nodes"]}
            assert api.get(f"/runs/{run.uuid}").status_code == 200
            graph = api.get("/lineage", params={"run": world["model_run"]}).json()
            assert {"/etc/passwd", "http://169.254.169.254/latest/meta-data"} <= \
                {n["label"] for n in graph["nodes"] if n["type"] == "ref"}
            outside = api.get("/artifacts/version", params={"uri": world["outside_uri"]}).json()
            assert outside["stored_in_server"] is False and "elsewhere" in outside["location"]
            refused = api.get("/artifacts/download", params={"uri": world["outside_uri"]})
            assert "secret bytes" not in refused.text
            assert _is_error_shape(refused, 403)["code"] == "forbidden_path"
    finally:
        trap.shutdown()
        trap.server_close()
    assert hits == []


def test_logged_html_and_svg_are_served_sandboxed(world):
    run = labbook.get_run(world["files_run"], home=world["home"])
    with world["server"].client(world["token"]) as api:
        for name, content_type in (("page.html", "text/html"), ("drawing.svg", "image/svg+xml")):
            stored = next(p for p in run.path.rglob(name))
            rel = stored.relative_to(run.path).as_posix()
            shown = api.get(f"/runs/{run.uuid}/files/{rel}")
            assert shown.status_code == 200 and shown.headers["content-type"].startswith(content_type)
            assert shown.headers["content-security-policy"] == "sandbox"
            assert shown.headers["x-content-type-options"] == "nosniff"
            downloaded = api.get(f"/runs/{run.uuid}/files/{rel}", params={"download": True})
            assert downloaded.headers["content-disposition"].startswith("attachment")
            assert downloaded.headers["content-security-policy"] == "sandbox"
        for key in ("page", "drawing"):  # the same logged as artifact versions, downloaded
            version = labbook.get_artifact(f"store://artifacts/{PROJECT}/{key}", home=world["home"])
            downloaded = api.get("/artifacts/download", params={"uri": version.uri})
            assert downloaded.status_code == 200 and b"<script>" in downloaded.content
            assert downloaded.headers["content-disposition"].startswith("attachment")
            assert downloaded.headers["content-security-policy"] == "sandbox"
            assert downloaded.headers["x-content-type-options"] == "nosniff"
        ranged = api.get(f"/runs/{run.uuid}/files/run.json", headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206 and len(ranged.content) == 10
        assert ranged.content == (run.path / "run.json").read_bytes()[:10]


def test_oversized_bodies_are_refused(world):
    big = {"points": [{"name": "m", "value": 1.0, "step": i} for i in range(400)]}
    with world["server"].client(world["token"]) as api:
        error = _is_error_shape(api.post(f"/runs/{world['files_run']}/metrics", json=big), 413)
        assert error["code"] == "body_too_large" and str(MAX_BODY) in error["message"]

        def chunks():  # no Content-Length: counted while it streams
            for _ in range(10):
                yield b"x" * 1000

        streamed = api.post(f"/runs/{world['files_run']}/metrics", content=chunks(),
                            headers={"Content-Type": "application/json"})
        assert _is_error_shape(streamed, 413)["code"] == "body_too_large"


def test_bad_host_and_origin_are_refused(world):
    status, body = _raw_get(world, "/api/v1/projects", {"Host": "evil.example"})
    assert status == 400 and b"bad_host" in body
    status, body = _raw_get(world, "/api/v1/projects", {"Host": f"localhost:{world['server'].port}",
                                                         "Origin": "http://evil.example"})
    assert status == 403 and b"bad_origin" in body
    status, _ = _raw_get(world, "/api/v1/projects", {"Host": f"localhost:{world['server'].port}"})
    assert status == 200


@pytest.mark.parametrize("attack", [
    "name = 'x' or 1=1 --", "params.lr = '1'' OR ''1''=''1'", "name = 'a'; DROP TABLE runs; --",
    "params.`x; DROP TABLE runs` = 1", "metrics.`loss') OR 1=1 --` > 0",
])
def test_filters_are_bound_as_parameters(world, attack):
    with world["server"].client(world["token"]) as api:
        answer = api.get("/runs", params={"filter": attack})
        if answer.status_code == 200:
            assert answer.json()["runs"] == []
        else:
            assert _is_error_shape(answer, 400)["field"] == "filter"
        order = api.get("/runs", params={"order_by": "name; DROP TABLE runs"})
        assert _is_error_shape(order, 400)["field"] == "order_by"
        found = api.get("/runs", params={"filter": "params.`a'b;c` = 1"}).json()["runs"]
        assert [r["uuid"] for r in found] == [world["files_run"]]


def test_bad_requests_get_one_error_shape_naming_the_field_and_the_fix(world):
    run = world["runs"][0]
    with world["server"].client(world["token"]) as api:
        missing = _is_error_shape(api.get(f"/runs/{'0' * 32}"), 404)
        assert missing["code"] == "not_found" and "runs" in missing["message"]
        assert missing["field"] == "uuid" and missing["hint"]
        bad_filter = _is_error_shape(api.get("/runs", params={"filter": "params.lr <"}), 400)
        assert bad_filter["field"] == "filter" and bad_filter["hint"]
        bad_uri = _is_error_shape(api.get("/lineage", params={"uri": "models/churn/clf"}), 422)
        assert bad_uri["field"] == "uri" and "store://" in bad_uri["hint"]
        wrong_type = _is_error_shape(api.get(f"/runs/{run}/metrics/series",
                                             params={"name": "loss", "points": "many"}), 422)
        assert wrong_type["field"] == "points"
        no_metric = _is_error_shape(api.get(f"/runs/{run}/metrics/series", params={"name": "nope"}), 404)
        assert "loss" in no_metric["message"]  # names the metrics the run has
        assert no_metric["field"] == "name" and no_metric["hint"]
        no_version = _is_error_shape(api.get("/artifacts/version", params={"uri": "store://models/churn/nope"}), 404)
        assert no_version["field"] == "uri" and no_version["hint"]
        assert _is_error_shape(api.delete("/projects"), 405)["code"] == "method_not_allowed"
        assert _is_error_shape(api.get("/nowhere"), 404)["hint"]
        broken = api.post(f"/runs/{run}/metrics", content=b"{not json", headers={"Content-Type": "application/json"})
        assert _is_error_shape(broken, 422)["code"] == "invalid_request"
        bad_value = api.post(f"/runs/{run}/metrics", json={"points": [{"name": "m", "value": "high"}]})
        assert _is_error_shape(bad_value, 422)["field"] == "points.0.value"
        bad_cursor = _is_error_shape(api.get("/runs", params={"cursor": "!!!"}), 400)
        assert bad_cursor["field"] == "cursor"
        bad_status = _is_error_shape(api.post(f"/runs/{run}/status", json={"status": "exploded"}), 409)
        assert "exploded" in bad_status["message"]


def test_a_read_past_the_end_of_a_file_is_empty_at_any_offset(world):
    """Found by schemathesis: a start beyond the largest file the disk allows was an OSError (500)."""
    run = world["files_run"]
    with world["server"].client(world["token"]) as api:
        whole = api.get(f"/sync/runs/{run}/bytes", params={"path": "run.json"})
        assert whole.status_code == 200 and whole.content.startswith(b"{")
        for start in (len(whole.content), len(whole.content) + 1, 2**40, 121645100408831999, 2**63 - 1):
            past = api.get(f"/sync/runs/{run}/bytes", params={"path": "run.json", "start": start})
            assert past.status_code == 200 and past.content == b"", (start, past.text[:200])


def test_a_synced_run_json_with_a_time_that_is_no_time_is_refused_naming_the_field(world):
    """A run.json whose heartbeat_at (or any time) does not parse was a 500 from the catalog."""
    import json
    import uuid as uuid_module

    run_id = uuid_module.uuid4().hex
    record = {"format": "labbook.run", "uuid": run_id, "project": PROJECT, "status": "running",
              "created_at": "2026-12-01T00:00:00+00:00"}
    with world["server"].client(world["token"]) as api:
        for field, value in (("heartbeat_at", "yesterday"), ("created_at", "noon"), ("finished_at", 5)):
            body = {"project": PROJECT, "run_json": json.dumps({**record, field: value})}
            refused = _is_error_shape(api.put(f"/sync/runs/{run_id}", json=body), 422)
            assert field in refused["message"] and repr(value) in refused["message"], refused
        assert api.put(f"/sync/runs/{run_id}", json={"project": PROJECT, "run_json": json.dumps(record)}
                       ).status_code == 201  # nothing was left half-made by the refusals


def test_artifact_and_event_pages_follow_their_cursors(world):
    home = world["home"]
    with world["server"].client(world["token"]) as api:
        seen, cursor = [], None
        while True:
            page = api.get("/artifacts", params={"project": PROJECT, "limit": 1, **({"cursor": cursor} if cursor else {})}).json()
            seen += [a["uri"] for a in page["artifacts"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [v.uri for v in labbook.list_artifacts(PROJECT, home=home)] and len(seen) >= 5
        run = world["runs"][0]
        first = api.get(f"/runs/{run}/events", params={"kind": "image", "name": "sample", "limit": 1}).json()
        second = api.get(f"/runs/{run}/events", params={"kind": "image", "name": "sample", "limit": 1,
                                                         "cursor": first["next_cursor"]}).json()
        assert [e["step"] for e in first["events"] + second["events"]] == [5, 10] and second["next_cursor"] is None
        elsewhere = api.get("/runs", params={"project": PROJECT, "cursor": first["next_cursor"]})
        assert _is_error_shape(elsewhere, 400)["field"] == "cursor"


def test_cors_is_off_unless_configured(world, tmp_path):
    allowed = "http://app.example.org"
    preflight = {"Origin": allowed, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    with world["server"].client(world["token"]) as api:  # no LABBOOK_SERVER_CORS_ORIGINS
        same_site = api.get("/projects", headers={"Origin": f"http://localhost:{world['server'].port}"})
        assert same_site.status_code == 200 and "access-control-allow-origin" not in same_site.headers
        assert _is_error_shape(api.options("/projects", headers=preflight), 403)["code"] == "bad_origin"
    home = tmp_path / ".labbook"
    token, _ = tokens.create_token("reader", "read", home=home)
    server = ServerProcess(home, LABBOOK_SERVER_CORS_ORIGINS=allowed)
    try:
        with server.client(token) as api:
            answer = api.options("/projects", headers=preflight)
            assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == allowed
            assert "authorization" in answer.headers["access-control-allow-headers"].lower()
            read = api.get("/projects", headers={"Origin": allowed})
            assert read.status_code == 200 and read.headers["access-control-allow-origin"] == allowed
            other = api.get("/projects", headers={"Origin": "http://evil.example"})
            assert _is_error_shape(other, 403)["code"] == "bad_origin"
            assert "access-control-allow-origin" not in other.headers
    finally:
        server.stop()


def _routes():
    from tests.test_server_auth import api_routes

    return api_routes()


def test_every_write_route_bounds_its_body_declared_or_streamed(world):
    """From the router table: every POST and PUT route refuses a body over the limit, whether it
    says its length or streams without one (chunked), before the route reads it."""
    writes = [(m, p) for m, p, _scope in _routes() if m in ("POST", "PUT")]
    assert len(writes) >= 15, writes
    run = world["files_run"]
    with world["server"].client(world["token"]) as api:
        for method, template in writes:
            path = template.removeprefix("/api/v1").replace("{uuid}", run).replace("{sha256}", "a" * 64)
            params = {"path": "events/text/x/0-1-abcdef.jsonl", "offset": 0, "size": MAX_BODY + 1}
            declared = api.request(method, path, params=params, content=b"x" * (MAX_BODY + 1),
                                   headers={"Content-Type": "application/json"})
            assert _is_error_shape(declared, 413)["code"] == "body_too_large", (method, template)

            def chunks():  # a well-formed start, so that a multipart parser reads on
                yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
                for _ in range(5):
                    yield b"y" * 1000

            streamed = api.request(method, path, params=params, content=chunks(),
                                   headers={"Content-Type": "multipart/form-data; boundary=b"})
            assert _is_error_shape(streamed, 413)["code"] == "body_too_large", (method, template)


def test_no_path_or_file_parameter_of_any_route_escapes(world):
    """From the router table: every route taking a file path (in its path or as path=) or a
    blob hash refuses each traversal with a 4xx and never answers the target's bytes."""
    run = world["files_run"]
    taking = [(m, p) for m, p, _scope in _routes() if m == "GET" and ("{path" in p or "{sha256}" in p or p.endswith(
        ("/table", "/bytes", "/artifacts/download")))]
    assert len(taking) >= 5, taking
    with world["server"].client(world["token"]) as api:
        for _method, template in taking:
            for attack in TRAVERSALS:
                if "{path" in template or "{sha256}" in template:
                    status, body = _raw_get(world, template.replace("{uuid}", run).replace("{path:path}", attack)
                                            .replace("{path}", attack).replace("{sha256}", attack))
                else:
                    params = {"path": attack, "uri": world["model_uri"], "start": 0}
                    answer = api.get(template.removeprefix("/api/v1").replace("{uuid}", run), params=params)
                    status, body = answer.status_code, answer.content
                assert 400 <= status < 500, (template, attack, status, body[:200])
                assert b"root:" not in body, (template, attack)


def test_a_version_kept_outside_the_stores_is_never_read_by_any_route(world):
    with world["server"].client(world["token"]) as api:
        for path in ("/artifacts/download", "/artifacts/render", "/artifacts/stats", "/artifacts/files"):
            answer = api.get(path, params={"uri": world["outside_uri"]})
            assert 400 <= answer.status_code < 500 and "secret bytes" not in answer.text, (path, answer.text)
            _is_error_shape(answer)
