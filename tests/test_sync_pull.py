"""``pull_remote_run``: a run folder rebuilt from the server, with or without its artifact files."""

from __future__ import annotations

import numpy as np
import pytest

from labbook.sync.protocol import REPLACE, iter_files
from tests.server_helpers import PROJECT, ServerProcess, run_kwargs
from tests.test_sync import folder_hashes, remote, write_token


def test_pull_remote_run_without_artifacts_fetches_the_run_records_alone(home, tmp_path, monkeypatch):
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    try:
        remote(monkeypatch, server, write_token(server_home, {}))
        from labbook.tracking import Run

        with Run(project=PROJECT, name="pulled", is_offline=True, **run_kwargs()) as run:
            run.log_inputs(lr=0.1)
            run.log_metrics(step=1, loss=0.5)
            run.log_text("note", "kept on the server", step=1)
            run.log_image(np.ones((4, 4, 3), dtype=np.uint8), name="img", step=1, dataformats="HWC")
            weights = tmp_path / "weights.bin"
            weights.write_bytes(b"\x00" * 64)
            run.log_artifact(str(weights), name="weights")
        run.push_offline_run()
        whole = folder_hashes(run.path)
        records = {rel: sha for rel, sha in whole.items()
                   if next(mode for r, _p, mode in iter_files(run.path) if r == rel) == REPLACE}
        assert "run.json" in records and len(records) < len(whole)

        light = tmp_path / "light"
        run.pull_remote_run(path=str(light), download_artifacts=False)
        assert folder_hashes(light) == records  # metadata only: no events, assets, outputs or lineage
        run.pull_remote_run(path=str(light))  # then the rest, fetching only what it lacks
        assert folder_hashes(light) == whole
        with pytest.raises(Exception, match="download_artifacts"):
            run.pull_remote_run(path=str(light), download_artifacts="no")
    finally:
        server.stop()
