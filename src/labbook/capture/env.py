"""The environment a run ran in: Python, platform, host, user, process, packages, GPUs."""

from __future__ import annotations

import getpass
import os
import platform
import shutil
import subprocess
import sys
from typing import Any

from labbook.capture.liveness import hostname


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER")


_cache: dict[str, Any] = {}


def installed_packages() -> dict[str, str]:
    """Every installed distribution's version, by name. Listed once per process and ``sys.path``
    (reading every METADATA file takes tens of milliseconds; a process's packages stay put),
    again when a folder on the path changed (something was installed meanwhile)."""
    cached = _cache.get("packages")
    key = _packages_key()
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    packages = _list_packages()
    _cache["packages"] = (key, packages)
    return dict(packages)


def _packages_key() -> tuple:
    return tuple((entry, _mtime(entry)) for entry in sys.path)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path or ".").st_mtime
    except OSError:
        return None


def _list_packages() -> dict[str, str]:
    """Installed distributions' names and versions, read from the header of each METADATA file
    (the email parser that ``Distribution.metadata`` runs over the whole file costs about 7× as
    much CPU, 0.1 s for 200 packages in a fresh process). The first of a name on ``sys.path``
    is the one imported, so the first wins. The folders on ``sys.path`` are read directly, as
    ``importlib.metadata`` reads them (its import alone costs a fresh process ~15 ms of CPU, on
    the flusher thread while the script already logs); with a zip file on the path, or another
    finder that lists distributions, ``importlib.metadata`` itself lists them."""
    import importlib.machinery

    if any(hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder
           for finder in sys.meta_path):
        return _sorted(_listed_by_importlib())
    packages: dict[str, str] = {}
    for entry in sys.path:
        folder = entry or "."
        try:
            children = os.listdir(folder)
        except OSError:
            if os.path.isfile(folder):  # a zip (an egg, python3XX.zip): importlib.metadata reads those
                return _sorted(_listed_by_importlib())
            continue
        # as importlib.metadata's path finder: a folder's .dist-info entries, then its .egg-info
        found = sorted((not child.lower().endswith(".dist-info"), index, child) for index, child in enumerate(children)
                       if child.lower().endswith((".dist-info", ".egg-info")))
        for _, _, child in found:
            path = os.path.join(folder, child)  # (an .egg-info file, not folder: listed by neither)
            name, version = _header(_head(os.path.join(path, "METADATA")) or _head(os.path.join(path, "PKG-INFO")))
            if name and name not in packages:
                packages[name] = version
    return _sorted(packages)


def _listed_by_importlib() -> dict[str, str]:
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name, version = _header(dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "")
        if name and name not in packages:
            packages[name] = version
    return packages


def _sorted(packages: dict[str, str]) -> dict[str, str]:
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


def _head(path: str) -> str:
    """The core-metadata header of a METADATA or PKG-INFO file (what precedes the first blank
    line; "" when there is no such file), read and decoded without the description after it."""
    try:
        with open(path, "rb") as file:
            data = file.read(4096)
            while True:
                data = data.replace(b"\r\n", b"\n")
                end = data.find(b"\n\n")
                if end >= 0:
                    data = data[:end]
                    break
                more = file.read(65536)
                if not more:
                    break
                data += more
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def _header(text: str) -> tuple[str | None, str]:
    """``Name`` and ``Version`` from a core-metadata header (the lines before the first blank one)."""
    name, version = None, ""
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            break
    return name, version


def gpus() -> list[dict[str, Any]]:
    """GPUs seen by nvidia-smi, if it is installed; an empty list otherwise. Asked once per
    process: the machine's GPUs do not change while it runs."""
    if "gpus" not in _cache:
        _cache["gpus"] = _query_gpus()
    return [dict(gpu) for gpu in _cache["gpus"]]


def _query_gpus() -> list[dict[str, Any]]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, timeout=10, check=True, text=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            found.append({"index": int(parts[0]), "name": parts[1],
                          "memory_total_mib": float(parts[2]), "driver": parts[3]})
    return found


def torch_cuda() -> dict[str, Any] | None:
    """CUDA as PyTorch sees it, only if the user's code already imported torch (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        available = bool(torch.cuda.is_available())
        info: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                                "cudnn": torch.backends.cudnn.version() if available else None,
                                "available": available}
        if available:
            info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return info
    except Exception:  # noqa: BLE001 - a broken CUDA setup must not stop the run
        return {"torch": getattr(torch, "__version__", None), "available": False}


def entry_file() -> str | None:
    """The running script's absolute path. Read it on the caller's thread: CPython removes
    ``__main__.__file__`` as soon as the script body ends, before exit handlers run."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.abspath(main_file) if main_file else None


def _machine() -> dict[str, Any]:
    """What stays put while a process runs (the interpreter, the platform, the user), asked
    once per process: ``platform.platform()`` alone reads the interpreter's binary."""
    if "machine" not in _cache:
        _cache["machine"] = {
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
            "system": platform.system(),
            "machine": platform.machine(),
        }
    return _cache["machine"]


def cached_env(entry: str | None = None) -> dict[str, Any] | None:
    """``capture_env(entry=entry)`` where this process has captured its environment already
    and nothing was installed since (microseconds: a run's start records it with its first
    write of run.json); None otherwise (listing the packages takes tens of milliseconds, left
    to the flusher thread)."""
    listed = _cache.get("packages")
    if "gpus" in _cache and "machine" in _cache and listed is not None and listed[0] == _packages_key():
        return capture_env(entry=entry)
    return None


def capture_env(packages: bool = True, entry: str | None = None) -> dict[str, Any]:
    main_file = entry if entry is not None else entry_file()
    env: dict[str, Any] = {
        **_machine(),
        "hostname": hostname(),
        "user": _user(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "argv": list(sys.argv),
        "entry_file": os.path.abspath(main_file) if main_file else None,
        "is_notebook": "ipykernel" in sys.modules,
        "cpu_count": os.cpu_count(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus": gpus(),
        "torch_cuda": torch_cuda(),
    }
    if packages:
        env["packages"] = installed_packages()
    return env
