"""labbook's and the orjson-lines baseline's side of bench_fresh.py: ONE measurement per process.

Usage: ``python bench/fresh_labbook.py '<json spec>'``; the spec names one ``task``, the
``system`` (``labbook`` or ``baseline``), the ``capture`` (``off``/``on``) and the sizes. The
process imports what the system needs (not timed: a training script has imported it before it
logs), measures once and prints one JSON line per figure::

    {"figure": "log_metric.call_us", "value": 0.31}

Every measurement runs in a home (or folder) of its own, under ``spec["root"]``.
"""

import os
import time

from worker import emit, main, peak_mb, perf  # bench/ is on sys.path: it holds this script


def capture_options(spec):
    if spec.get("capture") == "on":
        return {}  # tracking.init's defaults: code, environment, logs and resources captured
    return {"track_code": False, "track_env": False, "track_logs": False, "collect_resources": False}


# -- the baseline: what a script without a tracker does --------------------------------------


class Baseline:
    """One orjson line per record, appended to a buffered file; durable = ``flush()`` returned.
    A "run" is a folder with a run.json and the metric file, as the cheapest tracker would do."""

    def __init__(self, root, name="run"):
        import orjson

        self.dumps = orjson.dumps
        self.folder = os.path.join(root, name)
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, "run.json"), "wb") as f:
            f.write(self.dumps({"name": name, "status": "running", "created_at": time.time()}))
        self.file = open(os.path.join(self.folder, "metrics.jsonl"), "ab")

    def log_metric(self, name, value, step):
        self.file.write(self.dumps({"name": name, "step": step, "timestamp": time.time(),
                                    "value": value}) + b"\n")

    def log_metrics(self, step, values):
        self.file.write(self.dumps({"step": step, "timestamp": time.time(), **values}) + b"\n")

    def flush(self):
        self.file.flush()

    def end(self):
        self.file.close()


# -- tasks ------------------------------------------------------------------------------------


def task_log_metric(spec, root):
    calls = spec["calls"]
    if spec["system"] == "baseline":
        run = Baseline(root)
        log = run.log_metric
        started = perf()
        for step in range(calls):
            log("loss", 0.5, step)
        called = perf()
        run.flush()
        durable = perf()
        run.end()
    else:
        from labbook import tracking

        run = tracking.init(project="bench-log", **capture_options(spec))
        log = tracking.log_metric
        started = perf()
        for step in range(calls):
            log("loss", 0.5, step=step)
        called = perf()
        run.flush()
        durable = perf()
        tracking.end()
    emit("log_metric.call_us", (called - started) / calls * 1e6, n=calls)
    emit("log_metric.durable_us", (durable - started) / calls * 1e6, n=calls)
    emit("log_metric.peak_mb", peak_mb(), n=calls)


def task_log_metrics(spec, root):
    count, steps = spec["metrics"], spec["steps"]
    values = {f"m{i}": 0.5 for i in range(count)}
    if spec["system"] == "baseline":
        run = Baseline(root)
        log = run.log_metrics
        started = perf()
        for step in range(steps):
            log(step, values)
        called = perf()
        run.flush()
        durable = perf()
        run.end()
    else:
        from labbook import tracking

        run = tracking.init(project="bench-log", **capture_options(spec))
        log = tracking.log_metrics
        started = perf()
        for step in range(steps):
            log(step=step, **values)
        called = perf()
        run.flush()
        durable = perf()
        tracking.end()
    emit("log_metrics.call_us", (called - started) / (count * steps) * 1e6, n=count * steps)
    emit("log_metrics.durable_us", (durable - started) / (count * steps) * 1e6, n=count * steps)


def task_create_runs(spec, root):
    """``runs`` empty runs one after the other, after one untimed run (the home exists)."""
    runs = spec["runs"]
    if spec["system"] == "baseline":
        Baseline(root, "warm-up").end()
        started = perf()
        for index in range(runs):
            Baseline(root, f"run-{index}").end()
        elapsed = perf() - started
    else:
        from labbook import tracking

        options = capture_options(spec)
        tracking.init(project="bench-create", **options)
        tracking.end()
        started = perf()
        for _ in range(runs):
            tracking.init(project="bench-create", **options)
            tracking.end()
        elapsed = perf() - started
    emit("create_runs.ms_per_run", elapsed / runs * 1e3, n=runs)


