"""Compressed answers: the dashboard's files go out as the .br/.gz copies the build wrote (with
Content-Encoding, Vary and the right caching), large JSON answers go out gzipped, and files,
ranges and streams go out as they are."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from labbook import tokens
from labbook.server.compression import JsonGzip, PrecompressedFiles, accepted
from tests.conftest import require
from tests.server_helpers import make_project


def test_accept_encoding_is_parsed_with_its_weights():
    assert accepted("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted("GZIP ; Q=1") == {"gzip"}
    assert accepted("*") == {"br", "gzip", "*"}
    assert accepted("*, br;q=0") == {"gzip", "*"}
    assert accepted("gzip;q=nonsense") == set()
    assert accepted(None) == accepted("") == set()


@pytest.fixture
def files(tmp_path):
    """A folder like the built dashboard: index.html, a hashed asset with .gz and .br copies (the
    .br copy here is a stand-in: only its bytes are compared), and an asset without copies."""
    folder = tmp_path / "static"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>t</title>" + "<p>x</p>" * 200)
    script = ("export const words = " + json.dumps([f"word-{i}" for i in range(2000)]) + ";\n").encode()
    (folder / "assets" / "index-AbC123.js").write_bytes(script)
    (folder / "assets" / "index-AbC123.js.gz").write_bytes(gzip.compress(script, 9))
    (folder / "assets" / "index-AbC123.js.br").write_bytes(b"brotli stand-in")
    (folder / "assets" / "font-Zz9.woff2").write_bytes(b"\x00" * 3000)
    return folder, script


def _client(app):
    from starlette.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1")


def test_precompressed_copies_are_sent_when_the_client_takes_them(files):
    from starlette.applications import Starlette
    from starlette.routing import Mount

    folder, script = files
    app = Starlette(routes=[Mount("/", PrecompressedFiles(directory=folder, html=True))])
    with _client(app) as client:
        path = "/assets/index-AbC123.js"
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and plain.content == script and "content-encoding" not in plain.headers
        assert plain.headers["vary"] == "Accept-Encoding"
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"

        with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "gzip" and answer.headers["vary"] == "Accept-Encoding"
        assert answer.headers["content-type"] == plain.headers["content-type"]
        assert int(answer.headers["content-length"]) == len(raw) < len(script)
        assert gzip.decompress(raw) == script
        assert answer.headers["etag"] != plain.headers["etag"]  # another representation, another tag

        with client.stream("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "br" and raw == (folder / "assets" / "index-AbC123.js.br").read_bytes()
        with client.stream("GET", path, headers={"Accept-Encoding": "br;q=0, gzip"}) as answer:
            assert answer.headers["content-encoding"] == "gzip"

        # a range is of the file itself, never of a compressed copy
        ranged = client.get(path, headers={"Accept-Encoding": "gzip, br", "Range": "bytes=0-99"})
        assert ranged.status_code == 206 and "content-encoding" not in ranged.headers
        assert ranged.content == script[:100]

        # revalidation of the compressed copy answers 304
        etag = client.get(path, headers={"Accept-Encoding": "gzip"}).headers["etag"]
        assert client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}).status_code == 304

        # no copies: the file as it is, no Vary; the page itself is revalidated, not kept
        font = client.get("/assets/font-Zz9.woff2", headers={"Accept-Encoding": "gzip, br"})
        assert "content-encoding" not in font.headers and "vary" not in font.headers
        for page in ("/", "/index.html"):
            index = client.get(page, headers={"Accept-Encoding": "gzip"})
            assert index.status_code == 200 and index.headers["cache-control"] == "no-cache"
            assert "content-encoding" not in index.headers


def test_json_gzip_leaves_streams_files_and_small_answers_alone(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    big = {"rows": [{"i": i, "name": f"run-{i}"} for i in range(500)]}
    stored = tmp_path / "run.json"
    stored.write_text(json.dumps(big))

    async def stream(request):
        async def pieces():
            for i in range(3):
                yield json.dumps({"i": i, "pad": "x" * 2000}).encode() + b"\n"
        return StreamingResponse(pieces(), media_type="application/json")

    routes = [Route("/big", lambda r: JSONResponse(big)), Route("/small", lambda r: JSONResponse({"ok": True})),
              Route("/stream", stream), Route("/file", lambda r: FileResponse(stored, media_type="application/json")),
              Route("/html", lambda r: Response("<p>" + "x" * 5000, media_type="text/html")),
              Route("/encoded", lambda r: Response(gzip.compress(json.dumps(big).encode()), media_type="application/json",
                                                   headers={"Content-Encoding": "gzip"}))]
    app = JsonGzip(Starlette(routes=routes), minimum_size=1024)
    with _client(app) as client:
        with client.stream("GET", "/big", headers={"Accept-Encoding": "gzip"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "gzip" and answer.headers["vary"] == "Accept-Encoding"
        assert int(answer.headers["content-length"]) == len(raw) and json.loads(gzip.decompress(raw)) == big
        unasked = client.get("/big", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in unasked.headers and unasked.json() == big
        for path in ("/small", "/stream", "/file", "/html"):
            answer = client.get(path, headers={"Accept-Encoding": "gzip"})
            assert answer.status_code == 200 and "content-encoding" not in answer.headers, path
        assert len(client.get("/stream", headers={"Accept-Encoding": "gzip"}).text.splitlines()) == 3
        ranged = client.get("/file", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
        assert ranged.status_code == 206 and ranged.content == stored.read_bytes()[:10]
        with client.stream("GET", "/encoded", headers={"Accept-Encoding": "gzip"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert json.loads(gzip.decompress(raw)) == big  # compressed once, not twice


def test_the_server_gzips_its_json_and_ships_the_compressed_dashboard(home, tmp_path):
    """On the real application: a large API answer is gzipped, a run's files are not (ranges
    still work), and when the dashboard is built its entry script comes as the build's copies."""
    from labbook.config import Settings
    from labbook.server.app import create_app

    make_project(home, tmp_path / "work")
    token, _ = tokens.create_token("test", "read")
    auth = {"Authorization": f"Bearer {token}"}
    with _client(create_app(Settings.load({}))) as client:
        with client.stream("GET", "/api/v1/runs", headers={**auth, "Accept-Encoding": "gzip"}) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
        runs = json.loads(gzip.decompress(raw))["runs"]
        assert len(runs) >= 3
        small = client.get("/api/v1/health", headers={"Accept-Encoding": "gzip"})
        assert small.status_code == 200 and "content-encoding" not in small.headers
        uuid = runs[0]["uuid"]
        file = client.get(f"/api/v1/runs/{uuid}/files/run.json", headers={**auth, "Accept-Encoding": "gzip"})
        assert file.status_code == 200 and "content-encoding" not in file.headers
        ranged = client.get(f"/api/v1/runs/{uuid}/files/run.json", headers={**auth, "Range": "bytes=0-9"})
        assert ranged.status_code == 206 and ranged.content == file.content[:10]

        from labbook.dashboard import static_dir

        folder = static_dir()
        require(folder is not None, "the dashboard is not built (cd ui && npm ci && npm run build)")
        entry = re.search(r'src="\./(assets/[^"]+\.js)"', (folder / "index.html").read_text()).group(1)
        require((folder / f"{entry}.br").is_file(), "the dashboard was built without its compressed copies (npm run build)")
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            with client.stream("GET", f"/{entry}", headers={"Accept-Encoding": encoding}) as answer:
                raw = b"".join(answer.iter_raw())
            assert answer.headers["content-encoding"] == encoding
            assert answer.headers["content-security-policy"].startswith("default-src 'none'")
            assert raw == (folder / f"{entry}{suffix}").read_bytes()
        assert gzip.decompress((folder / f"{entry}.gz").read_bytes()) == (folder / entry).read_bytes()
        index = client.get("/", headers={"Accept-Encoding": "gzip, br"})
        assert index.headers["cache-control"] == "no-cache" and "<div id=\"root\">" in index.text


