"""Artifacts never lose data: the user's files stay, records are whole, templates stay templates."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

import labbook
from labbook import tracking
from labbook.artifacts.lineage import read_lineage
from labbook.errors import ConfigError


@pytest.fixture
def active(run_factory):
    run = tracking.init(project="p", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    yield run
    tracking.end()


def _versions_dir(home: Path, key: str) -> Path:
    return home / "artifacts" / "p" / "_artifacts" / key / "versions"


def _rebuild():
    from labbook.catalog import indexer
    from labbook.catalog.catalog import Catalog
    from labbook.config import Settings

    settings = Settings.load({})
    catalog = Catalog(settings.catalog_url)
    try:
        return indexer.rebuild(catalog, Path(settings.artifacts_root), settings=settings)
    finally:
        catalog.close()


def _all_records_sound(root: Path) -> None:
    """Every version record and tag move under ``root`` parses; no temporary file is left."""
    for path in root.rglob("*"):
        assert ".tmp-" not in path.name, f"temporary file left behind: {path}"
        if path.suffix == ".json" and path.parent.name in ("versions", "tags"):
            assert isinstance(orjson.loads(path.read_bytes()), dict), path


# -- damaged version records -------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"schema": "labbook.artifact", "project": "p", "ke', id="cut-short"),
    pytest.param(b'{"schema": "labbook.artifact"}', id="not-a-record"),
])
def test_a_damaged_version_record_is_set_aside_and_the_key_stays_usable(active, home, content):
    for text in ("one", "two"):
        Path("k.txt").write_text(text)
        tracking.log_artifact("k.txt", name="k")
    versions = _versions_dir(home, "k")
    (versions / "v000000002.json").write_bytes(content)  # what a crash or a full disk left
    Path("k.txt").write_text("three")
    v = tracking.log_artifact("k.txt", name="k")
    assert v.version == 3  # number 2 is never used again
    assert (versions / "v000000002.damaged").read_bytes() == content  # kept for a person to see
    assert not (versions / "v000000002.json").exists()
    assert labbook.get_artifact("store://artifacts/p/k").read_bytes() == b"three"
    assert labbook.get_artifact("store://artifacts/p/k:v1").read_bytes() == b"one"
    result = _rebuild()
    assert result["damaged"] == [str(versions / "v000000002.damaged")]
    assert [x.version for x in labbook.list_artifacts("p", key="k")] == [3, 1]


def test_rebuild_sets_aside_damaged_records_and_the_cli_prints_them(active, home):
    from labbook.cli.main import cli

    Path("a.txt").write_text("a")
    v = tracking.log_artifact("a.txt", name="k")
    labbook.tag_artifact(v.uri, "gold")
    versions = _versions_dir(home, "k")
    tags = versions.parent / "tags"
    (versions / "v000000002.json").write_bytes(b'{"trunc')
    [tag_file] = list(tags.glob("*.json"))
    (tags / "00000000000000000001-aaaaaa.json").write_bytes(b"")
    result = CliRunner().invoke(cli, ["index", "--rebuild"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "2 damaged artifact record(s)" in result.output
    assert str(versions / "v000000002.damaged") in result.output
    assert str(tags / "00000000000000000001-aaaaaa.damaged") in result.output
    assert not (versions / "v000000002.json").exists() and tag_file.exists()
    assert labbook.get_artifact("store://artifacts/p/k:gold").uid == v.uid
    Path("a.txt").write_text("b")
    assert tracking.log_artifact("a.txt", name="k").version == 3


def test_records_are_written_whole_or_not_at_all(tmp_path):
    from labbook.store.files import write_atomic

    target = tmp_path / "records" / "v000000001.json"
    assert write_atomic(target, b'{"a": 1}', exclusive=True)
    assert not write_atomic(target, b'{"a": 2}', exclusive=True)  # the number is taken
    assert target.read_bytes() == b'{"a": 1}'
    write_atomic(target, b'{"a": 3}')
    assert target.read_bytes() == b'{"a": 3}' and sorted(p.name for p in target.parent.iterdir()) == [target.name]


# -- the user's files stay where they are -------------------------------------------------------


def _snapshot(path: Path):
    st = os.lstat(path)
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if path.is_dir():
        return ("dir", st.st_ino, sorted((p.relative_to(path).as_posix(), p.read_bytes())
                                         for p in path.rglob("*") if p.is_file()))
    return ("file", st.st_ino, path.read_bytes(), st.st_mode)


@pytest.mark.parametrize("call", ["log_artifact", "log_model"])
@pytest.mark.parametrize("shape", ["file", "dir", "link-to-file", "link-to-dir"])
@pytest.mark.parametrize("step", [None, 3])
def test_the_users_file_is_copied_never_moved(active, call, shape, step):
    shared = Path("shared")
    shared.mkdir()
    if "dir" in shape:
        (shared / "model").mkdir()
        (shared / "model" / "w.bin").write_bytes(b"weights")
        original = shared / "model"
    else:
        original = shared / "model.pkl"
        original.write_bytes(b"weights")
    given = original
    if shape.startswith("link"):
        given = Path("link" if "dir" in shape else "link.pkl")
        given.symlink_to(original.absolute())
    before = {p: _snapshot(p) for p in (original, given)}
    v = getattr(tracking, call)(str(given), name="m", step=step)
    assert {p: _snapshot(p) for p in (original, given)} == before  # same bytes, inode, kind
    stored = Path(v.local_path())
    if v.is_dir:
        assert (stored / "w.bin").read_bytes() == b"weights"
    else:
        assert stored.read_bytes() == b"weights"
        assert not os.path.samefile(stored, original)  # writing the original cannot change the version
    if step is None and call == "log_model":
        assert read_lineage(active.path / "lineage.jsonl")[0]["path"].startswith("outputs/model/")


def test_polyaxons_sklearn_example_keeps_its_model_file(active):
    pickle = pytest.importorskip("pickle")
    Path("model.joblib").write_bytes(pickle.dumps({"coef": [0.1, 0.2]}))
    tracking.log_model("model.joblib", name="iris-model", framework="scikit-learn")
    with open("model.joblib", "rb") as handle:  # the example goes on using the file
        assert pickle.loads(handle.read()) == {"coef": [0.1, 0.2]}
    assert (active.path / "outputs/model/model.joblib").read_bytes() == Path("model.joblib").read_bytes()


def test_a_link_planted_in_outputs_is_not_written_through(active, tmp_path):
    from labbook.errors import PathEscapeError

    outside = tmp_path / "outside"
    outside.mkdir()
    (active.path / "outputs" / "model").symlink_to(outside)
    Path("m.pkl").write_bytes(b"m")
    with pytest.raises(PathEscapeError, match="symbolic link"):
        tracking.log_model("m.pkl", name="m")
    assert list(outside.iterdir()) == [] and Path("m.pkl").read_bytes() == b"m"


# -- NaN in summaries ---------------------------------------------------------------------------


def test_nan_and_infinity_in_a_summary_follow_the_documented_rule(active, home):
    Path("a.txt").write_text("a")
    v = tracking.log_artifact("a.txt", name="k", summary={"loss": float("nan"), "best": float("inf"),
                                                          "worst": float("-inf"), "ok": 0.5})
    expected = {"loss": "nan", "best": "inf", "worst": "-inf", "ok": 0.5}
    assert v.summary == expected
    record = orjson.loads((_versions_dir(home, "k") / "v000000001.json").read_bytes())
    assert record["summary"] == expected
    [lineage] = read_lineage(active.path / "lineage.jsonl")
    assert {k: lineage["summary"][k] for k in expected} == expected


# -- artifact path templates --------------------------------------------------------------------


@pytest.mark.parametrize("run_name", ["{{project}}", "{{bogus}}", "{{ run.uid }}"])
def test_values_put_into_a_template_are_never_templates(run_factory, tmp_path, monkeypatch, run_name):
    store = tmp_path / "store"
    monkeypatch.setenv("LABBOOK_ARTIFACT_PATH", f"{store}/{{{{project}}}}/{{{{run.name}}}}")
    run = run_factory(project="p", name=run_name)
    Path("a.txt").write_text("a")
    v = run.log_artifact("a.txt", name="a")
    assert Path(v.location).is_relative_to(store / "p" / run_name)
    assert v.read_bytes() == b"a"


def test_an_unknown_template_name_fails_at_init_naming_it_and_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("LABBOOK_ARTIFACT_PATH", f"{tmp_path}/{{{{run.owner}}}}")
    with pytest.raises(ConfigError, match=r"\{\{run.owner\}\}.*\{\{project\}\}.*\{\{run.name\}\}"):
        tracking.init(project="p", track_code=False, track_env=False, track_logs=False,
                      collect_resources=False)
    with pytest.raises(ConfigError, match=r"\{\{who\}\}"):
        __import__("labbook.workspace").workspace.set_project_artifact_path("p", str(tmp_path / "{{who}}"))


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def home_on_small_disk(small_disk, monkeypatch):
    home = small_disk.path / ".labbook"
    monkeypatch.setenv("LABBOOK_HOME", str(home))
    return home


@pytest.mark.parametrize("size, failing", [pytest.param(1 << 20, "outputs", id="the-copy-fails"),
                                           pytest.param(0, "versions", id="the-record-fails")])
def test_a_full_disk_during_log_artifact_leaves_no_partial_record(home_on_small_disk, small_disk,
                                                                   run_factory, size, failing):
    run = run_factory(project="p")
    Path("k.bin").write_bytes(b"first")
    run.log_artifact("k.bin", name="k")
    run.flush()
    Path("k.bin").write_bytes(os.urandom(size))
    small_disk.fill()
    with pytest.raises(OSError) as raised:
        run.log_artifact("k.bin", name="k")
    assert raised.value.errno == errno.ENOSPC and failing in Path(raised.value.filename).parts
    assert Path("k.bin").stat().st_size == size  # the user's file is untouched
    _all_records_sound(home_on_small_disk)
    small_disk.free()
    Path("k.bin").write_bytes(b"after")
    v = run.log_artifact("k.bin", name="k")
    assert labbook.get_artifact("store://artifacts/p/k").uid == v.uid and v.read_bytes() == b"after"
    assert labbook.get_artifact("store://artifacts/p/k:v1").read_bytes() == b"first"
    run.end()
    _all_records_sound(home_on_small_disk)
    assert _rebuild()["damaged"] == []
