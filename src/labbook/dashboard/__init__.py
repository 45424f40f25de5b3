"""The dashboard's built files (the TypeScript source is ``ui/`` at the repository root).

``npm run build`` in ``ui/`` writes the bundle into ``static/`` here; wheels carry it as package
data. The server mounts the folder::

    from labbook.dashboard import static_dir
    folder = static_dir()          # None in a source checkout where the bundle is not built
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def static_dir() -> Path | None:
    """The folder holding the built dashboard (``index.html`` and ``assets/``), or None when it
    has not been built (in a source checkout: ``cd ui && npm ci && npm run build``)."""
    return STATIC if (STATIC / "index.html").is_file() else None