def task_first_run(spec, root):
    """The first empty run in a new home, in this fresh process (the import is not timed)."""
    if spec["system"] == "baseline":
        started = perf()
        Baseline(os.path.join(root, "new-home"), "first").end()
        elapsed = perf() - started
    else:
        from labbook import tracking

        options = capture_options(spec)
        started = perf()
        tracking.init(project="bench-first", **options)
        tracking.end()
        elapsed = perf() - started
    emit("first_run.s", elapsed)


def task_search_setup(spec, root):
    """Log the search workload's runs into ``spec["home"]`` (setup, run once, not a figure)."""
    import peers

    from labbook.tracking import Run

    started = perf()
    for index in range(spec["runs"]):
        params, points = peers.run_data(index)
        with Run(project="bench-search", track_code=False, track_env=False, track_logs=False,
                 collect_resources=False, install_handlers=False) as run:
            run.log_inputs(**params)
            for step, loss, accuracy in points:
                run.log_metrics(step=step, loss=loss, accuracy=accuracy)
    import labbook

    labbook.search_runs("bench-search", limit=1)  # the index is current before any figure
    emit("search.setup_s", perf() - started, n=spec["runs"])


def sql_seconds(catalog_file):
    """The SQL that listing a project's runs needs, alone: the runs' rows, then their metric
    summaries and tags, 500 runs at a time, fetched with the standard library's sqlite3."""
    import sqlite3

    started = perf()
    connection = sqlite3.connect(catalog_file)
    rows = connection.execute("SELECT * FROM runs WHERE project = ?", ("bench-search",)).fetchall()
    uuids = [row[0] for row in rows]
    for at in range(0, len(uuids), 500):
        chunk = uuids[at:at + 500]
        marks = ",".join("?" * len(chunk))
        connection.execute(f"SELECT * FROM metrics WHERE run_uuid IN ({marks})", chunk).fetchall()
        connection.execute(f"SELECT * FROM tags WHERE run_uuid IN ({marks})", chunk).fetchall()
    connection.close()
    return perf() - started, len(rows)


def task_search(spec, root):
    """``search_runs`` listing every run, once to open the catalog (not timed), then the median
    of ``search_reps``; beside it the median time of the same rows fetched by plain SQL. Each
    side times fetching its rows, not freeing them: ``sql_seconds`` stops its timer before its
    rows are released, and a listing's timer starts after the previous listing is released."""
    import statistics

    import labbook
    from labbook.config import Settings

    runs = spec["runs"]
    assert len(labbook.search_runs("bench-search", limit=None)) == runs
    times = []
    for _ in range(spec["search_reps"]):
        found = None  # the last listing freed before the timer starts: sql_seconds frees its rows after
        began = perf()
        found = labbook.search_runs("bench-search", limit=None)
        times.append(perf() - began)
        if len(found) != runs:
            raise SystemExit(f"search_runs found {len(found)} runs, expected {runs}")
    url = Settings.load({}).catalog_url
    catalog_file = url.split("sqlite:///", 1)[1]
    sql = []
    for _ in range(spec["search_reps"]):
        seconds, count = sql_seconds(catalog_file)
        sql.append(seconds)
        if count != runs:
            raise SystemExit(f"the catalog holds {count} runs, expected {runs}")
    emit("search.list_ms", statistics.median(times) * 1e3, n=runs)
    emit("search.sql_ms", statistics.median(sql) * 1e3, n=runs)


TASKS = {
    "log_metric": task_log_metric,
    "log_metrics": task_log_metrics,
    "create_runs": task_create_runs,
    "first_run": task_first_run,
    "search_setup": task_search_setup,
    "search": task_search,
}


def prepare(spec):
    os.environ["LABBOOK_HOME"] = spec.get("home") or os.path.join(spec["root"], ".labbook")
    if spec["system"] == "labbook":
        from labbook import tracking  # noqa: F401 - imported before any timer, as a script would
    else:
        import orjson  # noqa: F401


if __name__ == "__main__":
    main(TASKS, prepare)
