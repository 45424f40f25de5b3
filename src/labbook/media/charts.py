"""Charts stored as their libraries' JSON specs, so a viewer can render them interactively.

Value: ``{"kind": "plotly" | "bokeh" | "vega", "figure": <spec>}``. The spec is serialised on
the caller's thread (a chart object may change after the call) and embedded in the event as
is. ``log_mpl_plotly_chart`` adds ``"source": "matplotlib"``; when matplotlib → plotly fails it
stores a PNG instead: ``{"kind": "image", "path": ..., "fallback": "image", "reason": ...}``.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from labbook._values import json_value
from labbook.errors import InvalidValueError
from labbook.media.optional import need


def json_fragment(what: str, argument: str, spec: Any):
    """``spec`` (plain data, numpy arrays allowed) serialised now, or an error naming it.

    The event writer embeds the bytes as they are, without encoding the chart a second time.
    """
    try:
        return orjson.Fragment(orjson.dumps(spec, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return orjson.Fragment(orjson.dumps(json_value(what, argument, spec)))


def _module_of(figure: Any) -> str:
    return type(figure).__module__.split(".")[0]


def plotly_spec(what: str, figure: Any):
    """The figure's plotly JSON. Accepts a plotly Figure, a dict spec or a matplotlib figure."""
    from labbook.media.images import is_figure

    if is_figure(figure):
        return plotly_json(what, mpl_to_plotly(what, figure))
    go = need("plotly.graph_objects", what)
    if isinstance(figure, go.Figure):
        return plotly_json(what, figure)
    if isinstance(figure, (dict, list)):
        try:
            return plotly_json(what, go.Figure(figure))
        except ValueError as error:
            raise InvalidValueError(f"{what}: figure is not a valid plotly figure: {error}") from None
    raise InvalidValueError(
        f"{what}: figure must be a plotly Figure (or its dict), got {type(figure).__name__}."
    )


def plotly_json(what: str, figure: Any):
    """Plain JSON lists (not plotly's base64 typed arrays), so any plotly.js version reads it."""
    return json_fragment(what, "figure", figure.to_dict())


def mpl_to_plotly(what: str, figure: Any):
    tools = need("plotly.tools", what)
    return tools.mpl_to_plotly(figure)


def bokeh_spec(what: str, figure: Any):
    embed = need("bokeh.embed", what)
    model = sys.modules.get("bokeh.model")
    if model is None or not isinstance(figure, model.Model):
        raise InvalidValueError(
            f"{what}: figure must be a bokeh model such as bokeh.plotting.figure(), got {type(figure).__name__}."
        )
    return json_fragment(what, "figure", embed.json_item(figure))


def altair_spec(what: str, figure: Any):
    need("altair", what)
    if isinstance(figure, dict):
        return json_fragment(what, "figure", figure)
    if _module_of(figure) != "altair" or not hasattr(figure, "to_dict"):
        raise InvalidValueError(
            f"{what}: figure must be an altair chart (or its Vega-Lite dict), got {type(figure).__name__}."
        )
    return json_fragment(what, "figure", figure.to_dict())
