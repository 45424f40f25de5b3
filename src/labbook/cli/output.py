"""How the CLI prints: one console, and one rule for every user string it shows.

Run names, tags, params, artifact keys, labels and paths are the user's text. The console never
reads markup or emoji codes in them (a run named ``[/]`` or ``[bold red]x[/bold red]`` is printed
as typed), and ``shown`` makes control characters visible (``\\x1b`` instead of a terminal
escape), so a value can neither break the output nor restyle the terminal. Styles the CLI adds
itself come as ``rich.text.Text`` objects, never as markup strings.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from typing import Any

import orjson

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(value: Any) -> str:
    """``value`` as text that prints exactly as written: control characters escaped."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def styled(value: Any, style: str = "") -> Any:
    """A rich ``Text`` of ``shown(value)`` in ``style``: user text that carries a style."""
    from rich.text import Text

    return Text(shown(value), style=style)


def console():
    """The CLI's rich console: no markup, no emoji codes, wide when piped."""
    from rich.console import Console

    options = {"markup": False, "emoji": False, "highlight": False}
    out = Console(**options)
    if not out.is_terminal:  # piped: do not squeeze tables into 80 columns
        out = Console(width=200, **options)
    return out


def dump_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(
        data, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
    ).decode() + "\n")


def format_value(value: Any) -> str:
    """A value in a table cell or a line: numbers short, times local, JSON for containers."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        return shown(orjson.dumps(value).decode())
    return shown(value)


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
