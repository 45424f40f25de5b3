"""Schemathesis hooks for tests/test_server_series.py: steer generated requests onto data the server
holds, so fuzzing reaches the code behind the 404s. The ids come from ``LABBOOK_FUZZ_RUNS`` and
``LABBOOK_FUZZ_URIS`` (comma-separated); each drawn value is kept as one of the choices."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import strategies as st

RUNS = [run for run in os.environ.get("LABBOOK_FUZZ_RUNS", "").split(",") if run]
URIS = [uri for uri in os.environ.get("LABBOOK_FUZZ_URIS", "").split(",") if uri]
NAMES = ["loss", "accuracy", "note", "report", "sample", "lr", "sweep", "train-data", "clf"]
PATHS = ["run.json", "lineage.jsonl", "outputs", "assets/image", "logs"]


def _one_of(drawn, known):
    return st.sampled_from([drawn, *known]) if known else st.just(drawn)


@schemathesis.hook
def flatmap_path_parameters(ctx, path):
    if not path:
        return st.just(path)
    choices = {"uuid": RUNS, "path": PATHS}
    return st.fixed_dictionaries({key: _one_of(value, choices.get(key, [])) for key, value in path.items()})


@schemathesis.hook
def flatmap_query(ctx, query):
    if not query:
        return st.just(query)
    choices = {"name": NAMES, "names": NAMES, "key": NAMES, "metric": NAMES, "uri": URIS, "project": ["churn"],
               "path": PATHS, "run": RUNS, "producer": RUNS}
    if query.get("follow") not in (None, False, "false"):  # a followed running run streams until its timeout
        query = {**query, "timeout": 1}
    return st.fixed_dictionaries({key: _one_of(value, choices.get(key, [])) for key, value in query.items()})
