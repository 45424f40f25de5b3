"""Model metadata: framework, algorithm, metrics, params, input/output schema and files.

::

    meta = model_meta(framework="sklearn", algorithm="LogisticRegression",
                      metrics={"auc": 0.91}, params={"C": 1.0},
                      training_set=df, label_column="churned")
    meta["inputs"]   # [{"name": "age", "type": "int64"}, ...]; outputs: the label column
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbook._values import json_value
from labbook.errors import InvalidValueError


def _schema(items: Any, what: str) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    schema = []
    for item in items:
        if isinstance(item, str):
            schema.append({"name": item, "type": None})
        elif isinstance(item, dict) and "name" in item:
            schema.append({"name": str(item["name"]), "type": item.get("type")})
        else:
            raise InvalidValueError(f"log_model(): {what} entries are names or {{'name', 'type'}} dicts; got {item!r:.60}.")
    return schema


def model_meta(
    *,
    path: Path | None = None,
    framework: str | None = None,
    algorithm: str | None = None,
    metrics: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    inputs: Any = None,
    outputs: Any = None,
    training_set: Any = None,
    label_column: str | list[str] | None = None,
) -> dict[str, Any]:
    """The kind-specific metadata of a model version (JSON values only)."""
    meta: dict[str, Any] = {"framework": framework, "algorithm": algorithm,
                            "metrics": {k: json_value("log_model", k, v) for k, v in (metrics or {}).items()},
                            "params": {k: json_value("log_model", k, v) for k, v in (params or {}).items()}}
    if training_set is not None:
        from labbook.artifacts.datasets import as_frame

        frame = as_frame(training_set, "log_model")
        labels = [label_column] if isinstance(label_column, str) else list(label_column or [])
        missing = [c for c in labels if c not in frame.columns]
        if missing:
            raise InvalidValueError(f"label_column {missing} not in the training set; columns: "
                                    f"{', '.join(map(str, frame.columns))}.")
        if inputs is not None:
            raise InvalidValueError("log_model(): pass inputs= or training_set=, not both.")
        types = {str(c): str(t) for c, t in frame.dtypes.items()}
        inputs = [{"name": c, "type": t} for c, t in types.items() if c not in labels]
        outputs = outputs if outputs is not None else [{"name": c, "type": types[c]} for c in labels]
    meta["inputs"] = _schema(inputs, "inputs")
    meta["outputs"] = _schema(outputs, "outputs")
    if path is not None:
        meta["model_file"] = path.name
    return meta
