"""Configuration: the one place that resolves a setting.

Order, first match wins: explicit argument, then the run, then the project's settings, then
``LABBOOK_*`` environment variables, then the home's ``config.toml``, then the defaults below.
Nothing is read at import time.

The home is the ``.labbook/`` folder found by walking up from the working directory, created in
the working directory by the first run logged when there is none (a read never creates one:
``Settings.require_home``); ``LABBOOK_HOME`` overrides the search. Every setting is converted and
range-checked in ``Settings._checked``, whatever its source. ``SETTINGS`` lists every setting with
its environment variables and help text; a key that is none of them (in ``config.toml`` or as an
argument) is a ``ConfigError`` naming the closest one. The variables that describe the process
rather than configure labbook (``PROCESS_VARIABLES``: ``LABBOOK_RUN_UUID``, ``RANK``, ...) are read
here too, by ``process_environment``: no other module reads a ``LABBOOK_*`` variable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Mapping

from labbook.errors import ConfigError, NotFoundError

HOME_DIR_NAME = ".labbook"
CONFIG_FILE = "config.toml"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: Any, label: str) -> bool:
    """``value`` as a boolean; ``label`` (``LABBOOK_NO_OP='maybe'``) names it in the error."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{label} is not a boolean. Use 1/0, true/false, yes/no or on/off.")


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


