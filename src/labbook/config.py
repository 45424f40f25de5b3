"""Configuration: the one place that resolves a setting.

Order, first match wins: explicit argument, then the run, then the project's settings, then
``LABBOOK_*`` environment variables, then the home's ``config.toml``, then the defaults below.
Nothing is read at import time.

The home is the ``.labbook/`` folder found by walking up from the working directory, created in
the working directory when there is none; ``LABBOOK_HOME`` overrides the search.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from labbook.errors import ConfigError

HOME_DIR_NAME = ".labbook"
CONFIG_FILE = "config.toml"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean. Use 1/0, true/false, yes/no or on/off.")


def find_home(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The labbook home: ``LABBOOK_HOME``, else the nearest ``.labbook/`` up from ``cwd``."""
    env = os.environ if env is None else env
    if env.get("LABBOOK_HOME"):
        return Path(env["LABBOOK_HOME"]).expanduser().absolute()
    start = (cwd or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        candidate = folder / HOME_DIR_NAME
        if candidate.is_dir():
            return candidate
    return start / HOME_DIR_NAME


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with ``Settings.load()``; every field has a default."""

    home: Path
    artifacts_root: str  # a local path or any fsspec URL; may hold {{project}} etc.
    catalog_url: str
    project: str = "default"
    flush_interval: float = 1.0
    max_pending: int = 1_000_000
    no_op: bool = False
    never_crash: bool = False  # count and report values and writes that fail instead of raising
    index_interval: float = 5.0
    resources_interval: float = 10.0
    heartbeat_interval: float = 10.0
    crash_timeout: float = 60.0
    rank_metrics: str = "rank0"  # "rank0" or "all"
    collect_resources: bool = True
    artifact_store: str | None = None  # artifact registry root (fsspec URL); None: artifacts_root
    artifact_path: str | None = None  # where artifact bytes go; may hold {{project}}, {{run.uid}}
    allowed_paths: str | None = None  # extra comma-separated locations the read side may open
    extra: dict[str, Any] = field(default_factory=dict)

    # setting name -> (environment variables, parser), in priority order within the environment
    _ENV = {
        "artifacts_root": (("LABBOOK_ARTIFACTS_ROOT",), str),
        "catalog_url": (("LABBOOK_CATALOG_URL",), str),
        "project": (("LABBOOK_PROJECT",), str),
        "flush_interval": (("LABBOOK_FLUSH_INTERVAL",), float),
        "max_pending": (("LABBOOK_MAX_PENDING",), int),
        "no_op": (("LABBOOK_NO_OP", "POLYAXON_NO_OP"), "bool"),
        "never_crash": (("LABBOOK_NEVER_CRASH",), "bool"),
        "index_interval": (("LABBOOK_INDEX_INTERVAL",), float),
        "resources_interval": (("LABBOOK_RESOURCES_INTERVAL",), float),
        "heartbeat_interval": (("LABBOOK_HEARTBEAT_INTERVAL",), float),
        "crash_timeout": (("LABBOOK_CRASH_TIMEOUT",), float),
        "rank_metrics": (("LABBOOK_RANK_METRICS",), str),
        "collect_resources": (("LABBOOK_COLLECT_RESOURCES", "POLYAXON_COLLECT_RESOURCES"), "bool"),
        "artifact_store": (("LABBOOK_ARTIFACT_STORE",), str),
        "artifact_path": (("LABBOOK_ARTIFACT_PATH",), str),
        "allowed_paths": (("LABBOOK_ALLOWED_PATHS",), str),
    }

    @classmethod
    def load(
        cls,
        explicit: Mapping[str, Any] | None = None,
        *,
        home: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> "Settings":
        env = os.environ if env is None else env
        home_path = Path(home).expanduser().absolute() if home else find_home(cwd, env)
        values: dict[str, Any] = {}
        values.update(_read_config_file(home_path / CONFIG_FILE))
        for name, (variables, parser) in cls._ENV.items():
            for variable in variables:
                raw = env.get(variable)
                if raw is None or (raw == "" and parser != "bool"):
                    continue
                values[name] = _parse(raw, parser, variable)
                break
        for name, value in (explicit or {}).items():
            if value is not None:
                values[name] = value
        known = {f.name for f in fields(cls)} - {"home", "extra"}
        extra = {k: v for k, v in values.items() if k not in known}
        values = {k: v for k, v in values.items() if k in known}
        values.setdefault("artifacts_root", str(home_path / "artifacts"))
        values.setdefault("catalog_url", f"sqlite:///{home_path / 'catalog.db'}")
        settings = cls(home=home_path, extra=extra, **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if "://" in str(self.artifacts_root):
            raise ConfigError(
                f"artifacts_root={self.artifacts_root!r} must be a local folder: run folders are "
                "written locally. Put artifact versions in an object store with "
                "LABBOOK_ARTIFACT_STORE (e.g. s3://bucket/prefix) instead."
            )
        if not self.flush_interval > 0:
            raise ConfigError(f"flush_interval={self.flush_interval!r} must be a positive number of seconds.")
        if self.max_pending < 1000:
            raise ConfigError(f"max_pending={self.max_pending!r} is too small; use at least 1000.")
        if self.rank_metrics not in ("rank0", "all"):
            raise ConfigError(f"rank_metrics={self.rank_metrics!r} must be 'rank0' or 'all'.")


def _parse(raw: str, parser: Any, variable: str) -> Any:
    if parser == "bool":
        return parse_bool(raw, variable)
    try:
        return parser(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r} is not a valid {parser.__name__}.") from None


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}. Fix or remove it.") from None
    return dict(data.get("labbook", data))
