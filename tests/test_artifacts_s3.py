"""The artifact store on a real S3-compatible server (moto) on loopback: bytes, version records,
tags, resolution by URI, download, lineage and gc, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import labbook


@pytest.fixture
def s3_store(s3_bucket, monkeypatch):
    """A fresh bucket on moto (tests/conftest.py) as the artifact store: (filesystem, root URL)."""
    import s3fs

    monkeypatch.setenv("LABBOOK_ARTIFACT_STORE", s3_bucket)
    return s3fs.S3FileSystem(), s3_bucket


def test_end_to_end_with_an_s3_artifact_store(run_factory, s3_store, home):
    fs, root = s3_store
    prepare = run_factory(project="churn", name="prepare")
    v1 = prepare.log_dataset(pd.DataFrame({"x": [1, 2]}), "train")
    same = prepare.log_dataset(pd.DataFrame({"x": [1, 2]}), "train")
    v2 = prepare.log_dataset(pd.DataFrame({"x": [3]}), "train")
    assert (v1.version, same.version, v2.version) == (1, 1, 2)
    assert v1.location.startswith(f"{root}/churn/_artifacts/train/") and fs.exists(v1.location)
    records = fs.ls(f"{root}/churn/_artifacts/train/versions", detail=False)
    assert sorted(p.rsplit("/", 1)[-1] for p in records) == ["v000000001.json", "v000000002.json"]
    prepare.end()

    train = run_factory(project="churn", name="train")
    assert train.use_artifact("store://datasets/churn/train:v1").as_df()["x"].tolist() == [1, 2]
    Path("model").mkdir()
    Path("model/weights.bin").write_bytes(b"w" * 1000)
    Path("model/config.json").write_text("{}")
    model = train.log_model("model", name="clf", framework="torch")
    train.end()
    assert model.is_dir and model.location.startswith(f"{root}/churn/_artifacts/clf/")

    labbook.tag_artifact("store://datasets/churn/train:v1", "gold")
    assert labbook.get_artifact("store://datasets/churn/train:gold").as_df()["x"].tolist() == [1, 2]
    assert labbook.get_artifact(v2.uri).as_df()["x"].tolist() == [3]
    local = Path(labbook.get_artifact("store://models/churn/clf").local_path())
    assert (local / "weights.bin").read_bytes() == b"w" * 1000
    dest = Path(labbook.get_artifact("store://models/churn/clf").download("downloaded"))
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "weights.bin"]
    assert labbook.get_artifact(model.uri).open(path="config.json").read() == b"{}"

    graph = labbook.get_lineage(model.uri, direction="up")
    assert {f"run:{train.uuid}", f"artifact:{v1.uid}", f"run:{prepare.uuid}"} <= set(graph.nodes)

    # the catalog is an index: drop it and rebuild it from the S3 store and the run folders
    from labbook.config import Settings
    from labbook.workspace import Workspace

    settings = Settings.load({})
    for suffix in ("", "-wal", "-shm"):
        Path(str(home / "catalog.db") + suffix).unlink(missing_ok=True)
    with Workspace(settings) as workspace:
        workspace.reindex()
    assert labbook.get_artifact("store://datasets/churn/train:gold").uid == v1.uid
    assert set(labbook.get_lineage(model.uri, direction="up").nodes) == set(graph.nodes)

    labbook.delete_artifact("store://datasets/churn/train:v2")
    from labbook.workspace import gc

    assert gc("churn")["removed"] == 1 and not fs.exists(v2.location) and fs.exists(v1.location)


def test_s3_reads_follow_the_policy(run_factory, s3_store, monkeypatch):
    fs, root = s3_store
    run = run_factory(project="p")
    Path("a.txt").write_text("a")
    other = root.replace("/store", "/elsewhere")
    version = run.log_artifact("a.txt", name="a", artifact_path=other)
    with pytest.raises(labbook.LabbookError, match="not allowed"):
        version.read_bytes()
    monkeypatch.setenv("LABBOOK_ALLOWED_PATHS", other)
    assert labbook.get_artifact(version.uri).read_bytes() == b"a"
    assert os.environ["LABBOOK_ARTIFACT_STORE"] == root


def test_the_three_run_pipeline_with_an_s3_artifact_store(run_factory, s3_store):
    from tests.test_lineage import _pipeline

    fs, root = s3_store
    p = _pipeline(run_factory)
    for key in ("report", "model", "train_set", "test_set"):
        assert p[key].location.startswith(f"{root}/churn/_artifacts/") and fs.exists(p[key].location)
    graph = labbook.get_lineage(p["report"].uri, direction="up")
    assert {f"run:{p['prepare'].uuid}", f"run:{p['train'].uuid}", f"run:{p['evaluate'].uuid}",
            f"artifact:{p['train_set'].uid}", f"artifact:{p['model'].uid}",
            f"ref:{Path('raw.csv').absolute()}"} <= set(graph.nodes)
    assert labbook.get_artifact("store://artifacts/churn/report").read_bytes() == b"<p>accuracy 1.0</p>"
