"""Datasets, feature sets and feature vectors: writing tables and describing them.

A dataset is stored as Parquet (CSV on request) with metadata: the schema, the row count,
per-column statistics (numbers: count, nulls, mean, std, min, max and a 20-bin histogram;
others: count, nulls, distinct values, the most frequent) and a 20-row preview::

    meta = describe_table(pandas.DataFrame({"x": [1, 2, 3]}))
    meta["rows"], meta["schema"]     # 3, [{"name": "x", "type": "int64"}]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from labbook._optional import need
from labbook.errors import InvalidValueError
from labbook.store.files import temporary_name

PREVIEW_ROWS = 20
MAX_PREVIEW_COLUMNS = 100
STATS_MAX_CELLS = 20_000_000
FORMATS = ("parquet", "csv")


def _pandas():
    return need("pandas", "Logging datasets")


def _pyarrow():
    need("pyarrow.parquet", "Parquet datasets")
    return need("pyarrow", "Parquet datasets")


def as_frame(data: Any, what: str = "log_dataset"):
    """A pandas DataFrame from a DataFrame, a pyarrow Table, or a CSV/Parquet file path."""
    pd = _pandas()
    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith("pyarrow") and hasattr(data, "to_pandas"):
        return data.to_pandas()
    if isinstance(data, (str, Path)) and Path(data).is_file():
        return read_path(Path(data))
    raise InvalidValueError(
        f"{what}() got {type(data).__name__} ({data!r:.60}); pass a pandas DataFrame, a pyarrow "
        "Table, or the path of an existing .csv or .parquet file."
    )


def read_path(path: Path, **kwargs: Any):
    pd = _pandas()
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix in (".parquet", ".pq"):
        _pyarrow()
        return pd.read_parquet(path, **kwargs)
    if suffix in (".csv", ".tsv", ".txt"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", **kwargs)
    raise InvalidValueError(f"Cannot read {path.name!r} as a table: use a .csv or .parquet file.")


def write_table(frame: Any, dest: Path, format: str = "parquet") -> Path:
    """Write ``frame`` to ``dest`` (atomically) as Parquet or CSV; deterministic bytes."""
    if format not in FORMATS:
        raise InvalidValueError(f"Dataset format {format!r} is not supported; use one of {FORMATS}.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest)
    try:
        if format == "parquet":
            pa = _pyarrow()
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pandas(frame), tmp)
        else:
            frame.to_csv(tmp, index=False)
        tmp.replace(dest)  # whole or absent; a link at dest is replaced, not written through
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk: no partial file stays behind
        raise
    return dest


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (NaN and infinities become None)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)):
        return value
    return str(value)


def column_stats(series: Any) -> dict[str, Any]:
    import numpy as np

    pd = _pandas()
    stats: dict[str, Any] = {"count": int(series.count()), "nulls": int(series.isna().sum())}
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.dropna().to_numpy(dtype="float64")
        values = values[np.isfinite(values)]
        if len(values):
            counts, edges = np.histogram(values, bins=20)
            stats.update(mean=float(values.mean()), std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                         min=float(values.min()), max=float(values.max()),
                         hist={"counts": counts.tolist(), "edges": edges.tolist()})
    else:
        counts = series.astype("string").value_counts()
        stats["unique"] = int(len(counts))
        if len(counts):
            stats["top"], stats["freq"] = _plain(counts.index[0]), int(counts.iloc[0])
    return stats


def describe_table(frame: Any, *, preview: int = PREVIEW_ROWS, stats: bool | None = None) -> dict[str, Any]:
    """Schema, row and column counts, per-column stats and a preview of ``frame``."""
    columns = [str(c) for c in frame.columns]
    meta: dict[str, Any] = {
        "rows": int(len(frame)), "columns": len(columns),
        "schema": [{"name": str(c), "type": str(t)} for c, t in frame.dtypes.items()],
    }
    shown = columns[:MAX_PREVIEW_COLUMNS]
    head = frame.head(preview)
    meta["preview"] = {"header": shown,
                       "rows": [[_plain(v) for v in row[:MAX_PREVIEW_COLUMNS]]
                                for row in head.itertuples(index=False, name=None)]}
    if stats is None:
        stats = len(frame) * max(len(columns), 1) <= STATS_MAX_CELLS
    if stats:
        meta["stats"] = {str(c): column_stats(frame[c]) for c in frame.columns[:MAX_PREVIEW_COLUMNS]}
    return meta


def feature_set_meta(frame: Any, entities: list[str], timestamp_key: str | None,
                     label_column: str | None) -> dict[str, Any]:
    """Entities and typed features of a feature set (every other column is a feature)."""
    columns = [str(c) for c in frame.columns]
    for name, what in [(e, "entity") for e in entities] + [(timestamp_key, "timestamp_key"),
                                                          (label_column, "label_column")]:
        if name is not None and name not in columns:
            raise InvalidValueError(f"The {what} {name!r} is not a column; columns: {', '.join(columns)}.")
    if not entities:
        raise InvalidValueError("A feature set needs at least one entity column: pass entities=['id'].")
    skip = set(entities) | {timestamp_key}
    types = {str(c): str(t) for c, t in frame.dtypes.items()}
    return {"entities": [{"name": e, "type": types[e]} for e in entities],
            "features": [{"name": c, "type": types[c]} for c in columns if c not in skip],
            "timestamp_key": timestamp_key, "label_column": label_column}


def read_frame(version: Any, **kwargs: Any):
    """A DataFrame from a stored table (dataset, feature set or vector, csv/parquet files)."""
    fmt = (version.format or "").lower()
    if version.is_dir or fmt not in ("parquet", "pq", "csv", "tsv"):
        raise InvalidValueError(
            f"{version.uri} is a {version.kind} stored as {fmt or 'unknown format'}; as_df() reads "
            "Parquet or CSV tables only. Use local_path() or open() for other files."
        )
    path = Path(version.local_path())
    pd = _pandas()
    if fmt in ("parquet", "pq"):
        _pyarrow()
        return pd.read_parquet(path, **kwargs)
    return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", **kwargs)
