"""Tokens and scopes, checked over every route of the router table against a real server."""

from __future__ import annotations

import re
import uuid as uuid_module
from datetime import datetime, timedelta, timezone

import pytest

from labbook import tokens
from tests.server_helpers import PROJECT, ServerProcess, make_project

pytestmark = pytest.mark.timeout(240)

PUBLIC = {("GET", "/api/v1/health")}  # the only API route open to everyone: it returns no data


def api_routes():
    """(method, path template, declared scope) of every API route, from the application's router
    table (as its OpenAPI document lists it)."""
    from labbook.config import Settings
    from labbook.server.app import create_app
    from labbook.server.auth import SCOPE_KEY

    document = create_app(Settings.load({})).openapi()
    return [(method.upper(), path, operation.get(SCOPE_KEY))
            for path, operations in document["paths"].items() for method, operation in operations.items()]


SAMPLE_BODIES = {
    ("PUT", "/api/v1/runs/{uuid}"): {"project": PROJECT},
    ("POST", "/api/v1/runs/{uuid}/inputs"): {"values": {"a": 1}},
    ("POST", "/api/v1/runs/{uuid}/outputs"): {"values": {"a": 1}},
    ("POST", "/api/v1/runs/{uuid}/tags"): {"tags": ["x"]},
    ("POST", "/api/v1/runs/{uuid}/status"): {"status": "running"},
    ("POST", "/api/v1/runs/{uuid}/metrics"): {"points": [{"name": "m", "value": 1}]},
    ("POST", "/api/v1/runs/{uuid}/events"): {"events": [{"kind": "text", "name": "t", "value": "v"}]},
    ("POST", "/api/v1/runs/{uuid}/end"): {"status": "succeeded"},
    ("PUT", "/api/v1/sync/runs/{uuid}"): {"project": PROJECT, "run_json": "{}"},
    ("POST", "/api/v1/sync/runs/{uuid}/link"): {"files": {}},
    ("POST", "/api/v1/sync/runs/{uuid}/artifacts"): {"versions": []},
    ("POST", "/api/v1/sync/blobs/missing"): {"hashes": []},
}
SYNC_PARAMS = {"path": "events/text/note/0-1-abcdef.jsonl", "offset": 0, "size": 0}


def _request(client, method, template, made, body_ok=True):
    path = template.removeprefix("/api/v1").replace("{uuid}", made["runs"][0]).replace("{path:path}", "run.json") \
        .replace("{path}", "run.json").replace("{sha256}", "0" * 64)
    params = {"name": "loss", "kind": "text", "uri": made["model_uri"], "tag": "prod", "project": PROJECT,
              "path": "run.json"}
    if template.endswith("/artifacts/tags") and method == "POST":
        return client.request(method, path, json={"uri": made["model_uri"], "tag": "prod"})
    if template.endswith("/series/query"):
        return client.request(method, path, json={"runs": made["runs"][:1], "metrics": ["loss"]})
    if template.endswith("/files") and method == "POST":
        return client.request(method, path, data={"kind": "artifact"}, files={"file": ("a.txt", b"a")})
    if template.startswith("/api/v1/lineage"):
        params = {"run": made["runs"][0]}
    if template.startswith("/api/v1/sync"):
        params = SYNC_PARAMS
    body = SAMPLE_BODIES.get((method, template))
    return client.request(method, path, params=params, json=body)


def test_every_route_declares_a_scope_and_refuses_callers_without_enough(home, tmp_path):
    made = make_project(home, tmp_path / "work")
    routes = api_routes()
    assert routes and all(scope in ("public", "read", "write", "admin") for _, _, scope in routes), routes
    assert {(m, p) for m, p, s in routes if s == "public"} == PUBLIC
    read, _ = tokens.create_token("reader", "read")
    write, _ = tokens.create_token("writer", "write")
    other, _ = tokens.create_token("elsewhere", "admin", project="other-project")
    server = ServerProcess(home)
    try:
        with server.client() as anonymous, server.client(read) as reader, server.client(write) as writer, \
                server.client(other) as outsider:
            for method, template, scope in routes:
                if scope == "public":
                    assert _request(anonymous, method, template, made).status_code == 200
                    continue
                answer = _request(anonymous, method, template, made)
                assert answer.status_code == 401, (method, template, answer.text)
                assert answer.json()["error"]["code"] == "unauthorized"
                assert answer.headers["www-authenticate"].startswith("Bearer")
                if scope in ("write", "admin"):
                    denied = _request(reader, method, template, made)
                    assert denied.status_code == 403, (method, template, denied.text)
                    assert denied.json()["error"]["code"] == "insufficient_scope"
                if scope == "admin":
                    assert _request(writer, method, template, made).status_code == 403
                if "{uuid}" in template or template.startswith(("/api/v1/artifacts", "/api/v1/lineage")):
                    if template == "/api/v1/runs/{uuid}" and method == "PUT":
                        continue  # creating: the body's project decides, checked below
                    hidden = _request(outsider, method, template, made)
                    assert hidden.status_code in (403, 404), (method, template, hidden.text)
            new_run = str(uuid_module.uuid4())
            assert outsider.put(f"/runs/{new_run}", json={"project": PROJECT}).status_code == 404
            assert outsider.get("/runs", params={"project": PROJECT}).status_code == 404
            assert outsider.get("/runs").json()["runs"] == []
            assert outsider.get("/projects").json()["projects"] == []
            assert outsider.get("/runs/count").json()["count"] == 0  # counts, names, windows: nothing of PROJECT
            assert outsider.get("/runs/window").json()["runs"] == []
            for kind in ("params", "metrics", "tags", "outputs"):
                assert outsider.get("/names", params={"kind": kind}).json()["names"] == [], kind
            assert outsider.get("/artifacts").json()["artifacts"] == []
            assert outsider.get("/names", params={"kind": "params", "project": PROJECT}).status_code == 404
            assert outsider.post("/series/groups", json={"runs": made["runs"], "metric": "loss",
                                                         "group_by": "params.lr"}).status_code in (403, 404)
            assert [t["name"] for t in outsider.get("/tokens").json()["tokens"]] == ["elsewhere"]
            assert reader.get(f"/runs/{made['runs'][0]}").status_code == 200
    finally:
        server.stop()


