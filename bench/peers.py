"""Peer systems for the benchmarks, each in its own virtual environment in a cache folder.

A peer is never installed into labbook's environment: its dependencies would change what labbook
imports and how fast. ``peer_python("mlflow")`` creates ``<cache>/mlflow`` with
``python -m venv`` and ``pip install mlflow psycopg[binary]`` the first time (about a minute), then reuses it.
The cache folder is ``$LABBOOK_BENCH_ENVS``, else ``$XDG_CACHE_HOME/labbook-bench/envs`` (by
default ``~/.cache/labbook-bench/envs``); peers: ``mlflow``, ``tensorboardx``, ``dvclive``.
``run_worker`` runs a worker script with that interpreter and streams its JSON lines back::

    python = peer_python("mlflow")
    for message in run_worker(python, HERE / "peer_mlflow.py", {"tasks": ["import"]}):
        print(message)

Delete a peer's folder to reinstall it. ``LABBOOK_BENCH_<PEER>_SPEC`` picks the pip requirements (space-separated;
a changed one tops the environment up), e.g. ``LABBOOK_BENCH_MLFLOW_SPEC=mlflow==3.1.0`` or ``LABBOOK_BENCH_DVCLIVE_SPEC=dvclive==3.48.0``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
ENVS = Path(os.environ.get("LABBOOK_BENCH_ENVS") or Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labbook-bench" / "envs")
REQUIREMENTS = {name: os.environ.get(f"LABBOOK_BENCH_{name.upper()}_SPEC", package)
                # MLflow's server needs a PostgreSQL driver for the 100k-run catalog figure.
                for name, package in (("mlflow", "mlflow psycopg[binary]"), ("tensorboardx", "tensorboardX"),
                                      ("dvclive", "dvclive"))}
READY = ".installed"  # written last, so an interrupted install is redone


class PeerUnavailable(RuntimeError):
    """The peer's environment could not be created (no network, no pip, ...)."""


def env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def peer_python(name: str, *, install: bool = True, timeout: float = 900) -> Path:
    """The interpreter of peer ``name``'s environment, created and installed on first use."""
    env = ENVS / name
    python = env_python(env)
    requirement = REQUIREMENTS[name]
    ready = env / READY
    if ready.is_file() and python.is_file() and ready.read_text().strip() == requirement:
        return python  # an environment made for another requirement is topped up below
    if not install:
        raise PeerUnavailable(f"{env} is not installed; run without --no-install to create it.")
    print(f"[peers] preparing {env}: installing {requirement!r} (once; about a minute)", flush=True)
    started = time.monotonic()
    try:
        if not python.is_file():
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=timeout)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *requirement.split()], check=True, timeout=timeout)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        raise PeerUnavailable(f"installing {requirement!r} into {env} failed: {error}") from None
    ready.write_text(requirement + "\n")
    print(f"[peers] {name} ready in {time.monotonic() - started:.0f} s", flush=True)
    return python


def peer_version(python: Path, module: str) -> str:
    out = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({module!r}))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"


def run_worker(python: Path, script: Path, spec: dict[str, Any], *, timeout: float = 600,
               env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Run ``script`` with ``python``, passing ``spec`` as JSON; yield each JSON line it prints.

    The worker's stderr goes straight to ours. Lines on stdout that are not JSON objects are
    echoed. A worker that exits non-zero or runs past ``timeout`` yields one ``{"error": ...}``.
    """
    process = subprocess.Popen(
        [str(python), str(script), json.dumps(spec)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )
    timer = threading.Timer(timeout, process.kill)  # bounds a worker that hangs silently
    timer.start()
    assert process.stdout is not None
    try:
        for line in process.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    yield message
                    continue
            if line:
                print(f"    [{script.stem}] {line}", flush=True)
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        why = f"ran past {timeout:.0f} s and was killed" if code < 0 else f"exited with status {code}"
        yield {"error": "worker", "message": f"{script.name} {why}"}


# -- the search workload, logged alike by labbook and the peers ------------------------------

LRS = (0.1, 0.03, 0.01, 0.003, 0.001)


def run_data(index: int) -> tuple[dict[str, Any], list[tuple[int, float, float]]]:
    """Params and ``(step, loss, accuracy)`` points of search-workload run ``index``."""
    loss = ((index * 7919) % 1000) / 1000
    params = {"lr": LRS[index % 5], "batch_size": (32, 64, 128)[index % 3],
              "optimizer": ("adam", "sgd")[index % 2]}
    return params, [(step, loss + (2 - step) * 0.1, 1 - loss) for step in range(3)]


def expected_matches(runs: int) -> int:
    """How many of ``runs`` runs match ``params.lr < 0.01 and metrics.loss < 0.5`` (last loss)."""
    return sum(1 for i in range(runs) if LRS[i % 5] < 0.01 and run_data(i)[1][-1][1] < 0.5)
