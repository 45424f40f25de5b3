"""The versioned catalog: numbers, uids, tags, kinds' metadata, search, deletion, gc, rebuild."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import labbook
from labbook.errors import InvalidNameError, NotFoundError, PathEscapeError


def _frame(values):
    return pd.DataFrame({"x": values, "name": [f"n{v}" for v in values]})


def test_dataset_changed_unchanged_changed_makes_two_versions(run_factory):
    run = run_factory(project="p")
    v1 = run.log_dataset(_frame([1, 2, 3]), "train")
    same = run.log_dataset(_frame([1, 2, 3]), "train")
    v2 = run.log_dataset(_frame([1, 2, 4]), "train")
    assert (v1.version, same.version, v2.version) == (1, 1, 2) and same.uid == v1.uid
    assert [v.version for v in labbook.list_artifacts("p", key="train")] == [2, 1]
    labbook.tag_artifact(v1.uri, "best")
    expected = {"store://datasets/p/train": [1, 2, 4], "store://datasets/p/train:latest": [1, 2, 4],
                "store://datasets/p/train:v1": [1, 2, 3], "store://datasets/p/train:v2": [1, 2, 4],
                v1.uri: [1, 2, 3], v2.uri: [1, 2, 4], "store://datasets/p/train:best": [1, 2, 3],
                f"store://datasets/p/train@{v1.uid[:8]}": [1, 2, 3]}
    for uri, values in expected.items():
        assert labbook.get_artifact(uri).as_df()["x"].tolist() == values, uri
    assert labbook.get_artifact("store://datasets/p/train:v1").tags == ["best"]
    assert labbook.get_artifact("store://datasets/p/train").tags == ["latest"]
    assert labbook.get_artifact(f"store://datasets/p/train:latest@{v2.uid}").uid == v2.uid
    assert labbook.get_artifact(f"store://datasets/p/train:best@{v1.uid}").uid == v1.uid
    for stale in (f"store://datasets/p/train:latest@{v1.uid}", f"store://datasets/p/train:best@{v2.uid}",
                  f"store://datasets/p/train:v2@{v1.uid}"):
        with pytest.raises(NotFoundError):
            labbook.get_artifact(stale)
    # v1's URI keeps resolving to v1's bytes after v2 exists; the bytes are distinct files
    assert Path(v1.local_path()) != Path(v2.local_path())


def test_identical_content_is_stored_once_and_numbers_never_reused(run_factory):
    run = run_factory(project="p")
    Path("a.bin").write_bytes(b"A")
    a1 = run.log_artifact("a.bin", name="k", rel_path="one")
    Path("b.bin").write_bytes(b"B")
    run.log_artifact("b.bin", name="k")
    Path("a.bin").write_bytes(b"A")
    a3 = run.log_artifact("a.bin", name="k", rel_path="two")
    assert a3.version == 3 and a3.uid != a1.uid and a3.location == a1.location  # same bytes, stored once
    labbook.delete_artifact("store://artifacts/p/k:v3")
    Path("c.bin").write_bytes(b"C")
    assert run.log_artifact("c.bin", name="k").version == 4


def test_tags_move_and_can_be_removed(run_factory):
    run = run_factory(project="p")
    for content in (b"1", b"2"):
        Path("m.pt").write_bytes(content)
        last = run.log_model("m.pt", name="clf", framework="torch")
    labbook.tag_artifact("store://models/p/clf:v1", "prod")
    assert labbook.get_artifact("store://models/p/clf:prod").version == 1
    labbook.tag_artifact("store://models/p/clf:v2", "prod")  # exclusive: moves
    assert labbook.get_artifact("store://models/p/clf:prod").uid == last.uid
    assert labbook.get_artifact("store://models/p/clf:v1").tags == []
    assert [v.version for v in labbook.list_artifacts("p", tag="prod")] == [2]
    labbook.untag_artifact("store://models/p/clf", "prod")
    with pytest.raises(NotFoundError, match=r"no tag 'prod' \(its tags: latest\); its versions: v1, v2"):
        labbook.get_artifact("store://models/p/clf:prod")
    with pytest.raises(InvalidNameError, match="reserved"):
        labbook.tag_artifact("store://models/p/clf", "latest")


@pytest.mark.parametrize("uri, words", [
    pytest.param("store://models/p/nope", "No artifact 'nope' in project 'p'", id="key"),
    pytest.param("store://models/p/clf:v9", "has no version v9; its versions: v1", id="version"),
    pytest.param("store://models/p/clf@deadbeef", "no version with uid 'deadbeef'", id="uid"),
    pytest.param("store://datasets/p/clf", "names a model artifact, not one of datasets. Use 'store://models/p/clf'",
                 id="prefix"),
    pytest.param("store://models/q/clf", "No artifact 'clf' in project 'q'", id="project"),
])
def test_not_found_errors_name_what_is_missing(run_factory, uri, words):
    run = run_factory(project="p")
    Path("m.pt").write_bytes(b"1")
    run.log_model("m.pt", name="clf")
    with pytest.raises(NotFoundError) as caught:
        labbook.get_artifact(uri)
    assert words in str(caught.value)


def test_close_key_is_suggested(run_factory):
    run = run_factory(project="p")
    run.log_dataset(_frame([1]), "training")
    with pytest.raises(NotFoundError, match="Did you mean 'training'"):
        labbook.get_artifact("store://datasets/p/trainin")


def test_version_fields_and_reading(run_factory):
    run = run_factory(project="p", name="prep")
    v = run.log_dataset(_frame(list(range(30))), "train", labels={"split": "train"}, summary={"note": "ok"},
                        description="thirty rows")
    assert v.key == "train" and v.kind == "dataset" and v.version == 1 and len(v.uid) == 32
    assert v.uri == f"store://datasets/p/train@{v.uid}" and v.labels == {"split": "train"}
    assert v.producer["run"] == run.uuid and v.producer["name"] == "prep" and v.producer["host"]
    assert v.summary == {"note": "ok"} and v.format == "parquet" and v.size == os.path.getsize(v.local_path())
    assert v.meta["rows"] == 30 and v.meta["schema"][0] == {"name": "x", "type": "int64"}
    assert len(v.meta["preview"]["rows"]) == 20 and v.meta["preview"]["header"] == ["x", "name"]
    assert v.meta["stats"]["x"]["max"] == 29.0 and len(v.meta["stats"]["x"]["hist"]["counts"]) == 20
    assert v.meta["stats"]["name"]["unique"] == 30
    with v.open() as handle:
        assert handle.read(4) == b"PAR1" and v.read_bytes() == Path(v.local_path()).read_bytes()
    target = Path(v.download(Path("copy.parquet")))
    assert pd.read_parquet(target)["x"].tolist() == list(range(30))
    with pytest.raises(labbook.LabbookError, match="immutable"):
        v.open("wb")


def test_csv_datasets_pyarrow_tables_and_files(run_factory):
    import pyarrow as pa

    run = run_factory(project="p")
    v = run.log_dataset(pa.table({"a": [1, 2]}), "arrow", format="csv")
    assert v.format == "csv" and v.as_df()["a"].tolist() == [1, 2]
    Path("data.csv").write_text("a,b\n1,2\n3,4\n")
    f = run.log_artifact("data.csv", name="raw", kind="dataset")
    assert f.kind == "dataset" and f.meta["rows"] == 2 and f.as_df()["b"].tolist() == [2, 4]
    with pytest.raises(labbook.LabbookError, match="pass a pandas DataFrame"):
        run.log_dataset({"a": 1}, "bad")


def test_model_metadata_and_extra_files(run_factory):
    run = run_factory(project="p")
    Path("model.pkl").write_bytes(b"m")
    Path("roc.png").write_bytes(b"\x89PNG")
    train = pd.DataFrame({"age": [30, 40], "plan": ["a", "b"], "churned": [0, 1]})
    v = run.log_model("model.pkl", name="clf", framework="sklearn", algorithm="LogisticRegression",
                      metrics={"auc": 0.91}, params={"C": 1.0}, training_set=train, label_column="churned",
                      extra_files={"roc": "roc.png"})
    assert v.meta["algorithm"] == "LogisticRegression" and v.meta["metrics"] == {"auc": 0.91}
    assert [i["name"] for i in v.meta["inputs"]] == ["age", "plan"] and v.meta["outputs"][0]["name"] == "churned"
    assert v.meta["model_file"] == "model.pkl" and v.labels["framework"] == "sklearn"
    roc = labbook.get_artifact(v.links["roc"])
    assert roc.key == "clf-roc" and roc.read_bytes() == b"\x89PNG"
    graph = labbook.get_lineage(v.uri, direction="down")
    assert f"artifact:{roc.uid}" in graph


def test_plots_feature_sets_and_vectors(run_factory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = run_factory(project="p")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    plot = run.log_plot(fig, "curve", close=True)
    assert plot.uri.startswith("store://plots/p/curve@") and plot.read_bytes()[:4] == b"\x89PNG"
    assert plot.meta["library"] == "matplotlib"
    frame = pd.DataFrame({"id": [1, 2], "ts": pd.to_datetime(["2026-01-01", "2026-01-02"]), "spend": [3.5, 4.0]})
    fs = run.log_feature_set(frame, "customers", entities=["id"], timestamp_key="ts")
    assert fs.uri.startswith("store://feature-sets/p/customers@")
    assert fs.meta["entities"] == [{"name": "id", "type": "int64"}]
    assert fs.meta["features"] == [{"name": "spend", "type": "float64"}] and fs.as_df()["spend"].tolist() == [3.5, 4.0]
    fv = run.log_feature_vector(frame[["id", "spend"]], "vec", features=["customers.spend"], entities="id",
                                sources=[fs.uri])
    assert fv.meta["features"] == [{"name": "customers.spend", "type": "float64"}]
    assert fv.sources == [{"uri": fs.uri}]
    with pytest.raises(labbook.LabbookError, match="entity 'nope' is not a column"):
        run.log_feature_set(frame, "bad", entities=["nope"])


def test_search_filters_and_pagination(run_factory):
    first = run_factory(project="p")
    for index in range(5):
        first.log_dataset(_frame([index]), f"shard-{index}", labels={"split": "train" if index % 2 else "test",
                                                                     "team": "a"})
    second = run_factory(project="p")
    Path("m.bin").write_bytes(b"m")
    second.log_model("m.bin", name="clf", labels={"team": "b"})
    assert len(labbook.list_artifacts("p")) == 6
    assert {v.key for v in labbook.list_artifacts("p", labels={"split": "train"})} == {"shard-1", "shard-3"}
    assert {v.key for v in labbook.list_artifacts("p", labels="split=test,team=a")} == {"shard-0", "shard-2", "shard-4"}
    assert len(labbook.list_artifacts("p", labels=["split"])) == 5
    assert [v.key for v in labbook.list_artifacts("p", kind="models")] == ["clf"]
    assert len(labbook.list_artifacts("p", kind="dataset", key="~shard")) == 5
    assert [v.key for v in labbook.list_artifacts("p", key="shard-3")] == ["shard-3"]
    assert [v.key for v in labbook.list_artifacts("p", producer=second.uuid[:8])] == ["clf"]
    pages = [labbook.list_artifacts("p", limit=4, offset=o) for o in (0, 4)]
    assert [len(p) for p in pages] == [4, 2] and not {v.uid for v in pages[0]} & {v.uid for v in pages[1]}
    newest = labbook.list_artifacts("p", limit=1)[0]
    assert labbook.list_artifacts("p", since=newest.created_at)[0].uid == newest.uid
    assert labbook.list_artifacts("p", until="2000-01-01T00:00:00+00:00") == []
    assert labbook.list_artifacts("other") == []


def test_delete_metadata_or_data_and_gc(run_factory):
    run = run_factory(project="p")
    versions = []
    for content in (b"one", b"two", b"three"):
        Path("f.txt").write_bytes(content)
        versions.append(run.log_artifact("f.txt", name="f"))
    deleted = labbook.delete_artifact("store://artifacts/p/f:v1")
    assert [d.version for d in deleted] == [1] and Path(versions[0].location).exists()  # metadata only
    with pytest.raises(NotFoundError):
        labbook.get_artifact(versions[0].uri)
    assert labbook.get_artifact("store://artifacts/p/f:v2").read_bytes() == b"two"
    from labbook.workspace import gc

    assert gc("p", dry_run=True) == {"removed": 1, "bytes": 3} and Path(versions[0].location).exists()
    assert gc("p") == {"removed": 1, "bytes": 3} and not Path(versions[0].location).exists()
    labbook.delete_artifact("store://artifacts/p/f:v2", data=True)
    assert not Path(versions[1].location).exists()
    labbook.delete_artifact("store://artifacts/p/f", all_versions=True)
    assert labbook.list_artifacts("p", key="f") == []


def test_rebuild_reconstructs_versions_tags_and_lineage(run_factory, home):
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.indexer import rebuild
    from labbook.config import Settings

    run = run_factory(project="p")
    v1 = run.log_dataset(_frame([1]), "d")
    v2 = run.log_dataset(_frame([2]), "d")
    labbook.tag_artifact(v1.uri, "gold")
    labbook.tag_artifact(v2.uri, "silver")
    labbook.tag_artifact(v1.uri, "silver")
    labbook.untag_artifact("store://datasets/p/d", "gold")
    consumer = run_factory(project="p")
    consumer.use_artifact("store://datasets/p/d:silver")
    consumer.end()
    run.end()
    settings = Settings.load({})
    before = labbook.get_lineage(v1.uri).to_dict()
    (home / "catalog.db").unlink()
    catalog = Catalog(settings.catalog_url)
    rebuild(catalog, Path(settings.artifacts_root), settings=settings)
    catalog.close()
    assert [v.version for v in labbook.list_artifacts("p")] == [2, 1]
    assert labbook.get_artifact("store://datasets/p/d:silver").uid == v1.uid
    with pytest.raises(NotFoundError):
        labbook.get_artifact("store://datasets/p/d:gold")
    assert labbook.get_lineage(v1.uri).to_dict() == before


def test_catalog_that_missed_a_version_is_repaired_from_the_store(run_factory):
    from labbook.catalog.artifacts import clear_artifact_tables
    from labbook.workspace import Workspace

    run = run_factory(project="p")
    v = run.log_dataset(_frame([1]), "d")
    with Workspace(home=None) as workspace:
        clear_artifact_tables(workspace.catalog)
    assert labbook.get_artifact("store://datasets/p/d").uid == v.uid


def test_read_policy_refuses_locations_outside_the_stores(run_factory, tmp_path):
    from labbook.config import Settings
    from labbook.store.policy import ReadPolicy

    policy = ReadPolicy.from_settings(Settings.load({}))
    root = Settings.load({}).artifacts_root
    assert policy.allows(os.path.join(root, "p", "_artifacts", "k"))
    for location in ("http://example.com/x", "/etc/passwd", str(tmp_path / "elsewhere"), "s3://bucket/x",
                     os.path.join(root, "..", "catalog.db")):
        with pytest.raises(PathEscapeError, match="not allowed"):
            policy.check(location)
    allowed = ReadPolicy.from_settings(Settings.load({"allowed_paths": "s3://bucket, http://evil"}))
    assert allowed.allows("s3://bucket/x") and not allowed.allows("http://evil/x")


def test_artifact_path_resolution_order_and_templates(run_factory, tmp_path, monkeypatch):
    from labbook.workspace import set_project_artifact_path

    monkeypatch.setenv("LABBOOK_ALLOWED_PATHS", str(tmp_path))  # call-level paths are not configured stores
    run = run_factory(project="p", name="trainer")
    Path("a.txt").write_text("a")
    custom = tmp_path / "custom"
    v = run.log_artifact("a.txt", name="a", artifact_path=str(custom / "{{project}}" / "{{run.name}}"))
    assert Path(v.location).is_relative_to(custom / "p" / "trainer" / "a") and v.read_bytes() == b"a"
    set_project_artifact_path("p", str(tmp_path / "proj" / "{{run.uid}}"))
    Path("b.txt").write_text("b")
    v = run.log_artifact("b.txt", name="b")
    assert Path(v.location).is_relative_to(tmp_path / "proj" / run.uuid)
    run.log_meta(artifact_path=str(tmp_path / "runlevel"))
    Path("c.txt").write_text("c")
    assert Path(run.log_artifact("c.txt", name="c").location).is_relative_to(tmp_path / "runlevel")
    Path("d.txt").write_text("d")
    with pytest.raises(labbook.LabbookError, match=r"uses \{\{run.owner\}\}"):
        run.log_artifact("d.txt", name="d", artifact_path=str(tmp_path / "{{run.owner}}"))
    assert Path("d.txt").exists()  # refused before the file was moved
    with pytest.raises(labbook.LabbookError, match="HTTP URL"):
        run.log_artifact("d.txt", name="d", artifact_path="http://example.com/x")


def test_use_artifact_records_consumer_and_sources(run_factory):
    producer = run_factory(project="p")
    data = producer.log_dataset(_frame([1]), "raw")
    consumer = run_factory(project="p")
    used = consumer.use_artifact("store://datasets/p/raw")
    assert used.uid == data.uid
    Path("m.bin").write_bytes(b"m")
    model = consumer.log_model("m.bin", name="m")
    assert model.sources == [{"uri": data.uri}]


def test_promote_to_model_version_tags_the_runs_model(run_factory):
    run = run_factory(project="p")
    Path("m.bin").write_bytes(b"m")
    run.log_model("m.bin", name="clf")
    [promoted] = run.promote_to_model_version("release-1", tags=["prod"])
    assert set(promoted.tags) == {"latest", "release-1", "prod"}
    assert labbook.get_artifact("store://models/p/clf:release-1").uid == promoted.uid
    other = run_factory(project="p")
    with pytest.raises(NotFoundError, match="logged no model"):
        other.promote_to_model_version("x")


@pytest.mark.parametrize("url, words", [
    pytest.param("gs://bucket/store", "labbook[gcs]", id="gcs"),
    pytest.param("az://container/store", "labbook[azure]", id="azure"),
    pytest.param("nope://x/y", "Protocol not known", id="unknown"),
])
def test_store_urls_without_their_driver_say_what_to_install(url, words):
    import importlib.util

    from labbook.store.blobs import ArtifactStore

    driver = {"gs": "gcsfs", "az": "adlfs"}.get(url.split(":")[0])
    if driver and importlib.util.find_spec(driver):
        pytest.skip(f"{driver} is installed")
    with pytest.raises(labbook.LabbookError) as caught:
        ArtifactStore(url)
    assert words in str(caught.value) and url in str(caught.value)
