"""The environment capture's package list: read from METADATA headers, equal to importlib's parse."""

from __future__ import annotations

from importlib import metadata

from labbook.capture import env


def test_the_package_list_equals_the_full_metadata_parse():
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        meta = dist.metadata
        if meta["Name"]:
            expected.setdefault(meta["Name"], meta["Version"])
    listed = env._list_packages()
    assert listed == dict(sorted(expected.items(), key=lambda item: item[0].lower()))
    assert listed["pytest"] == metadata.version("pytest")


def test_only_the_header_is_read():
    text = "Metadata-Version: 2.1\nName: real-name\nVersion: 1.2.3\nSummary: x\n\nName: not-this\nVersion: 9\n"
    assert env._header(text) == ("real-name", "1.2.3")
    assert env._header("Metadata-Version: 2.1\nVersion: 1\n") == (None, "1")
    assert env._header("") == (None, "")


def test_the_folders_on_the_path_are_read_as_importlib_reads_them(tmp_path, monkeypatch):
    """dist-info folders first, then egg-info folders; CRLF headers; the first of a
    name on sys.path wins; a folder without metadata is skipped; the result equals importlib's."""
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "alpha-1.0.dist-info").mkdir(parents=True)
    (first / "alpha-1.0.dist-info" / "METADATA").write_bytes(
        b"Metadata-Version: 2.1\r\nName: Alpha\r\nVersion: 1.0\r\n\r\n" + "description é\n".encode() * 5000)
    (first / "beta.egg-info").mkdir()
    (first / "beta.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: beta\nVersion: 2.0\n")
    (first / "gamma.egg-info").write_text("Metadata-Version: 1.0\nName: gamma\nVersion: 3.0\n\nbody\n")
    (first / "empty.dist-info").mkdir()
    (second / "alpha-0.9.dist-info").mkdir(parents=True)
    (second / "alpha-0.9.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: Alpha\nVersion: 0.9\n")
    monkeypatch.setattr("sys.path", [str(first), str(tmp_path / "missing"), str(second)])
    listed = env._list_packages()
    assert listed == {"Alpha": "1.0", "beta": "2.0"}  # an .egg-info file: importlib lists no name
    assert listed == env._sorted(env._listed_by_importlib())


def test_a_zip_on_the_path_is_listed_by_importlib(tmp_path, monkeypatch):
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    monkeypatch.setattr("sys.path", [str(archive)])
    monkeypatch.setattr(env, "_listed_by_importlib", lambda: {"from-importlib": "1"})
    assert env._list_packages() == {"from-importlib": "1"}


def test_the_description_after_the_header_is_not_decoded(tmp_path):
    path = tmp_path / "METADATA"
    path.write_bytes(b"Name: x\nVersion: 1\n\n" + b"\xff" * 100_000)
    assert env._head(str(path)) == "Name: x\nVersion: 1"
    assert env._head(str(tmp_path / "missing")) == ""
