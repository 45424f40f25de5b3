"""Arrays from whatever users log (numpy, torch on CPU or GPU, lists) and checks that name the argument."""

from __future__ import annotations

from typing import Any

from labbook._values import json_float
from labbook.errors import InvalidValueError


def to_numpy(what: str, argument: str, data: Any, *, copy: bool = True):
    """A numpy array owned by labbook (a copy, unless ``copy=False``) for ``data``.

    Torch tensors are accepted by duck typing, on any device: ``.detach().cpu().numpy()``.
    """
    import numpy as np

    if hasattr(data, "detach") and hasattr(data, "cpu"):
        data = data.detach().cpu()
        if hasattr(data, "numpy"):
            try:
                data = data.numpy()
            except TypeError:  # e.g. bfloat16, which numpy has no type for
                data = data.float().numpy()
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray) and callable(data.numpy):
        data = data.numpy()  # TensorFlow eager tensors, JAX arrays
    try:
        array = np.array(data, copy=True) if copy else np.asarray(data)
    except (ValueError, TypeError) as error:
        raise InvalidValueError(
            f"{what}: {argument} ({type(data).__name__}) cannot be read as an array ({error}). "
            "Pass a numpy array, a torch tensor or a (nested) list of numbers."
        ) from None
    if array.dtype == object:
        raise InvalidValueError(
            f"{what}: {argument} is ragged or holds non-numbers (numpy made an object array of "
            f"shape {array.shape}). Pass a rectangular array of numbers."
        )
    return array


def numeric(what: str, argument: str, data: Any, *, ndim: int | tuple[int, ...] | None = None,
            allow_empty: bool = False, copy: bool = True):
    """``to_numpy`` plus checks: real numbers (or bools), the given number of axes, not empty."""
    import numpy as np

    array = to_numpy(what, argument, data, copy=copy)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(array):
        raise InvalidValueError(
            f"{what}: {argument} has dtype {array.dtype}; it must hold real numbers."
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            wanted = " or ".join(str(n) for n in allowed)
            raise InvalidValueError(
                f"{what}: {argument} has shape {array.shape} ({array.ndim} axes); it must have {wanted} axes."
            )
    if not allow_empty and array.size == 0:
        raise InvalidValueError(f"{what}: {argument} is empty (shape {array.shape}); pass at least one value.")
    return array


def float_list(array) -> list:
    """A JSON list of floats; NaN and infinities become 'nan', 'inf', '-inf' (JSON has none)."""
    import numpy as np

    values = np.asarray(array, dtype=np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    return [json_float(v) for v in values.tolist()]


def plain_list(what: str, argument: str, data: Any) -> list:
    """Labels or values as JSON data, keeping their types (str, int, float, bool, None)."""
    from labbook._values import json_value

    if hasattr(data, "tolist"):
        data = data.tolist()
    elif hasattr(data, "detach"):
        data = to_numpy(what, argument, data).tolist()
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise InvalidValueError(
            f"{what}: {argument} must be a sequence (list, tuple, array), got {type(data).__name__} "
            f"({data!r:.60})."
        )
    return json_value(what, argument, list(data))


def same_length(what: str, **arrays: Any) -> int:
    """The common length of the named sequences, or an error naming the ones that differ."""
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InvalidValueError(f"{what}: lengths differ ({described}); pass sequences of the same length.")
    return next(iter(lengths.values()))
