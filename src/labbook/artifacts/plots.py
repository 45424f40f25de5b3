"""Turning a figure into a plot artifact's file: matplotlib → PNG, plotly/bokeh → HTML,
altair → Vega-Lite JSON, PNG/SVG bytes or an existing file as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError


def render_figure(figure: Any, dest_stem: Path) -> tuple[Path, str]:
    """Write ``figure`` next to ``dest_stem`` with the right extension; (path, library)."""
    dest_stem.parent.mkdir(parents=True, exist_ok=True)
    module = type(figure).__module__
    if isinstance(figure, (str, Path)) and Path(figure).is_file():
        source = Path(figure)
        dest = dest_stem.with_name(dest_stem.name + "".join(source.suffixes[-1:]))
        dest.write_bytes(source.read_bytes())
        return dest, "file"
    if isinstance(figure, (bytes, bytearray)):
        ext = ".svg" if bytes(figure[:5]).lstrip().startswith(b"<") else ".png"
        dest = dest_stem.with_name(dest_stem.name + ext)
        dest.write_bytes(bytes(figure))
        return dest, "bytes"
    if module.startswith("matplotlib"):
        dest = dest_stem.with_name(dest_stem.name + ".png")
        figure.savefig(dest, format="png", metadata={"Software": None})
        return dest, "matplotlib"
    if module.startswith("plotly"):
        dest = dest_stem.with_name(dest_stem.name + ".html")
        dest.write_text(figure.to_html(include_plotlyjs="cdn", full_html=True))
        return dest, "plotly"
    if module.startswith("bokeh"):
        from bokeh.embed import file_html
        from bokeh.resources import CDN

        dest = dest_stem.with_name(dest_stem.name + ".html")
        dest.write_text(file_html(figure, CDN))
        return dest, "bokeh"
    if module.startswith("altair"):
        import orjson

        dest = dest_stem.with_name(dest_stem.name + ".vega.json")
        dest.write_bytes(orjson.dumps(figure.to_dict()))
        return dest, "altair"
    raise InvalidValueError(
        f"log_plot() got {type(figure).__name__}; pass a matplotlib, plotly, bokeh or altair "
        "figure, PNG/SVG bytes, or the path of an image file."
    )
