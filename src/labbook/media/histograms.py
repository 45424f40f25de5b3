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


BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")


def prepare_histogram(what: str, values: Any, bins: Any, max_bins: int | None):
    """Check ``values`` and ``bins`` now and copy ``values``; return (compute, bytes held).

    ``compute()`` bins the copy (on the writer thread: binning a large tensor takes a while);
    non-finite values are left out and counted in ``nonfinite``.
    """
    import numpy as np

    limit = DEFAULT_MAX_BINS if max_bins is None else max_bins
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise InvalidValueError(f"{what}: max_bins={max_bins!r} must be a positive int.")
    limit = int(limit)
    data = numeric(what, "values", values).ravel()
    if data.dtype.kind == "f" and not np.isfinite(data).any():
        raise InvalidValueError(
            f"{what}: values has {data.size} numbers and none is finite (all NaN or infinite)."
        )
    is_count = isinstance(bins, numbers.Integral) and not isinstance(bins, bool)
    edges = None
    if isinstance(bins, str):
        if bins not in BIN_RULES:
            raise InvalidValueError(
                f"{what}: bins={bins!r} is not a numpy binning rule; use a count, edges or one of "
                f"{', '.join(BIN_RULES)}."
            )
    elif is_count:
        if not 1 <= bins <= limit:
            raise InvalidValueError(
                f"{what}: bins={bins!r} must be between 1 and max_bins={limit}; raise max_bins to allow more."
            )
        bins = int(bins)
    else:
        edges = numeric(what, "bins", bins, ndim=1).astype(np.float64)
        if len(edges) < 2 or len(edges) - 1 > limit or not (np.diff(edges) > 0).all():
            raise InvalidValueError(
                f"{what}: bins as edges must be 2 to max_bins + 1 = {limit + 1} increasing numbers; "
                f"got {len(edges)}."
            )

    def compute() -> dict[str, Any]:
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        if edges is not None:
            counts, bin_edges = np.histogram(finite, bins=edges)
        else:
            count = rule_bins(finite, bins, limit) if isinstance(bins, str) else bins
            counts, bin_edges = equal_bins(finite, count)
        return {"edges": float_list(bin_edges), "counts": counts.tolist(),
                "nonfinite": int(data.size - finite.size)}

    return compute, int(data.nbytes)


def rule_bins(finite, rule: str, limit: int) -> int:
    """How many equal bins numpy's ``rule`` asks for, capped at ``limit``, computed without
    building the edges (``fd`` on data with a tiny spread would ask for billions)."""
    import numpy as np

    try:
        from numpy.lib._histograms_impl import _hist_bin_selectors
    except ImportError:  # numpy 1.x
        from numpy.lib.histograms import _hist_bin_selectors  # type: ignore[no-redef]
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        return 1
    with np.errstate(all="ignore"):
        width = float(_hist_bin_selectors[rule](finite.astype(np.float64), (low, high)))
        wanted = (high - low) / width if width > 0 else 1.0
    if not np.isfinite(wanted) or wanted > limit:
        return limit
    return max(1, int(np.ceil(wanted)))


def equal_bins(finite, count: int):
    """``numpy.histogram(finite, count)``, also for ranges too small or too large for ``count``
    finite bins (denormal spreads, ±1e308), where numpy refuses: fewer or computed edges then."""
    import numpy as np

    low, high = float(finite.min()), float(finite.max())
    with np.errstate(all="ignore"):
        spread_fits = bool(np.isfinite(high - low))
    if spread_fits:
        try:
            return np.histogram(finite, bins=count)
        except ValueError:  # "Too many bins for data range"
            pass
    steps = np.linspace(0.0, 1.0, count + 1)
    edges = np.unique(low * (1 - steps) + high * steps)  # no overflow, strictly increasing
    if len(edges) < 2:
        edges = np.array([low, high]) if low < high else np.array([low - 0.5, high + 0.5])
    return np.histogram(finite, bins=edges)


def histogram_value(what: str, values: Any, bins: Any, max_bins: int | None) -> dict[str, Any]:
    """The stored value of ``log_histogram``, computed at once (see ``prepare_histogram``)."""
    return prepare_histogram(what, values, bins, max_bins)[0]()


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
