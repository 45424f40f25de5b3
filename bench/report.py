"""Figures for bench_core.py: collecting and printing them, the machine they were measured on,
and the Markdown table of docs/benchmarks.md (``bench_core.py --table bench/results/core.json``).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent

class Report:
    """Collects figures by key, printing each as soon as it is measured."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.targets: list[dict[str, Any]] = []

    def section(self, title: str) -> None:
        print(f"\n== {title} ==", flush=True)

    def add(self, key: str, label: str, value: float, unit: str, n: int | None = None) -> None:
        self.figures[key] = {"label": label, "value": value, "unit": unit, "n": n}
        count = f"  (n={n:,})" if n else ""
        print(f"  {label:<58} {value:>11.3f} {unit}{count}", flush=True)

    def value(self, key: str) -> float | None:
        figure = self.figures.get(key)
        return figure["value"] if figure else None

    def ratio(self, key: str, *references: tuple[str, str]) -> None:
        """One line: figure ``key`` as a multiple of each available reference figure."""
        value = self.value(key)
        if value is None:
            return
        parts = []
        for ref_key, name in references:
            ref = self.value(ref_key)
            if ref:
                parts.append(f"{times(value / ref)} {name}")
        if parts:
            print(f"    -> {self.figures[key]['label']}: {', '.join(parts)}", flush=True)

    def check(self, label: str, key: str, ref_key: str, limit: float) -> None:
        value, ref = self.value(key), self.value(ref_key)
        if value is None or not ref:
            verdict, ratio = "SKIP", None
        else:
            ratio = value / ref
            verdict = "PASS" if ratio <= limit else "MISS"
        self.targets.append({"target": label, "verdict": verdict, "ratio": ratio, "limit": limit})
        shown = f"{ratio:.3f}" if ratio is not None else "n/a"
        print(f"{verdict}  {label:<52} ratio {shown} (limit {limit:g})", flush=True)


def times(ratio: float) -> str:
    """``2.31x``, or ``1/450`` for small ratios, which read better as a fraction."""
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"1/{1 / ratio:,.0f}"


def repeat(reps: int, measure: Callable[[], Any]) -> list[Any]:
    """``measure()`` ``reps`` times, each after a full garbage collection."""
    results = []
    for _ in range(reps):
        gc.collect()
        results.append(measure())
    return results


def median_of(reps: int, measure: Callable[[], float]) -> float:
    return statistics.median(repeat(reps, measure))



def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "cpu": model, "labbook_commit": commit,
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def markdown(path: Path) -> str:
    """The figures saved in ``path`` (``--json``) as the Markdown table of docs/benchmarks.md."""
    data = json.loads(path.read_text())
    info = data["machine"]
    lines = [f"Measured {info['date']} ({data['mode']} run), labbook {info['labbook_commit']}, "
             f"MLflow {data['mlflow']}, Python {info['python']}, {info['cpus']} CPUs ({info['cpu']}), "
             f"{info['platform']}; load average at the start {info.get('load_average')}.", "",
             "| Figure | Value | n |", "|---|---:|---:|"]
    for figure in data["figures"].values():
        n = f"{figure['n']:,}" if figure["n"] else ""
        lines.append(f"| {figure['label']} | {figure['value']:,.3f} {figure['unit']} | {n} |")
    lines += ["", "| Target | Ratio | Limit | |", "|---|---:|---:|---|"]
    for target in data["targets"]:
        ratio = f"{target['ratio']:.3f}" if target["ratio"] is not None else "n/a"
        lines.append(f"| {target['target']} | {ratio} | {target['limit']:g} | {target['verdict']} |")
    return "\n".join(lines)




def chosen_size(description: str, sizes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Parse ``--quick`` / ``--smoke`` (``LABBOOK_BENCH_QUICK=1`` means ``--quick``, as ``run.py``
    sets it) and return the matching entry of ``sizes`` (keys ``full``, ``quick``, ``smoke``)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK")
    return sizes["smoke" if args.smoke else "quick" if quick else "full"]