def test_revoked_and_expired_tokens_are_refused_and_none_is_stored_in_clear(home, tmp_path):
    make_project(home, tmp_path / "work")
    live, live_record = tokens.create_token("live", "read")
    revoked, _ = tokens.create_token("gone", "write")
    expired, _ = tokens.create_token("old", "read",
                                     expires=datetime.now(timezone.utc) - timedelta(seconds=1))
    soon, soon_record = tokens.create_token("soon", "read", expires="30d")
    assert timedelta(days=29) < soon_record["expires_at"] - datetime.now(timezone.utc) <= timedelta(days=30)
    assert [t["id"] for t in tokens.revoke_token("gone")]
    server = ServerProcess(home)
    try:
        with server.client() as api:
            def status(token):
                return api.get("/projects", headers={"Authorization": f"Bearer {token}"})

            assert status(live).status_code == 200
            assert status(revoked).status_code == 401 and "revoked" in status(revoked).json()["error"]["message"]
            assert status(expired).status_code == 401 and "expired" in status(expired).json()["error"]["message"]
            wrong_secret = live[:-4] + ("AAAA" if not live.endswith("AAAA") else "BBBB")
            assert status(wrong_secret).status_code == 401
            assert status("not-a-token").status_code == 401
            for params in ({"token": live}, {"Token": live}, {"t": live}, {"filter": f"name = '{live}'"}):
                in_url = api.get("/projects", params=params)  # by its name or by its shape, on any route
                assert in_url.status_code == 400 and in_url.json()["error"]["code"] == "token_in_url", params
            with_header = api.get("/projects", params={"token": live}, headers={"Authorization": f"Bearer {live}"})
            assert with_header.status_code == 400
            assert api.get("/health", params={"access_token": live}).status_code == 400
            basic = api.get("/projects", headers={"Authorization": "Basic abc"})
            assert basic.status_code == 401
    finally:
        server.stop()
    listed = {t["name"]: t for t in tokens.list_tokens()}
    assert listed["live"]["last_used_at"] is not None and listed["gone"]["revoked_at"] is not None
    catalog_bytes = b"".join(p.read_bytes() for p in home.glob("catalog.db*"))
    for token in (live, revoked, expired, soon):
        secret = token[len("lbk_") + 13:]  # after lbk_<12 hex digits>_
        assert len(secret) == 43
        assert secret.encode() not in catalog_bytes
    assert re.fullmatch(r"lbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", live)


def test_public_read_opens_reads_only(home, tmp_path):
    made = make_project(home, tmp_path / "work")
    server = ServerProcess(home, "--public-read")
    try:
        with server.client() as api:
            assert api.get(f"/runs/{made['runs'][0]}").status_code == 200
            assert api.post(f"/runs/{made['runs'][0]}/tags", json={"tags": ["x"]}).status_code == 401
            assert api.get("/tokens").status_code == 401
    finally:
        server.stop()


def test_token_commands(home):
    from click.testing import CliRunner

    from labbook.cli.main import cli

    runner = CliRunner()
    created = runner.invoke(cli, ["server", "token", "create", "--name", "ci", "--scope", "write",
                                  "--project", "churn", "--expires", "30d"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert tokens.check_token(token)[0]["scope"] == "write"
    listing = runner.invoke(cli, ["server", "token", "ls"])
    assert "ci" in listing.output and "write" in listing.output and token not in listing.output
    assert runner.invoke(cli, ["server", "token", "revoke", "ci"]).exit_code == 0
    assert tokens.check_token(token)[0] is None
    bad = runner.invoke(cli, ["server", "token", "create", "--name", "x", "--expires", "soon"])
    assert bad.exit_code == 1 and "30d" in bad.output
