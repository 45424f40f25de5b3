"""Artifact and lineage logging, as methods bound onto ``Run`` (see ``labbook.tracking.run``).

Placeholders until the artifact catalog lands: each raises ``NotImplementedError``.
"""

from __future__ import annotations

from typing import Any

_PENDING = "is not implemented yet in this labbook version (the artifact catalog is being built)."


def _pending(name: str) -> NotImplementedError:
    return NotImplementedError(f"{name}() {_PENDING}")


def log_artifact(self, path: str, name: str | None = None, kind: Any = None, summary: dict | None = None,
                 step: int | None = None, timestamp: Any = None, rel_path: str | None = None,
                 skip_hash_calculation: bool = False, **kwargs: Any) -> Any:
    raise _pending("log_artifact")


def log_model(self, path: str, name: str | None = None, framework: str | None = None,
              summary: dict | None = None, step: int | None = None, timestamp: Any = None,
              rel_path: str | None = None, skip_hash_calculation: bool = False, **kwargs: Any) -> Any:
    raise _pending("log_model")


def log_dataset(self, df: Any, name: str, **kwargs: Any) -> Any:
    raise _pending("log_dataset")


def log_plot(self, figure: Any, name: str, **kwargs: Any) -> Any:
    raise _pending("log_plot")


def log_feature_set(self, df: Any, name: str, **kwargs: Any) -> Any:
    raise _pending("log_feature_set")


def log_feature_vector(self, df: Any, name: str, **kwargs: Any) -> Any:
    raise _pending("log_feature_vector")


def log_affinity(self, *args: Any, **kwargs: Any) -> Any:
    raise _pending("log_affinity")


def log_artifact_ref(self, path: str, kind: Any, name: str | None = None, hash: str | None = None,
                     content: Any = None, summary: dict | None = None, is_input: bool = False,
                     rel_path: str | None = None, skip_hash_calculation: bool = False) -> Any:
    raise _pending("log_artifact_ref")


def log_model_ref(self, path: str, name: str | None = None, framework: str | None = None,
                  summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                  skip_hash_calculation: bool = False) -> Any:
    raise _pending("log_model_ref")


def log_file_ref(self, path: str, name: str | None = None, hash: str | None = None, content: Any = None,
                 summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                 skip_hash_calculation: bool = False) -> Any:
    raise _pending("log_file_ref")


def log_dir_ref(self, path: str, name: str | None = None, hash: str | None = None,
                summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                skip_hash_calculation: bool = False) -> Any:
    raise _pending("log_dir_ref")


def log_data_ref(self, name: str, hash: str | None = None, path: str | None = None, content: Any = None,
                 summary: dict | None = None, is_input: bool = True, skip_hash_calculation: bool = False) -> Any:
    raise _pending("log_data_ref")


def log_code_ref(self, code_ref: dict | None = None, is_input: bool = True) -> Any:
    raise _pending("log_code_ref")


def log_env(self, rel_path: str | None = None, content: dict | None = None) -> Any:
    raise _pending("log_env")


def log_tensorboard_ref(self, path: str, name: str = "tensorboard", is_input: bool = False,
                        rel_path: str | None = None) -> Any:
    raise _pending("log_tensorboard_ref")


def get_tensorboard_path(self, rel_path: str = "tensorboard", use_store_path: bool = False) -> str:
    raise _pending("get_tensorboard_path")


def log_artifact_lineage(self, body: Any, async_req: bool = True) -> Any:
    raise _pending("log_artifact_lineage")


def use_artifact(self, uri: str) -> Any:
    raise _pending("use_artifact")


def promote_to_model_version(self, version: str, description: str | None = None, tags: Any = None,
                             content: Any = None, connection: str | None = None, artifacts: Any = None,
                             force: bool = False) -> Any:
    raise _pending("promote_to_model_version")


def promote_to_artifact_version(self, version: str, description: str | None = None, tags: Any = None,
                                content: Any = None, connection: str | None = None, artifacts: Any = None,
                                force: bool = False) -> Any:
    raise _pending("promote_to_artifact_version")


RUN_METHODS = (
    "get_tensorboard_path", "log_affinity", "log_artifact", "log_artifact_lineage", "log_artifact_ref",
    "log_code_ref", "log_data_ref", "log_dataset", "log_dir_ref", "log_env", "log_feature_set",
    "log_feature_vector", "log_file_ref", "log_model", "log_model_ref", "log_plot",
    "log_tensorboard_ref", "promote_to_artifact_version", "promote_to_model_version", "use_artifact",
)
