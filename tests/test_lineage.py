"""Lineage across runs: prepare data -> train -> evaluate, linked through store:// URIs."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

import labbook
from labbook.artifacts.lineage import read_lineage
from labbook.cli.main import cli


def _pipeline(run_factory) -> dict:
    Path("raw.csv").write_text("age,churned\n30,0\n40,1\n50,1\n")
    prepare = run_factory(project="churn", name="prepare")
    prepare.log_data_ref(name="raw", path=str(Path("raw.csv").absolute()))
    frame = pd.read_csv("raw.csv")
    train_set = prepare.log_dataset(frame.iloc[:2], "train")
    test_set = prepare.log_dataset(frame.iloc[2:], "test")
    prepare.end()

    train = run_factory(project="churn", name="train")
    data = train.use_artifact("store://datasets/churn/train:latest").as_df()
    Path("clf.pkl").write_bytes(repr(data.to_dict()).encode())
    model = train.log_model("clf.pkl", name="clf", framework="sklearn", metrics={"acc": 1.0})
    train.end()

    evaluate = run_factory(project="churn", name="evaluate")
    evaluate.use_artifact("store://models/churn/clf")
    evaluate.use_artifact("store://datasets/churn/test")
    Path("report.html").write_text("<p>accuracy 1.0</p>")
    report = evaluate.log_artifact("report.html", name="report", kind="html")
    evaluate.end()
    return {"prepare": prepare, "train": train, "evaluate": evaluate, "train_set": train_set,
            "test_set": test_set, "model": model, "report": report}


def test_lineage_walks_from_the_report_back_to_the_raw_data(run_factory):
    p = _pipeline(run_factory)
    graph = labbook.get_lineage(p["report"].uri, direction="up")
    raw = f"ref:{Path('raw.csv').absolute()}"
    expected_nodes = {f"artifact:{p['report'].uid}", f"run:{p['evaluate'].uuid}", f"artifact:{p['model'].uid}",
                      f"artifact:{p['test_set'].uid}", f"run:{p['train'].uuid}", f"artifact:{p['train_set'].uid}",
                      f"run:{p['prepare'].uuid}", raw}
    assert set(graph.nodes) == expected_nodes
    edges = {(e.source, e.target, e.relation) for e in graph.edges}
    assert (f"run:{p['evaluate'].uuid}", f"artifact:{p['report'].uid}", "output") in edges
    assert (f"artifact:{p['model'].uid}", f"run:{p['evaluate'].uuid}", "input") in edges
    assert (f"run:{p['train'].uuid}", f"artifact:{p['model'].uid}", "output") in edges
    assert (f"artifact:{p['train_set'].uid}", f"run:{p['train'].uuid}", "input") in edges
    assert (f"run:{p['prepare'].uuid}", f"artifact:{p['train_set'].uid}", "output") in edges
    assert (raw, f"run:{p['prepare'].uuid}", "input") in edges
    assert graph.nodes[f"run:{p['train'].uuid}"].label == "train"
    # runs ended a moment ago (their last catalog rows still due) read ended, in their project
    for name in ("prepare", "train", "evaluate"):
        data = graph.nodes[f"run:{p[name].uuid}"].data
        assert (data["project"], data["status"]) == ("churn", "succeeded")
    assert graph.nodes[f"artifact:{p['model'].uid}"].data["uri"] == p["model"].uri
    # the model records what it was made from
    assert p["model"].sources == [{"uri": p["train_set"].uri}]


def test_direction_and_depth(run_factory):
    p = _pipeline(run_factory)
    down = labbook.get_lineage(p["train_set"].uri, direction="down")
    assert set(down.nodes) == {f"artifact:{p['train_set'].uid}", f"run:{p['train'].uuid}",
                               f"artifact:{p['model'].uid}", f"run:{p['evaluate'].uuid}",
                               f"artifact:{p['report'].uid}"}
    one_hop = labbook.get_lineage(p["model"].uri, direction="up", depth=1)
    assert set(one_hop.nodes) == {f"artifact:{p['model'].uid}", f"run:{p['train'].uuid}",
                                  f"artifact:{p['train_set'].uid}"}  # a "source" edge is one hop too
    both = labbook.get_lineage(p["model"].uri, depth=2)
    assert f"run:{p['prepare'].uuid}" in both and f"run:{p['evaluate'].uuid}" in both
    assert f"artifact:{p['test_set'].uid}" not in both  # a sibling input, not up- or downstream
    by_run = labbook.get_lineage(p["train"].uuid, direction="both", depth=1)
    assert set(by_run.nodes) == {f"run:{p['train'].uuid}", f"artifact:{p['model'].uid}",
                                 f"artifact:{p['train_set'].uid}"}
    assert labbook.get_lineage(p["train"].uuid[:8], depth=0).nodes.keys() == {f"run:{p['train'].uuid}"}


@pytest.mark.parametrize("target, words", [
    pytest.param("nope", "neither a store URI nor a known run id", id="unknown"),
    pytest.param("store://models/churn/missing", "No artifact 'missing'", id="missing-uri"),
])
def test_lineage_errors(run_factory, target, words):
    _pipeline(run_factory)
    with pytest.raises(labbook.LabbookError, match=words):
        labbook.get_lineage(target)


def test_lineage_bad_arguments(run_factory):
    p = _pipeline(run_factory)
    with pytest.raises(labbook.LabbookError, match="direction='sideways'"):
        labbook.get_lineage(p["model"].uri, direction="sideways")
    with pytest.raises(labbook.LabbookError, match="depth=-1"):
        labbook.get_lineage(p["model"].uri, depth=-1)


def test_cli_lineage_and_artifacts_commands(run_factory, home):
    p = _pipeline(run_factory)
    runner = CliRunner()
    result = runner.invoke(cli, ["lineage", p["report"].uri, "--direction", "up", "--json"])
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.output)
    assert len(data["nodes"]) == 8 and data["root"] == f"artifact:{p['report'].uid}"
    text = runner.invoke(cli, ["lineage", p["train"].uuid])
    assert "--output--> artifact clf:v1" in text.output and "run train" in text.output
    listing = runner.invoke(cli, ["artifacts", "ls", "-p", "churn", "--kind", "datasets", "--json"])
    assert {v["key"] for v in orjson.loads(listing.output)} == {"train", "test"}
    table = runner.invoke(cli, ["artifacts", "ls", "churn"])
    assert p["model"].uri in table.output and "v1" in table.output
    show = runner.invoke(cli, ["artifacts", "show", "store://models/churn/clf"])
    assert p["model"].uri in show.output and "meta.framework" in show.output
    tagged = runner.invoke(cli, ["artifacts", "tag", "store://models/churn/clf:v1", "prod"])
    assert tagged.exit_code == 0 and "store://models/churn/clf:prod -> v1" in tagged.output
    assert runner.invoke(cli, ["artifacts", "get", "store://models/churn/clf:prod"]).output.strip() == \
        p["model"].local_path()
    dest = Path("dl")
    dest.mkdir()
    out = runner.invoke(cli, ["artifacts", "download", "store://artifacts/churn/report", str(dest)])
    assert Path(out.output.strip()).read_text() == "<p>accuracy 1.0</p>"
    assert runner.invoke(cli, ["artifacts", "untag", "store://models/churn/clf", "prod"]).exit_code == 0
    missing = runner.invoke(cli, ["artifacts", "show", "store://models/churn/clf:prod"])
    assert missing.exit_code == 1 and "no tag 'prod'" in missing.output and "Traceback" not in missing.output
    removed = runner.invoke(cli, ["artifacts", "rm", "store://datasets/churn/test", "--yes", "--data"])
    assert "Deleted store://datasets/churn/test@" in removed.output
    assert "Removed 0 unreferenced" in runner.invoke(cli, ["artifacts", "gc"]).output
    bad = runner.invoke(cli, ["artifacts", "show", "store://models/churn/../x"])
    assert bad.exit_code == 1 and "path step" in bad.output


# -- the lineage.jsonl format ---------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from labbook.artifacts.lineage import RunArtifact, append_lineage, read_lineage  # noqa: E402

_names = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and "\x00" not in s)
_artifacts = st.builds(RunArtifact, name=_names, kind=st.sampled_from(["file", "model", "data", "dataset"]),
                       path=st.one_of(st.none(), st.text(max_size=30)),
                       summary=st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5), max_size=3),
                       is_input=st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(_artifacts, min_size=1, max_size=5), st.data())
def test_lineage_file_round_trips_and_a_torn_tail_loses_only_the_last_record(tmp_path_factory, items, data):
    path = tmp_path_factory.mktemp("lineage") / "lineage.jsonl"
    records = [a.to_record() for a in items]
    append_lineage(path, records[:1])
    append_lineage(path, records[1:])
    assert read_lineage(path) == records
    raw = path.read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    path.write_bytes(raw[:cut])
    kept = read_lineage(path)
    assert kept == records[:raw[:cut].count(b"\n")]


def test_lineage_records_reject_unknown_fields():
    with pytest.raises(labbook.LabbookError, match="unknown fields"):
        RunArtifact.from_value({"name": "x", "colour": "red"})
    with pytest.raises(labbook.LabbookError, match="has no name"):
        RunArtifact.from_value({"kind": "file"})
    with pytest.raises(labbook.LabbookError, match="JSON cannot store"):
        RunArtifact(name="x", summary={"n": 2**70}).to_record()


def test_reference_nodes_carry_the_name_and_kind_they_were_logged_with(run_factory):
    p = _pipeline(run_factory)
    graph = labbook.get_lineage(p["report"].uri, direction="up")
    ref = graph.nodes[f"ref:{Path('raw.csv').absolute()}"]
    assert ref.type == "ref"
    assert ref.data["name"] == "raw"
    assert ref.data["path"] == str(Path("raw.csv").absolute())
    assert ref.data["kind"]  # the kind log_data_ref recorded
    logged = [r for r in read_lineage(p["prepare"]._folder.lineage_file) if r["name"] == "raw"]
    assert logged and logged[-1]["summary"] and ref.data["summary"] == logged[-1]["summary"]
