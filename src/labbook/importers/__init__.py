"""Importers: runs from other trackers become labbook runs.

``labbook.importers.mlflow``, ``.tensorboard`` and ``.wandb`` each read their source through the
source's own library (an optional extra) and write through the public ``Run`` API, so an imported
run is a run folder like any other. Every importer is idempotent: each imported run carries
``meta.imported_from = {"source": ..., "run_id": ..., "uri": ...}`` and the next import finds
it through the catalog (``search_runs(filter="meta.imported_from.run_id = '...'")``) and skips it.
What could not be carried over is listed per run in the returned ``ImportReport``.
"""