# setting -> (lowest, highest, unit): the allowed range of each numeric setting, whatever its source
RANGES: dict[str, tuple[float, float, str]] = {
    "flush_interval": (0.01, 3600.0, "seconds"),
    "max_pending": (1000, 100_000_000, "events"),
    "index_interval": (0.1, 86400.0, "seconds"),
    "resources_interval": (0.1, 86400.0, "seconds"),
    "heartbeat_interval": (0.1, 86400.0, "seconds"),
    "crash_timeout": (1.0, 30 * 86400.0, "seconds"),
    "server_max_body": (1024, 64 * 1024**3, "bytes"),
    "sync_timeout": (0.0, 86400.0, "seconds"),
    "sync_interval": (0.05, 3600.0, "seconds"),
}
CHOICES: dict[str, tuple[str, ...]] = {"rank_metrics": ("rank0", "all")}


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
    # the server (labbook server / labbook ui); see docs/server.md
    server_allowed_hosts: str | None = None  # extra comma-separated Host names to accept
    server_cors_origins: str | None = None  # comma-separated origins allowed by CORS; None: off
    server_max_body: int = 32 * 1024 * 1024  # bytes; larger request bodies get 413
    server_public_read: bool = False  # reads need no token
    server_local_only: bool = False  # labbook ui: every loopback request is allowed, no token
    # remote tracking (docs/server.md): runs are written locally and shipped to this server
    host: str | None = None  # http(s)://server[:port]; None: local only
    token: str | None = field(default=None, repr=False)  # never printed
    offline: bool = False  # log locally without syncing (is_offline=True)
    sync_timeout: float = 30.0  # seconds end() waits for the last bytes to reach the server
    sync_interval: float = 0.5  # seconds between two passes of the background syncer
    store: str | None = None  # the server's object store for synced run files (s3://bucket/prefix or a folder)

    # setting name -> (environment variables, parser): derived from SETTINGS below
    _ENV: ClassVar[dict[str, tuple[tuple[str, ...], Any]]]

    @classmethod
    def load(
        cls,
        explicit: Mapping[str, Any] | None = None,
        *,
        home: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        if home is not None and not isinstance(home, (str, os.PathLike)):
            raise ConfigError(f"home={home!r} ({type(home).__name__}) is not a path. Pass a str or a Path.")
        home_path = Path(home).expanduser().absolute() if home else find_home(cwd, env)
        config_file = home_path / CONFIG_FILE
        # What the result depends on: the home, its config file as it is now, the variables and
        # the arguments. The same inputs give the same settings, already checked (a process
        # starting a thousand runs reads them a thousand times).
        try:
            stamp: Any = config_file.read_bytes()  # its text, not its time: rewritten within a clock tick
        except OSError:  # none (or not a file): no settings from it, as below
            stamp = None
        try:
            key: Any = (cls, home_path, stamp, tuple(env.get(v) for v in _VARIABLES),
                        tuple((explicit or {}).items()))
            hash(key)
        except TypeError:  # an argument that cannot be a key: resolved without the memo
            key = None
        if key is not None and key in _loaded:
            return _loaded[key]
        values: dict[str, Any] = {}
        for name, value in _read_config_file(config_file).items():
            if name not in cls._ENV:
                raise _unknown_setting(name, f"in {config_file}")
            values[name] = cls._checked(name, value, f"{name}={value!r} in {config_file}")
        for name, (variables, parser) in cls._ENV.items():
            for variable in variables:
                raw = env.get(variable)
                if raw is None or (raw == "" and parser != "bool"):
                    continue
                values[name] = cls._checked(name, raw, f"{variable}={raw!r}")
                break
        for name, value in (explicit or {}).items():
            if name not in cls._ENV:
                raise _unknown_setting(name, "an argument")
            if value is not None:
                values[name] = cls._checked(name, value, f"{name}={value!r}")
        values.setdefault("artifacts_root", str(home_path / "artifacts"))
        values.setdefault("catalog_url", f"sqlite:///{home_path / 'catalog.db'}")
        settings = cls(home=home_path, **values)
        settings.validate()
        if key is not None:
            if len(_loaded) >= 64:
                _loaded.clear()
            _loaded[key] = settings
        return settings

    def with_overrides(self, explicit: Mapping[str, Any]) -> Settings:
        """These settings with the arguments ``explicit`` applied on top, as ``load(explicit)``
        on the same home and environment would give (arguments win over the file and the
        environment; None leaves a setting as it is), without reading them again."""
        changes = {}
        for name, value in explicit.items():
            if name not in self._ENV:
                raise _unknown_setting(name, "an argument")
            if value is not None:
                changes[name] = self._checked(name, value, f"{name}={value!r}")
        if not changes:
            return self
        settings = replace(self, **changes)
        if changes.keys() & {"host", "artifacts_root"}:  # every other value was checked above
            settings.validate()
        return settings

    @classmethod
    def _checked(cls, name: str, value: Any, label: str) -> Any:
        """``value`` of setting ``name`` converted to its type and checked against its range;
        ``label`` says where it came from (``LABBOOK_X='...'``, ``x=... in <file>``, ``x=...``)."""
        if name not in cls._ENV:
            raise _unknown_setting(name, label)
        kind = cls._ENV[name][1]
        if kind == "bool":
            return parse_bool(value, label)
        if kind is str:
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str):
                raise ConfigError(f"{label} is a {type(value).__name__}; {name} takes a string.")
            if name in CHOICES and value not in CHOICES[name]:
                allowed = " or ".join(repr(c) for c in CHOICES[name])
                raise ConfigError(f"{label} is not allowed: {name} must be {allowed}.")
            return value
        low, high, unit = RANGES.get(name, (-math.inf, math.inf, ""))
        whole = "a whole number" if kind is int else "a positive number"
        wanted = f"{name} must be {whole} of {unit}, from {_number(low)} to {_number(high)}"
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ConfigError(f"{label} is not a valid {kind.__name__}: {wanted}.") from None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label} is a {type(value).__name__}, not a number: {wanted}.")
        if not (math.isfinite(number) and low <= number <= high):
            raise ConfigError(f"{label} is out of range: {wanted}.")
        if kind is int and number != int(number):
            raise ConfigError(f"{label} is not a whole number: {wanted}.")
        return kind(number)

    def validate(self) -> None:
        for item in fields(self):
            if item.name in self._ENV:
                value = getattr(self, item.name)
                if value is not None or item.name in CHOICES or item.name in RANGES:
                    self._checked(item.name, value, f"{item.name}={value!r}")
        if self.host is not None and not self.host.startswith(("http://", "https://")):
            raise ConfigError(f"host={self.host!r} is not a server URL. Set LABBOOK_HOST to "
                              "http://server:port or https://server (or unset it to log locally only).")
        if "://" in str(self.artifacts_root):
            raise ConfigError(
                f"artifacts_root={self.artifacts_root!r} must be a local folder: run folders are "
                "written locally. Put artifact versions in an object store with "
                "LABBOOK_ARTIFACT_STORE (e.g. s3://bucket/prefix) instead."
            )

    def require_home(self) -> Settings:
        """These settings, if their home exists: reading never creates a home (a typo in
        ``--home`` must not make an empty one)."""
        if self.catalog_url.startswith("sqlite:///"):
            folder = Path(self.catalog_url[len("sqlite:///"):]).parent
            if not folder.is_dir():
                where = "" if folder == self.home else f" (the folder of catalog_url {self.catalog_url})"
                raise NotFoundError(
                    f"No labbook home at {folder}{where}. Check the path given with --home or "
                    "LABBOOK_HOME, or the folder you are in (the home is the nearest .labbook/ above "
                    "it). A home is created when a run is first logged there: "
                    "labbook.tracking.init(project=...)."
                )
        return self


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variables (in priority order), its type and its help text.
    ``kind`` is ``str``, ``int``, ``float`` or ``"bool"``; numbers are range-checked by ``RANGES``."""

    name: str
    variables: tuple[str, ...]
    kind: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("artifacts_root", ("LABBOOK_ARTIFACTS_ROOT",), str,
            "Where run folders go: <root>/<project>/<uuid>/; a local folder (default <home>/artifacts)."),
    Setting("catalog_url", ("LABBOOK_CATALOG_URL",), str,
            "The catalog's SQLAlchemy URL (default sqlite:///<home>/catalog.db)."),
    Setting("project", ("LABBOOK_PROJECT",), str,
            "The project used when init() gets none; 'owner.project' sets the owner too."),
    Setting("flush_interval", ("LABBOOK_FLUSH_INTERVAL",), float,
            "Seconds between writes of buffered events (at most)."),
    Setting("max_pending", ("LABBOOK_MAX_PENDING",), int,
            "Buffered records before a logging call waits for the writer."),
    Setting("no_op", ("LABBOOK_NO_OP", "POLYAXON_NO_OP"), "bool",
            "Every tracking call does nothing and writes nothing."),
    Setting("never_crash", ("LABBOOK_NEVER_CRASH",), "bool",
            "Count and report values and writes that fail instead of raising."),
    Setting("index_interval", ("LABBOOK_INDEX_INTERVAL",), float,
            "Seconds between catalog updates of a running run."),
    Setting("resources_interval", ("LABBOOK_RESOURCES_INTERVAL",), float,
            "Seconds between resource samples."),
    Setting("heartbeat_interval", ("LABBOOK_HEARTBEAT_INTERVAL",), float,
            "Seconds between heartbeats of a running run."),
    Setting("crash_timeout", ("LABBOOK_CRASH_TIMEOUT",), float,
            "A running run whose heartbeat is older than this many seconds reads as crashed."),
    Setting("rank_metrics", ("LABBOOK_RANK_METRICS",), str,
            "In distributed jobs, keep the metrics of rank 0 only ('rank0') or of every rank ('all')."),
    Setting("collect_resources", ("LABBOOK_COLLECT_RESOURCES", "POLYAXON_COLLECT_RESOURCES"), "bool",
            "Sample CPU, memory, disk, network and GPUs while a run runs."),
    Setting("artifact_store", ("LABBOOK_ARTIFACT_STORE",), str,
            "Where artifact versions are kept: a folder or an fsspec URL (default artifacts_root)."),
    Setting("artifact_path", ("LABBOOK_ARTIFACT_PATH",), str,
            "Where new artifact bytes go; may hold {{project}}, {{run.uid}}, {{run.name}}."),
    Setting("allowed_paths", ("LABBOOK_ALLOWED_PATHS",), str,
            "Extra comma-separated locations the read side may open."),
    Setting("server_allowed_hosts", ("LABBOOK_SERVER_ALLOWED_HOSTS",), str,
            "Extra comma-separated Host names the server answers to."),
    Setting("server_cors_origins", ("LABBOOK_SERVER_CORS_ORIGINS",), str,
            "Comma-separated origins allowed to call the server from a browser (default: CORS off)."),
    Setting("server_max_body", ("LABBOOK_SERVER_MAX_BODY",), int,
            "The largest request body in bytes; larger ones get 413."),
    Setting("server_public_read", ("LABBOOK_SERVER_PUBLIC_READ",), "bool",
            "Reads need no token (labbook server --public-read)."),
    Setting("server_local_only", ("LABBOOK_SERVER_LOCAL_ONLY",), "bool",
            "Every request from a loopback address is allowed without a token (what labbook ui sets)."),
    Setting("host", ("LABBOOK_HOST",), str,
            "A labbook server (http://server:8000): runs are written locally and also shipped there."),
    Setting("token", ("LABBOOK_TOKEN",), str,
            "The token sent to LABBOOK_HOST (never printed)."),
    Setting("offline", ("LABBOOK_OFFLINE", "POLYAXON_IS_OFFLINE"), "bool",
            "Log locally without syncing, even when LABBOOK_HOST is set (push later with labbook sync)."),
    Setting("sync_timeout", ("LABBOOK_SYNC_TIMEOUT",), float,
            "Seconds end() waits for the last bytes to reach the server."),
    Setting("sync_interval", ("LABBOOK_SYNC_INTERVAL",), float,
            "Seconds between two passes of the background syncer."),
    Setting("store", ("LABBOOK_STORE",), str,
            "The server's object store for synced run files (s3://bucket/prefix, an fsspec URL or a folder)."),
)
Settings._ENV = {setting.name: (setting.variables, setting.kind) for setting in SETTINGS}
_VARIABLES = tuple(variable for setting in SETTINGS for variable in setting.variables)
_loaded: dict[Any, Settings] = {}  # Settings.load's memo (Settings are frozen)


def _unknown_setting(name: str, where: str) -> ConfigError:
    """The error for a key that is no setting, naming the closest one (``catlog_url``)."""
    import difflib

    known = sorted(Settings._ENV)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"Known settings: {', '.join(known)}."
    return ConfigError(f"Unknown setting {name!r} ({where}): {hint} See docs/configuration.md.")


def setting_from_environment(name: str, env: Mapping[str, str] | None = None) -> Any:
    """Setting ``name`` as the environment alone gives it (checked), or None when no variable of it
    is set: for code that hands the environment on to another process (``labbook server``)."""
    env = os.environ if env is None else env
    variables, _kind = Settings._ENV[name]
    for variable in variables:
        raw = env.get(variable)
        if raw:
            return Settings._checked(name, raw, f"{variable}={raw!r}")
    return None


@dataclass(frozen=True)
class ProcessVariable:
    """An environment variable that describes this process rather than configures labbook."""

    name: str
    help: str


PROCESS_VARIABLES: tuple[ProcessVariable, ...] = (
    ProcessVariable("LABBOOK_HOME", "The home folder; overrides the search up from the working directory."),
    ProcessVariable("LABBOOK_RUN_UUID", "init() attaches to this run (how extra processes join one run)."),
    ProcessVariable("LABBOOK_RUN_GROUP", "Any text shared by the processes of one distributed job: they log to one run."),
    ProcessVariable("LABBOOK_LOG_LEVEL", "What get_log_level() returns (also POLYAXON_LOG_LEVEL; default INFO)."),
    ProcessVariable("POLYAXON_LOG_LEVEL", "Polyaxon's name for LABBOOK_LOG_LEVEL."),
    ProcessVariable("RANK", "This process's rank in a distributed job: the writer id and the metrics policy."),
)


@dataclass(frozen=True)
class ProcessEnvironment:
    """What the environment says about this process (``PROCESS_VARIABLES``), read once."""

    run_uuid: str | None = None
    run_group: str | None = None
    rank: int = 0
    log_level: str = "INFO"


def process_environment(env: Mapping[str, str] | None = None) -> ProcessEnvironment:
    """``LABBOOK_RUN_UUID``, ``LABBOOK_RUN_GROUP``, ``RANK`` and the log level, from ``env``
    (default ``os.environ``); a ``RANK`` that is not a whole number is a ``ConfigError``."""
    env = os.environ if env is None else env
    raw_rank = env.get("RANK") or "0"
    try:
        rank = int(raw_rank)
    except ValueError:
        raise ConfigError(f"RANK={raw_rank!r} is not a whole number. Unset it, or set the process's "
                          "rank in its distributed job (0, 1, ...).") from None
    return ProcessEnvironment(
        run_uuid=env.get("LABBOOK_RUN_UUID") or None,
        run_group=env.get("LABBOOK_RUN_GROUP") or None,
        rank=rank,
        log_level=env.get("LABBOOK_LOG_LEVEL", env.get("POLYAXON_LOG_LEVEL", "INFO")),
    )


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{int(value):_}"


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}. Fix or remove it.") from None
    return dict(data.get("labbook", data))