def test_a_local_only_server_answers_its_own_machine_unpacked(home, tmp_path):
    """labbook ui (local-only) sends JSON to a loopback browser as it is (packing it costs the CPU
    the page waits for, moving it costs nothing); a remote client of the same app, and every client
    of a team server, still gets it gzipped."""
    from starlette.testclient import TestClient

    from labbook.config import Settings
    from labbook.server.app import create_app
    from labbook.server.compression import loopback_peer

    assert loopback_peer({"client": ("127.0.0.1", 5000)}) and loopback_peer({"client": ("::1", 5000)})
    assert not loopback_peer({"client": ("10.0.0.7", 5000)}) and not loopback_peer({"client": ("testclient", 1)})
    assert not loopback_peer({"client": None}) and not loopback_peer({})

    make_project(home, tmp_path / "work")
    token, _ = tokens.create_token("test", "read")
    asked = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}

    def encoding(local_only: bool, peer: str) -> str | None:
        app = create_app(Settings.load({"server_local_only": local_only}))
        with TestClient(app, base_url="http://127.0.0.1", client=(peer, 5000)) as client:
            with client.stream("GET", "/api/v1/runs", headers=asked) as answer:
                raw = b"".join(answer.iter_raw())
            assert answer.status_code == 200, raw
            body = gzip.decompress(raw) if answer.headers.get("content-encoding") == "gzip" else raw
            assert len(json.loads(body)["runs"]) >= 3 and len(body) >= 1024
            return answer.headers.get("content-encoding")

    assert encoding(True, "127.0.0.1") is None
    assert encoding(True, "192.0.2.10") == "gzip"
    assert encoding(False, "127.0.0.1") == "gzip"
