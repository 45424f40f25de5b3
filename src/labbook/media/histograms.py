"""Histograms, stored as bin edges and counts with numpy's meaning of the two arrays.

``log_histogram(name, values, bins)`` bins raw values with ``numpy.histogram``.
``log_np_histogram(name, values, counts)`` takes a histogram already made. numpy's
``np.histogram`` returns ``(hist, bin_edges)``; labbook reads ``values`` as the bin edges
(``n + 1`` numbers) and ``counts`` as the count per bin (``n`` numbers). Polyaxon has the two
names swapped (``values`` = counts, ``counts`` = edges, as in ``values, counts = np.histogram(x)``);
that order is accepted too, recognised by which array is one longer. The stored value is
always ``{"edges": [...n+1], "counts": [...n]}``.
"""

from __future__ import annotations

import numbers
from typing import Any

from labbook.errors import InvalidValueError
from labbook.media.arrays import float_list, numeric

DEFAULT_MAX_BINS = 512


def _json_counts(counts) -> list:
    import numpy as np

    if counts.dtype.kind in "iub" or np.array_equal(counts, np.round(counts)):
        if np.isfinite(counts).all():
            return counts.astype(np.int64).tolist()
    return float_list(counts)


def histogram_value(what: str, values: Any, bins: Any, max_bins: int | None) -> dict[str, Any]:
    """Bin ``values`` (non-finite ones are counted apart, in ``nonfinite``)."""
    import numpy as np

    limit = DEFAULT_MAX_BINS if max_bins is None else max_bins
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidValueError(f"{what}: max_bins={max_bins!r} must be a positive int.")
    data = numeric(what, "values", values, copy=False).ravel().astype(np.float64)
    finite = data[np.isfinite(data)]
    if not finite.size:
        raise InvalidValueError(
            f"{what}: values has {data.size} numbers and none is finite (all NaN or infinite)."
        )
    if isinstance(bins, str):
        try:
            edges = np.histogram_bin_edges(finite, bins=bins)
        except ValueError as error:
            raise InvalidValueError(f"{what}: bins={bins!r}: {error}") from None
        if len(edges) - 1 > limit:  # a rule such as 'auto' asked for too many: cap it
            edges = np.histogram_bin_edges(finite, bins=limit)
    else:
        is_count = isinstance(bins, numbers.Integral) and not isinstance(bins, bool)
        if isinstance(bins, bool) or (is_count and not 1 <= bins <= limit):
            raise InvalidValueError(
                f"{what}: bins={bins!r} must be between 1 and max_bins={limit}; raise max_bins to allow more."
            )
        if is_count:
            edges = np.histogram_bin_edges(finite, bins=int(bins))
        else:
            edges = numeric(what, "bins", bins, ndim=1, copy=False).astype(np.float64)
            if len(edges) < 2 or len(edges) - 1 > limit or not (np.diff(edges) > 0).all():
                raise InvalidValueError(
                    f"{what}: bins as edges must be 2 to max_bins + 1 = {limit + 1} increasing numbers; "
                    f"got {len(edges)}."
                )
    counts, edges = np.histogram(finite, bins=edges)
    return {"edges": float_list(edges), "counts": counts.tolist(), "nonfinite": int(data.size - finite.size)}


def np_histogram_value(what: str, values: Any, counts: Any) -> dict[str, Any]:
    """Edges and counts from either order (see the module docstring)."""
    import numpy as np

    first = numeric(what, "values", values, ndim=1, copy=False)
    second = numeric(what, "counts", counts, ndim=1, copy=False)
    if len(first) == len(second) + 1:
        edges, per_bin = first, second
    elif len(second) == len(first) + 1:
        edges, per_bin = second, first  # Polyaxon's order
    else:
        raise InvalidValueError(
            f"{what}: values has {len(first)} numbers and counts has {len(second)}; one must be the "
            "bin edges, exactly one longer than the counts per bin (as numpy.histogram returns them)."
        )
    edges = edges.astype(np.float64)
    if not np.isfinite(edges).all() or not (np.diff(edges) >= 0).all():
        raise InvalidValueError(f"{what}: the bin edges must be finite and increasing, got {edges.tolist()[:10]}.")
    return {"edges": edges.tolist(), "counts": _json_counts(per_bin), "nonfinite": 0}
