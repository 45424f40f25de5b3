"""Polyaxon's artifact calls, run as the seed documents show them (only the import changed)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from labbook import tracking
from labbook.artifacts.lineage import read_lineage
from labbook.errors import InvalidNameError, InvalidValueError, PathEscapeError


@pytest.fixture
def active(run_factory):
    run = tracking.init(project="seeds", track_code=False, track_env=False, track_logs=False,
                        collect_resources=False)
    yield run
    tracking.end()


def _events(run, kind, name):
    run.flush()
    files = sorted((run.path / "events" / kind / name).glob("*.jsonl"))
    return [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()[1:]]


def _lineage(run):
    return read_lineage(run.path / "lineage.jsonl")


def test_seed_log_artifact_copies_the_file_under_outputs(active, tmp_path):
    os.makedirs("path/from")
    Path("path/from/file.csv").write_text("a,b\n1,2\n")
    version = tracking.log_artifact(name="file", path="path/from/file.csv", kind=tracking.V1ArtifactKind.CSV)
    copied = active.path / "outputs" / "file.csv"
    assert copied.read_text() == "a,b\n1,2\n" and Path("path/from/file.csv").read_text() == "a,b\n1,2\n"
    [record] = _lineage(active)
    assert record["name"] == "file" and record["kind"] == "csv" and record["path"] == "outputs/file.csv"
    assert record["is_input"] is False and record["uri"] == version.uri
    assert version.uri.startswith("store://artifacts/seeds/file@") and version.version == 1
    assert Path(version.local_path()).read_text() == "a,b\n1,2\n"


def test_seed_log_artifact_honours_rel_path(active):
    os.makedirs("path/from")
    Path("path/from/file.csv").write_text("x\n")
    tracking.log_artifact(name="file", path="path/from/file.csv", kind=tracking.V1ArtifactKind.CSV,
                          rel_path="csv_files/new/")
    assert (active.path / "outputs/csv_files/new/file.csv").read_text() == "x\n"
    assert _lineage(active)[0]["path"] == "outputs/csv_files/new/file.csv"


def test_seed_log_model_goes_to_outputs_model_or_rel_path(active):
    os.makedirs("path/from")
    Path("path/from/model.h5").write_bytes(b"weights-1")
    v = tracking.log_model(name="file", path="path/from/model.h5", framework="scikit",
                           summary={"additional_key": "value"})
    assert (active.path / "outputs/model/model.h5").read_bytes() == b"weights-1"
    Path("path/from/model.h5").write_bytes(b"weights-2")
    v2 = tracking.log_model(name="file", path="path/from/model.h5", framework="scikit",
                            summary={"additional_key": "value"}, rel_path="different_folder")
    assert (active.path / "outputs/different_folder/model.h5").read_bytes() == b"weights-2"
    first, second = _lineage(active)
    assert first["kind"] == "model" and first["summary"]["framework"] == "scikit"
    assert first["summary"]["additional_key"] == "value" and second["path"] == "outputs/different_folder/model.h5"
    assert (v.version, v2.version) == (1, 2) and v2.uri.startswith("store://models/seeds/file@")
    assert v2.labels == {"framework": "scikit"} and v2.meta["framework"] == "scikit"


def test_seed_versioned_model_checkpoints(active):
    Path("model.ckpt").write_bytes(b"step-3")
    tracking.log_model("model.ckpt", name="model", framework="tensorflow", step=3)
    Path("model.ckpt").write_bytes(b"step-140")
    tracking.log_model("model.ckpt", name="model", framework="tensorflow", step=140)
    assets = active.path / "assets" / "model"
    assert (assets / "model_3.ckpt").read_bytes() == b"step-3"
    assert (assets / "model_140.ckpt").read_bytes() == b"step-140"
    events = _events(active, "model", "model")
    assert [e["step"] for e in events] == [3, 140]
    assert events[1]["value"]["framework"] == "tensorflow" and events[1]["value"]["path"] == "assets/model/model_140.ckpt"
    assert tracking.get_run() and _lineage(active) == []  # versioned assets write events, not lineage
    latest = __import__("labbook").get_artifact("store://models/seeds/model")
    assert latest.version == 2 and latest.read_bytes() == b"step-140"


def test_seed_versioned_generic_artifact_and_directories(active):
    Path("df.pkl").write_bytes(b"frame-a")
    tracking.log_artifact("df.pkl", kind=tracking.V1ArtifactKind.DATAFRAME, name="df-pickle", step=3)
    tracking.log_artifact("df.pkl", kind=tracking.V1ArtifactKind.DATAFRAME, name="df-pickle", step=140)
    assert (active.path / "assets/dataframe/df-pickle_3.pkl").read_bytes() == b"frame-a"
    assert [e["step"] for e in _events(active, "dataframe", "df-pickle")] == [3, 140]
    os.makedirs("ckpt/sub")
    Path("ckpt/sub/w.bin").write_bytes(b"w")
    for step in (1, 1, 2):  # a directory, logged again at the same step, and at another
        tracking.log_artifact("ckpt", name="ckpt", step=step)
    assert (active.path / "assets/dir/ckpt_2/sub/w.bin").read_bytes() == b"w"
    v = __import__("labbook").get_artifact("store://artifacts/seeds/ckpt")
    assert v.is_dir and v.version == 1 and Path(v.local_path(), "sub/w.bin").read_bytes() == b"w"


def test_unstepped_directory_logged_twice(active):
    for content in (b"1", b"2"):
        os.makedirs("out", exist_ok=True)
        Path("out/a.txt").write_bytes(content)
        v = tracking.log_artifact("out", name="out")
    assert (active.path / "outputs/out/a.txt").read_bytes() == b"2"
    assert v.version == 2 and v.kind == "dir"
    with __import__("labbook").get_artifact("store://artifacts/seeds/out:v1").open(path="a.txt") as handle:
        assert handle.read() == b"1"


def test_seed_reference_logging(active):
    asset_path = tracking.get_outputs_path("custom_artifacts/filename.ext")
    Path(asset_path).write_text("saved by the user")
    tracking.log_artifact_ref(path=asset_path)
    S3_URI = "s3://my-bucket"
    asset_path = "{}/file.ext".format(S3_URI)
    tracking.log_artifact_ref(path=asset_path, name="myfile", summary={"extra_key": "extra_value"})
    model_dir = tracking.get_outputs_path("model", is_dir=True)
    Path(model_dir, "saved_model.pb").write_bytes(b"pb")
    tracking.log_model_ref(model_dir, framework="tensorflow", summary={"layers": 3})
    local, remote, model = _lineage(active)
    assert local["path"] == "outputs/custom_artifacts/filename.ext" and len(local["summary"]["hash"]) == 12
    assert remote["path"] == "s3://my-bucket/file.ext" and remote["summary"] == {"extra_key": "extra_value"}
    assert local["kind"] == remote["kind"] == "file" and local["name"] == "filename.ext"
    assert model["kind"] == "model" and model["name"] == "model" and model["path"] == "outputs/model"
    assert model["summary"]["framework"] == "tensorflow" and model["summary"]["layers"] == 3


def test_other_refs(active):
    tracking.log_data_ref(name="dataset", content=[1, 2, 3])
    tracking.log_file_ref("/etc/hostname", name="host", skip_hash_calculation=True)
    tracking.log_dir_ref("gs://bucket/dir/")
    tracking.log_code_ref({"commit": "0ae0ca91", "branch": "main", "url": "https://x/y"})
    tracking.log_env(content={"python": "3.11"})
    path = tracking.get_tensorboard_path()
    tracking.get_tensorboard_path()  # recorded once per run
    tracking.log_artifact_lineage([{"name": "raw", "kind": "data", "path": "s3://b/raw", "is_input": True},
                                   tracking.V1RunArtifact(name="extra", kind="file", path="x")])
    data, host, directory, code, env, board, raw, extra = _lineage(active)
    assert data["kind"] == "data" and data["is_input"] is True and len(data["summary"]["hash"]) == 12
    assert host["path"] == "/etc/hostname" and "hash" not in host["summary"]
    assert directory["kind"] == "dir" and directory["name"] == "dir"
    assert code["kind"] == "coderef" and code["name"] == "0ae0ca91" and code["is_input"]
    assert env["path"] == "outputs/env.json" and orjson.loads((active.path / "outputs/env.json").read_bytes())
    assert board["kind"] == "tensorboard" and path.endswith("outputs/tensorboard")
    assert raw["is_input"] and extra["name"] == "extra"


def test_missing_source_and_bad_kind_name_the_value_and_fix(active):
    with pytest.raises(InvalidValueError, match=r"'nope.pt' does not exist \(cwd: .*\)\. Pass an existing"):
        tracking.log_artifact("nope.pt")
    Path("a.txt").write_text("a")
    with pytest.raises(InvalidValueError, match="Unknown artifact kind 'pickle'"):
        tracking.log_artifact("a.txt", kind="pickle")
    with pytest.raises(InvalidValueError, match="unexpected arguments"):
        tracking.log_artifact("a.txt", colour="red")
    tracking.log_artifact("a.txt", versioned=False)  # an old Polyaxon argument is accepted


@pytest.mark.parametrize("call", [
    pytest.param(lambda: tracking.log_artifact("a.txt", rel_path="../../escape"), id="rel_path-dotdot"),
    pytest.param(lambda: tracking.log_artifact("a.txt", rel_path="/etc"), id="rel_path-absolute"),
    pytest.param(lambda: tracking.log_model("a.txt", rel_path="../x"), id="model-rel_path"),
    pytest.param(lambda: tracking.log_artifact_ref("x", kind="file", rel_path="../../x"), id="ref-rel_path"),
    pytest.param(lambda: tracking.log_env(rel_path="../env.json"), id="env-rel_path"),
    pytest.param(lambda: tracking.get_outputs_path("../../x"), id="outputs-path"),
    pytest.param(lambda: tracking.use_artifact("store://datasets/seeds/../k"), id="uri-dotdot"),
    pytest.param(lambda: tracking.log_artifact("a.txt", sources=["store://datasets/seeds/../k"]), id="sources"),
])
def test_paths_that_would_escape_are_refused(active, call):
    Path("a.txt").write_text("a")
    with pytest.raises(PathEscapeError):
        call()
    assert Path("a.txt").exists()  # nothing was moved before the refusal


def test_names_that_would_escape_are_made_safe_or_refused(active):
    Path("a.txt").write_text("a")
    v = tracking.log_artifact("a.txt", name="../../evil", step=1)
    assert (active.path / "assets/file").is_dir() and not (active.path.parent / "evil_1.txt").exists()
    assert v.key == "evil"
    with pytest.raises(InvalidNameError):
        tracking.log_artifact("a.txt", name="   ")
    with pytest.raises(InvalidNameError):
        tracking.log_dataset(__import__("pandas").DataFrame({"x": [1]}), "///")


def test_logging_is_a_move_and_a_link_never_two_copies(active):
    Path("big.bin").write_bytes(os.urandom(1 << 16))
    v = tracking.log_artifact("big.bin", name="big")
    output = active.path / "outputs/big.bin"
    blob = Path(v.location)
    assert os.path.samefile(output, blob) and output.stat().st_nlink == 2
    assert not os.access(blob, os.W_OK) or os.geteuid() == 0  # blobs are read-only
    assert "_artifacts" in blob.parts and blob.name.startswith(v.hash)


def test_module_api_without_a_run_says_how_to_start_one():
    from labbook.errors import NoActiveRunError

    with pytest.raises(NoActiveRunError, match="tracking.init"):
        tracking.log_artifact("x")


def test_a_logged_file_rewritten_in_place_is_detected_not_served(active):
    Path("model.pt").write_bytes(b"version one")
    v = tracking.log_artifact("model.pt", name="model")
    output = active.path / "outputs/model.pt"
    os.chmod(output, 0o644)  # what a root process can do anyway
    with open(output, "r+b") as handle:  # an in-place rewrite, as torch.save(path) would do
        handle.write(b"VERSION TWO")
    from labbook.artifacts.version import ArtifactIntegrityError

    fresh = __import__("labbook").get_artifact(v.uri)
    if os.path.samefile(output, fresh.location):  # hard-linked store: the change is caught
        with pytest.raises(ArtifactIntegrityError, match="changed in place"):
            fresh.read_bytes()
    else:  # copy-on-write clone or copy: the version kept its bytes
        assert fresh.read_bytes() == b"version one"


def test_escapes_through_reading_and_templates_are_refused(active, run_factory):
    os.makedirs("d")
    Path("d/a.txt").write_text("a")
    v = tracking.log_artifact("d", name="d")
    with pytest.raises(PathEscapeError):
        v.open(path="../../../etc/passwd")
    with pytest.raises(PathEscapeError):
        tracking.log_dataset(__import__("pandas").DataFrame({"x": [1]}), "t", rel_path="../../x")
    slashed = run_factory(project="seeds", name="a/b")
    Path("b.txt").write_text("b")
    with pytest.raises(PathEscapeError, match="not one path component"):
        slashed.log_artifact("b.txt", artifact_path=str(Path("store-{{run.name}}").absolute()))
    assert Path("b.txt").exists()


def test_relogging_a_file_taken_from_the_store_keeps_the_store_whole(active):
    Path("w.bin").write_bytes(b"weights")
    v = tracking.log_artifact("w.bin", name="w")
    again = tracking.log_artifact(v.local_path(), name="w")  # moves the stored file into outputs/
    assert again.uid == v.uid and Path(v.location).read_bytes() == b"weights"
    assert __import__("labbook").get_artifact(v.uri).read_bytes() == b"weights"


def test_model_calls_set_run_meta_flags(active):
    Path("m.bin").write_bytes(b"m")
    tracking.log_model("m.bin", name="m", step=1)
    tracking.get_tensorboard_path()
    active.flush()
    meta = orjson.loads((active.path / "run.json").read_bytes())["meta"]
    assert meta["has_model"] is True and meta["has_tensorboard"] is True


@pytest.mark.parametrize("kwargs", [
    pytest.param({"step": "three"}, id="step"),
    pytest.param({"summary": "text"}, id="summary"),
    pytest.param({"labels": ["a"]}, id="labels"),
    pytest.param({"sources": ["store://datasets/seeds/missing"]}, id="unknown-source"),
    pytest.param({"name": "///"}, id="name"),
])
def test_a_refused_call_leaves_the_file_where_it_was(active, kwargs):
    Path("a.txt").write_text("a")
    with pytest.raises(__import__("labbook").LabbookError):
        tracking.log_artifact("a.txt", **kwargs)
    assert Path("a.txt").read_text() == "a" and not (active.path / "outputs/a.txt").exists()
