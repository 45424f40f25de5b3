"""Data frames as CSV, Parquet or HTML assets with the matching extension.

Value: ``{"path", "content_type", "rows", "columns"}``. The frame is copied on the caller's
thread (to an Arrow table for Parquet, which also checks it can be written) and written on the
writer thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError
from labbook.media.optional import need

CONTENT_TYPES = {"csv": "csv", "parquet": "parquet", "html": "html"}


def check_content_type(what: str, content_type: Any) -> str:
    kind = str(getattr(content_type, "value", content_type) or "csv").lower().lstrip(".")
    if kind not in CONTENT_TYPES:
        raise InvalidValueError(
            f"{what}: content_type={content_type!r} is not supported; use 'csv', 'parquet' or 'html'."
        )
    return kind


def as_frame(what: str, df: Any):
    pd = need("pandas", what)
    if isinstance(df, pd.Series):
        return df.to_frame()
    if isinstance(df, pd.DataFrame):
        return df
    if hasattr(df, "to_pandas"):  # polars, pyarrow tables
        return df.to_pandas()
    raise InvalidValueError(f"{what}: df must be a pandas DataFrame or Series, got {type(df).__name__}.")


def frame_writer(what: str, df: Any, kind: str):
    """Snapshot ``df`` now; the returned writer writes it in ``kind`` format."""
    frame = as_frame(what, df)
    rows, columns = int(frame.shape[0]), int(frame.shape[1])
    fields = {"content_type": kind, "rows": rows, "columns": columns}
    if kind == "parquet":
        pa = need("pyarrow", "Logging a data frame as Parquet")
        need("pyarrow.parquet", "Logging a data frame as Parquet")
        try:
            table = pa.Table.from_pandas(frame.copy(deep=True))  # from_pandas alone shares buffers
        except (pa.ArrowException, TypeError, ValueError) as error:
            raise InvalidValueError(
                f"{what}: df cannot be stored as Parquet ({error}). Use content_type='csv', or give "
                "its columns single types and string names."
            ) from None

        def write_parquet(path: Path) -> dict[str, Any]:
            import pyarrow.parquet as pq

            pq.write_table(table, path)
            return fields

        return write_parquet
    snapshot = frame.copy()

    def write_text(path: Path) -> dict[str, Any]:
        if kind == "csv":
            snapshot.to_csv(path)
        else:
            snapshot.to_html(path)
        return fields

    return write_text
