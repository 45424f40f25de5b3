"""Helpers for the server tests: a real ``labbook server`` process, and a small demo-like project."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from tests.conftest import PYTHON, free_port, python_env

PROJECT = "churn"


class ServerProcess:
    """``labbook server`` started for real on a free port of 127.0.0.1; ``stop()`` ends it."""

    def __init__(self, home: Path, *args: str, port: int | None = None, **env: str) -> None:
        import httpx

        self.port = port or free_port()  # a port again: the same server restarted
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"server-{self.port}.log"
        home.mkdir(parents=True, exist_ok=True)
        self._log_handle = open(self.log, "wb")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "labbook.cli.main", "server", "--port", str(self.port), "--log-level", "warning", *args],
            env=python_env(home, **env), stdout=self._log_handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start in 60 s: {self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        self._log_handle.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def client(self, token: str | None = None, **kwargs):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log_handle.close()


def run_kwargs(**extra):
    return {"install_handlers": False, "track_env": False, "track_code": False, "track_logs": False,
            "collect_resources": False, **extra}


def make_project(home: Path, work: Path, settings=None) -> dict:
    """A few runs with params, metrics, images and text, an artifact with two versions, and a
    model made from it (so lineage has data -> run -> model)."""
    from labbook.tracking import Run

    common = {"home": home} if settings is None else {"settings": settings}
    made = {"runs": []}
    data_file = work / "train.csv"
    for index, lr in enumerate((0.1, 0.01, 0.001)):
        with Run(project=PROJECT, name=f"lr-{lr}", tags=["sweep"] + (["best"] if index == 1 else []),
                 **common, **run_kwargs()) as run:
            run.log_inputs(lr=lr, layers=2 + index, optimizer="adam" if index else "sgd")
            for step in range(20):
                run.log_metrics(step=step, loss=1.0 / (1 + step * lr * 10) + index * 0.01, accuracy=step / 20)
            run.log_text("note", f"run {index} done", step=19)
            run.log_html("report", "<b>bold</b>", step=19)
            pixels = np.zeros((8, 8, 3), dtype=np.uint8)
            pixels[..., index] = 255
            run.log_image(pixels, name="sample", step=5, dataformats="HWC")
            run.log_image(pixels // 2, name="sample", step=10, dataformats="HWC")
            run.log_outputs(final_loss=1.0 / (1 + 19 * lr * 10))
            if index < 2:  # two versions of one dataset
                data_file.write_text(f"x,y\n{index},1\n")
                run.log_artifact(str(data_file), name="train-data", kind="dataset")
            made["runs"].append(run.uuid)
    with Run(project=PROJECT, name="train-model", **common, **run_kwargs()) as run:
        data = run.use_artifact(f"store://datasets/{PROJECT}/train-data")
        model = work / "model.bin"
        model.write_bytes(b"weights" * 10)
        version = run.log_model(str(model), name="clf", framework="numpy")
        run.log_artifact_ref("file:///etc/passwd", name="passwd-ref")
        run.log_artifact_ref("http://169.254.169.254/latest/meta-data", name="metadata-ref")
        made["model_run"] = run.uuid
        made["data_uri"] = data.uri
        made["model_uri"] = version.uri
    return made
