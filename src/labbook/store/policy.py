"""Where artifact bytes go, and which locations the read side may open.

**Write side.** The artifact path resolves in this order, first set wins (MLRun's order):

1. the log call's ``artifact_path=``;
2. the run: ``run.log_meta(artifact_path=...)``;
3. the project: ``settings.artifact_path`` in the catalog's project row
   (``labbook.artifacts.api.set_project_artifact_path``);
4. the client configuration: ``LABBOOK_ARTIFACT_PATH`` or ``artifact_path`` in config.toml;
5. the default: ``<artifact store>/{{project}}/_artifacts``.

Templates: ``{{project}}``, ``{{run.uid}}`` and ``{{run.name}}`` (``project`` for both outside a
run), filled in one pass, so a value is never read as a template itself; an unknown name is an
error, raised by ``tracking.init`` for the configured path. Under the resolved path, bytes are
content-addressed: ``<path>/<key>/<sha[:2]>/<sha><ext>``.

**Read side.** ``ReadPolicy`` opens only the configured stores: the artifact store, the run
folders' root, the configured artifact path and ``LABBOOK_ALLOWED_PATHS``. Never ``http://``,
never a local path outside those roots (a path a user merely logged as a reference)::

    policy = ReadPolicy.from_settings(Settings.load())
    policy.check("s3://other-bucket/x")   # raises PathEscapeError naming the fix
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from labbook.errors import ConfigError, PathEscapeError

_TEMPLATE = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")
_KNOWN = ("project", "run.project", "run.uid", "run.name")


def store_root(settings: Any) -> str:
    """The artifact registry's root: ``artifact_store``, else the run folders' root."""
    return str(settings.artifact_store or settings.artifacts_root)


def check_template(template: str | None, where: str = "Artifact path") -> str | None:
    """``template`` if every ``{{name}}`` in it is known; else a ``ConfigError`` naming it."""
    for match in _TEMPLATE.finditer(template or ""):
        if match.group(1) not in _KNOWN:
            raise ConfigError(
                f"{where} {template!r} uses {{{{{match.group(1)}}}}}; the known templates are "
                f"{', '.join('{{' + k + '}}' for k in _KNOWN)}. Fix the path (LABBOOK_ARTIFACT_PATH, "
                "artifact_path in config.toml, the project's or the call's artifact_path)."
            )
    return template


def render(template: str, project: str, run_uid: str | None = None, run_name: str | None = None) -> str:
    """Fill ``{{project}}``, ``{{run.uid}}`` and ``{{run.name}}``; unknown names are an error.

    One pass: a value put in (a run named ``{{project}}``, say) is never read as a template.
    """
    check_template(template)
    values = {"project": project, "run.project": project, "run.uid": run_uid or "project",
              "run.name": run_name or run_uid or "project"}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        value = values[name]
        if "/" in value or value in (".", ".."):
            raise PathEscapeError(f"Artifact path template {{{{{name}}}}} would insert {value!r}, "
                                  "which is not one path component. Rename the run.")
        return value

    return _TEMPLATE.sub(fill, template)


def resolve_artifact_path(
    settings: Any,
    project: str,
    *,
    call: str | None = None,
    run: Mapping[str, Any] | None = None,
    project_settings: Mapping[str, Any] | None = None,
) -> str:
    """The rendered base location for new artifact bytes (see the module docstring)."""
    run = run or {}
    candidates = (
        call,
        (run.get("meta") or {}).get("artifact_path"),
        (project_settings or {}).get("artifact_path"),
        settings.artifact_path,
        f"{store_root(settings).rstrip('/')}/{{{{project}}}}/_artifacts",
    )
    template = next(str(c) for c in candidates if c)
    if template.startswith(("http://", "https://")):
        raise ConfigError(f"Artifact path {template!r} is an HTTP URL, which labbook cannot write "
                          "to. Use a folder or an object store URL (s3://, gs://, az://).")
    rendered = render(template, project, run.get("uuid"), run.get("name"))
    if "://" not in rendered:
        rendered = str(Path(rendered).expanduser().absolute())
    return rendered.rstrip("/")


def _static_prefix(template: str) -> str:
    return template.split("{{", 1)[0].rstrip("/")


def _normal(location: str) -> str:
    if location.startswith("file://"):
        location = location[len("file://"):]
    if "://" in location:
        return location.rstrip("/")
    return os.path.realpath(os.path.expanduser(location))


@dataclass(frozen=True)
class ReadPolicy:
    """The locations the read side may open: prefixes of normalised paths and URLs."""

    prefixes: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Any) -> ReadPolicy:
        roots = [store_root(settings), str(settings.artifacts_root)]
        if settings.artifact_path:
            roots.append(_static_prefix(settings.artifact_path))
        if settings.allowed_paths:
            roots += [p.strip() for p in str(settings.allowed_paths).split(",") if p.strip()]
        prefixes = []
        for root in roots:
            if not root or root.startswith("http://"):
                continue  # plain HTTP is never readable, even when configured
            prefixes.append(_normal(root))
        return cls(tuple(dict.fromkeys(prefixes)))

    def allows(self, location: str) -> bool:
        if location.startswith("http://"):
            return False
        target = _normal(location)
        return any(target == p or target.startswith(p.rstrip("/") + "/") for p in self.prefixes)

    def check(self, location: str) -> str:
        if not self.allows(location):
            raise PathEscapeError(
                f"Reading {location!r} is not allowed: labbook reads only its configured stores "
                f"({', '.join(self.prefixes) or 'none'}). Add the location to LABBOOK_ALLOWED_PATHS "
                "if it is a store you trust (plain http:// is never allowed)."
            )
        return location
