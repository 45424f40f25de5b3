"""Resource sampling: CPU, memory, disk, network, load and NVIDIA GPUs, as time series.

The process's writer thread (the one that drains every run) samples every ``resources_interval`` seconds (10 s by default,
``LABBOOK_RESOURCES_INTERVAL`` or ``init(resources_interval=...)``) and appends each sample as one
record to the writer's one resources file, ``resources/<writer id>.lbr`` (a column per series
name, docs/format.md), so a run's first sample creates one file, not a folder and a file per
name. Each series reads back as a metric series does::

    run = labbook.get_run("3f2c...")
    run.resource("cpu.percent").values      # numpy array, one value per sample
    run.resource_names()                    # ['cpu.percent', 'memory.used', ...]

What each process records (series names; sizes in bytes, rates in bytes per second):

* every process, its own process tree: ``process.cpu.percent`` (100 = one core),
  ``process.memory.rss``, ``process.memory.percent``, ``process.count``, and with NVML
  ``gpu.<i>.process.memory``;
* the first process on each machine (local rank 0) also records the machine:
  ``cpu.percent`` (of the cgroup's CPU quota inside a limited container), ``memory.used``,
  ``memory.total``, ``memory.percent`` (the cgroup's usage and limit inside a limited container),
  ``disk.used``, ``disk.percent`` (the volume holding the run folder), ``disk.read_rate``,
  ``disk.write_rate``, ``network.sent_rate``, ``network.recv_rate``, ``load.1m``, and per GPU
  ``gpu.<i>.utilization``, ``gpu.<i>.memory.used``, ``gpu.<i>.memory.total``,
  ``gpu.<i>.temperature`` (°C) and ``gpu.<i>.power`` (W).

The first sample is taken a moment after start, against primed counters, so CPU figures are real
from the first point. What could not be collected (no psutil, no NVML, no GPU, a metric a GPU does
not support) is written to run.json under ``system.<host>.unavailable`` with the reason.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from labbook.capture.liveness import hostname
from labbook.store import format as fmt
from labbook.store.layout import RunFolder
from labbook.writer.writer import Series

if TYPE_CHECKING:
    from labbook.writer.surface import RunParts

_NVIDIA_DRIVER = ("/dev/nvidiactl", "/proc/driver/nvidia/version")
FIRST_SAMPLE_DELAY = 0.25  # seconds between priming the counters and the first sample
_PSUTIL_MISSING = "psutil is not installed; install it with: pip install 'labbook[system]'"


# -- cgroups (containers) -------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _own_cgroup_paths(proc_cgroup: str) -> dict[str, str]:
    """controller -> this process's cgroup path ("" for the v2 unified hierarchy)."""
    paths = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


class Cgroup:
    """Memory and CPU limits and usage of this process's cgroup (v1 or v2), where set."""

    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        own = _own_cgroup_paths(_read(Path("/proc/self/cgroup")) or "")
        self.version = 2 if (root / "cgroup.controllers").is_file() else 1
        if self.version == 2:
            base = self._pick(root, own.get("", "/"), "memory.max")
            self.memory_dir = self.cpu_dir = base
        else:
            self.memory_dir = self._pick(root / "memory", own.get("memory", "/"), "memory.limit_in_bytes")
            self.cpu_dir = self._pick(root / "cpu", own.get("cpu", "/"), "cpu.cfs_quota_us")
            self.cpuacct_dir = self._pick(root / "cpuacct", own.get("cpuacct", "/"), "cpuacct.usage")
        self.memory_limit = self._memory_limit()
        self.cpu_limit = self._cpu_limit()

    @staticmethod
    def _pick(mount: Path, own: str, probe: str) -> Path | None:
        # Inside a container the cgroup namespace usually shows our cgroup at the mount's root.
        for candidate in (mount / own.lstrip("/"), mount):
            if (candidate / probe).is_file():
                return candidate
        return None

    def _memory_limit(self) -> int | None:
        if self.memory_dir is None:
            return None
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        text = _read(self.memory_dir / name)
        if not text or text == "max":
            return None
        limit = int(text)
        return limit if limit < 2**60 else None  # v1 writes "no limit" as a huge number

    def _cpu_limit(self) -> float | None:
        """CPU quota in cores, or None."""
        if self.cpu_dir is None:
            return None
        if self.version == 2:
            text = _read(self.cpu_dir / "cpu.max")
            if not text or text.startswith("max"):
                return None
            quota, period = text.split()[:2]
        else:
            quota = _read(self.cpu_dir / "cpu.cfs_quota_us") or "-1"
            period = _read(self.cpu_dir / "cpu.cfs_period_us") or "100000"
        if int(quota) <= 0:
            return None
        return int(quota) / int(period)

    def memory_used(self) -> int | None:
        """Usage as ``docker stats`` counts it: charged memory less inactive page cache."""
        if self.memory_dir is None:
            return None
        v2 = self.version == 2
        current = _read(self.memory_dir / ("memory.current" if v2 else "memory.usage_in_bytes"))
        if current is None:
            return None
        inactive = 0
        stat = _read(self.memory_dir / "memory.stat") or ""
        key = "inactive_file" if v2 else "total_inactive_file"
        for line in stat.splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                inactive = int(value)
                break
        return max(0, int(current) - inactive)

    def cpu_seconds(self) -> float | None:
        """CPU time used by the cgroup so far, in seconds."""
        if self.version == 2:
            stat = _read(self.cpu_dir / "cpu.stat") if self.cpu_dir else None
            for line in (stat or "").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        text = _read(self.cpuacct_dir / "cpuacct.usage") if self.cpuacct_dir else None
        return int(text) / 1e9 if text else None

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "memory_limit": self.memory_limit, "cpu_limit": self.cpu_limit}


# -- probes: each returns {series name: value} per sample -------------------------------------


class Rates:
    """Per-second rates of growing counters between two samples."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def rate(self, name: str, counter: float, now: float) -> float | None:
        last = self._last.get(name)
        self._last[name] = (counter, now)
        if last is None or now <= last[1]:
            return None
        return max(0.0, (counter - last[0]) / (now - last[1]))


class SystemProbe:
    """The machine (or container): CPU, memory, disk, network, load."""

    # Seconds a sample's figures are reused: the machine-wide figures of runs started back to
    # back in one process (each run takes a sample when it starts or ends) are measured once
    # per second, not once per run (~0.8 ms each: six files of /proc and a statvfs).
    SAMPLE_TTL = 1.0

    def __init__(self, psutil: Any, cgroup: Cgroup, volume: Path) -> None:
        self.psutil = psutil
        self.cgroup = cgroup
        self.volume = volume
        self.rates = Rates()
        self._last: tuple[float, dict[str, float]] | None = None  # (when, figures) of the last sample

    def prime(self, now: float) -> None:
        if self.psutil is not None:
            self.psutil.cpu_percent(interval=None)
        self._measure(now)  # counters for the rates (not kept as a sample: no rates yet)

    def sample(self, now: float) -> dict[str, float]:
        last = self._last
        if last is not None and 0.0 <= now - last[0] < self.SAMPLE_TTL:
            return dict(last[1])
        out = self._measure(now)
        self._last = (now, out)
        return dict(out)

    def _measure(self, now: float) -> dict[str, float]:
        out: dict[str, float] = {}
        psutil, cgroup = self.psutil, self.cgroup
        if hasattr(os, "getloadavg"):
            out["load.1m"] = os.getloadavg()[0]
        cg_cpu = cgroup.cpu_seconds() if cgroup.cpu_limit else None
        if cg_cpu is not None:
            rate = self.rates.rate("cgroup.cpu", cg_cpu, now)
            if rate is not None:
                out["cpu.percent"] = 100.0 * rate / cgroup.cpu_limit
        elif psutil is not None:
            out["cpu.percent"] = psutil.cpu_percent(interval=None)
        total = used = None
        if psutil is not None:
            memory = psutil.virtual_memory()
            total, used = memory.total, memory.total - memory.available
        if cgroup.memory_limit is not None and (total is None or cgroup.memory_limit < total):
            total, used = cgroup.memory_limit, cgroup.memory_used()
        if total:
            out["memory.total"] = float(total)
            if used is not None:
                out["memory.used"] = float(used)
                out["memory.percent"] = 100.0 * used / total
        if psutil is None:
            return out
        try:
            usage = psutil.disk_usage(str(self.volume))
            out["disk.used"], out["disk.percent"] = float(usage.used), usage.percent
        except OSError:
            pass
        for prefix, counters, fields in (
            ("disk", _safe(psutil.disk_io_counters), (("read_bytes", "read_rate"), ("write_bytes", "write_rate"))),
            ("network", _safe(psutil.net_io_counters), (("bytes_sent", "sent_rate"), ("bytes_recv", "recv_rate"))),
        ):
            if counters is None:
                continue
            for field, name in fields:
                rate = self.rates.rate(f"{prefix}.{name}", getattr(counters, field), now)
                if rate is not None:
                    out[f"{prefix}.{name}"] = rate
        return out


def _safe(function: Callable[[], Any]) -> Any:
    try:
        return function()
    except (OSError, RuntimeError):  # no disks / counters in some containers
        return None


class ProcessProbe:
    """This process and its children: CPU, resident memory, process count."""

    TREE_TTL = 1.0  # seconds a listing of the children is reused (runs started back to back)

    def __init__(self, psutil: Any, memory_total: Callable[[], float | None]) -> None:
        self.psutil = psutil
        self.me = psutil.Process()
        self._known: dict[int, Any] = {}
        self.memory_total = memory_total
        self._tree: tuple[float, list[Any]] | None = None

    def tree(self) -> list[Any]:
        """This process and its children. Listing the children reads every process's entry in
        /proc, so a listing is reused for ``TREE_TTL`` seconds: the samples of runs started
        back to back (a process shared by their samplers) list them once."""
        now = time.monotonic()
        if self._tree is not None and now - self._tree[0] < self.TREE_TTL:
            return self._tree[1]
        try:
            found = [self.me, *self.me.children(recursive=True)]
        except self.psutil.Error:
            found = [self.me]
        self._tree = (now, found)
        return found

    def pids(self) -> set[int]:
        return {p.pid for p in self.tree()}

    def prime(self, now: float) -> None:
        self.sample(now)

    def sample(self, now: float) -> dict[str, float]:
        cpu = rss = 0.0
        alive: dict[int, Any] = {}
        for proc in self.tree():
            known = self._known.get(proc.pid, proc)  # the same object keeps its CPU baseline
            try:
                with known.oneshot():
                    cpu += known.cpu_percent(interval=None)
                    rss += known.memory_info().rss
            except self.psutil.Error:
                continue
            alive[proc.pid] = known
        self._known = alive
        out = {"process.cpu.percent": cpu, "process.memory.rss": rss, "process.count": float(len(alive))}
        total = self.memory_total()
        if total:
            out["process.memory.percent"] = 100.0 * rss / total
        return out


def load_nvml(unavailable: dict[str, str]) -> Any:
    """The ``pynvml`` module when NVML can be used here; else None, with the reason recorded."""
    missing = ("nvidia-ml-py is not installed, so GPUs are not sampled; "
               "install it with: pip install 'labbook[system]'")
    try:
        if importlib.util.find_spec("pynvml") is None:
            unavailable["gpu"] = missing
            return None
    except ValueError:  # sys.modules["pynvml"] is None: import blocked
        unavailable["gpu"] = missing
        return None
    if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in _NVIDIA_DRIVER):
        # Importing and starting NVML costs tens of ms of CPU; skip both without a driver.
        unavailable["gpu"] = "no NVIDIA driver here (no /dev/nvidiactl or /proc/driver/nvidia)"
        return None
    try:
        import pynvml
    except ImportError:
        unavailable["gpu"] = missing
        return None
    return pynvml


class GpuProbe:
    """NVIDIA GPUs through NVML (``nvml``: the ``pynvml`` module, or None for no GPUs)."""

    def __init__(self, system: bool, unavailable: dict[str, str], nvml: Any) -> None:
        self.system = system
        self.unavailable = unavailable
        self.nvml = nvml
        self.handles: list[Any] = []
        self.devices: list[dict[str, Any]] = []
        if nvml is None:
            return
        try:
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as error:
            unavailable["gpu"] = f"NVML could not start ({error}): no NVIDIA driver or GPU here"
            return
        if count == 0:
            unavailable["gpu"] = "NVML found no GPU"
            nvml.nvmlShutdown()
            return
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            self.handles.append(handle)
            self.devices.append({
                "index": index, "name": _text(self._call(nvml.nvmlDeviceGetName, handle)),
                "uuid": _text(self._call(nvml.nvmlDeviceGetUUID, handle)),
                "memory_total": getattr(self._call(nvml.nvmlDeviceGetMemoryInfo, handle), "total", None),
            })

    def _call(self, function: Callable[..., Any], *args: Any, what: str | None = None) -> Any:
        try:
            return function(*args)
        except self.nvml.NVMLError as error:
            if what:
                self.unavailable.setdefault(what, f"NVML: {error}")
            return None

    def sample(self, pids: set[int]) -> dict[str, float]:
        nvml, out = self.nvml, {}
        for index, handle in enumerate(self.handles):
            prefix = f"gpu.{index}"
            if self.system:
                util = self._call(nvml.nvmlDeviceGetUtilizationRates, handle, what=f"{prefix}.utilization")
                if util is not None:
                    out[f"{prefix}.utilization"] = float(util.gpu)
                memory = self._call(nvml.nvmlDeviceGetMemoryInfo, handle, what=f"{prefix}.memory")
                if memory is not None:
                    out[f"{prefix}.memory.used"] = float(memory.used)
                    out[f"{prefix}.memory.total"] = float(memory.total)
                temp = self._call(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU,
                                  what=f"{prefix}.temperature")
                if temp is not None:
                    out[f"{prefix}.temperature"] = float(temp)
                power = self._call(nvml.nvmlDeviceGetPowerUsage, handle, what=f"{prefix}.power")
                if power is not None:
                    out[f"{prefix}.power"] = power / 1000.0  # mW -> W
            used = 0.0
            for getter in (nvml.nvmlDeviceGetComputeRunningProcesses,
                           nvml.nvmlDeviceGetGraphicsRunningProcesses):
                for proc in self._call(getter, handle, what=f"{prefix}.process.memory") or ():
                    if proc.pid in pids and proc.usedGpuMemory:
                        used += proc.usedGpuMemory
            out[f"{prefix}.process.memory"] = used
        return out

    def close(self) -> None:
        if self.handles:
            self._call(self.nvml.nvmlShutdown)
            self.handles = []


class _Probes:
    """One process's probes, primed once; NVML stays open while the process lives."""

    def __init__(self, probes: list[Any], gpu: GpuProbe, info: dict[str, Any]) -> None:
        self.probes, self.gpu, self.info = probes, gpu, info
        self.lock = threading.Lock()
        now = time.time()
        for probe in probes:
            probe.prime(now)
        self.primed = time.monotonic()


_shared: dict[tuple[int, bool, str], _Probes] = {}
_shared_lock = threading.Lock()


def _forked_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()  # a sampler thread of the parent may have held it at the fork
    _shared.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


# -- the sampler -----------------------------------------------------------------------------


class ResourceSampler:
    """Samples every ``interval`` seconds and appends each sample to ``resources/<writer>.lbr``.

    The file's columns are the names of the first sample; a later sample that holds a name not
    among them starts the writer's next file (``<writer>.1.lbr``, ...) with the columns so far and
    the new ones, so a file's records all have its header's columns (NaN for a name a sample lacks).

    No thread of its own: the samples are taken on the process's flusher thread (``RunWriter.every``,
    as the heartbeat is), so a run starts and joins no sampler thread. The first call builds this
    process's probes (once per process, ``_shared_probes``), and the first sample follows
    ``FIRST_SAMPLE_DELAY`` after they were primed. A run that ends before its first sample takes
    one in ``stop()``, on the caller's thread."""

    def __init__(self, parts: RunParts, interval: float, local_rank: int) -> None:
        self.parts = parts
        self.interval = float(interval)
        self.system = local_rank == 0
        self.folder: RunFolder = parts.folder
        self.writer_id = parts.writer_id
        self.host = hostname()
        self.header = {"rank": parts.rank, "local_rank": local_rank, "pid": os.getpid(), "host": self.host}
        self._file: Series | None = None  # the resources file being appended to
        self._columns: dict[str, int] = {}  # its columns: name -> index
        self._file_header: dict[str, Any] = {}
        self._segment = 0  # the number of the next file to start
        self._step = 0
        self._handle: list | None = None
        self._shared: _Probes | None = None
        self._info: dict[str, Any] = {}
        self._failed = False  # the probes could not be built: nothing more is sampled
        self.errors: list[str] = []

    def start(self) -> None:
        shared = _shared.get(self._key())  # a run after the first: its first sample is due soon
        first = 0.0 if shared is None else max(0.0, FIRST_SAMPLE_DELAY - (time.monotonic() - shared.primed))
        self._handle = self.parts.writer.every(self.interval, self._tick, first=first)

    def stop(self) -> None:
        if self._handle is not None:
            self.parts.writer.cancel(self._handle)  # returns once no tick runs
            self._handle = None
        if self._step == 0 and not self._failed:  # a run shorter than the first delay still gets one sample
            if self._ready():
                self._sample_and_report()
        if self.errors:
            self.parts.writer.errors.extend(self.errors)

    def _key(self) -> tuple[int, bool, str]:
        return (os.getpid(), self.system, str(self.folder.path.parent))

    def _shared_probes(self) -> _Probes:
        """This process's probes (per volume, system or not): built and primed by its first
        run, reused by the next ones. A run then starts no probing of its own (importing
        psutil, reading cgroups, loading NVML, priming counters), and its first values measure
        from the last sample any run of the process took."""
        key = self._key()
        with _shared_lock:
            shared = _shared.get(key)
            if shared is None:
                shared = _shared[key] = _Probes(*self._probes())
            return shared

    def _probes(self) -> tuple[list[Any], GpuProbe, dict[str, Any]]:
        unavailable: dict[str, str] = {}
        try:
            import psutil
        except ImportError:
            psutil = None
            unavailable["psutil"] = (_PSUTIL_MISSING + "; CPU, memory, disk, network and process "
                                     "figures are not sampled")
        cgroup = Cgroup()
        probes: list[Any] = []
        system = SystemProbe(psutil, cgroup, self.folder.path) if self.system else None
        if system is not None:
            probes.append(system)
        if psutil is not None:
            host_total = psutil.virtual_memory().total
            limit = cgroup.memory_limit
            total = limit if limit is not None and limit < host_total else host_total
            probes.append(ProcessProbe(psutil, lambda: total))
        gpu = GpuProbe(self.system, unavailable, load_nvml(unavailable))
        info = {"interval": self.interval, "cpu_count": os.cpu_count(), "cgroup": cgroup.describe(),
                "gpus": gpu.devices, "unavailable": unavailable}
        return probes, gpu, info

    def _ready(self) -> bool:
        """Whether this process's probes are built (building them now if not)."""
        if self._shared is None and not self._failed:
            try:
                self._shared = shared = self._shared_probes()
            except Exception:  # noqa: BLE001 - reported at end(); the run itself goes on
                self.errors.append(traceback.format_exc())
                self._failed = True
                return False
            self._info = {**shared.info, "unavailable": dict(shared.info["unavailable"])}
        return self._shared is not None

    def _tick(self) -> float | None:
        """One call on the flusher thread: the first builds the probes when this process has none
        yet, and asks to be called again once they have been primed ``FIRST_SAMPLE_DELAY``."""
        if self._shared is None:
            if not self._ready():
                return 3600.0 * 24  # nothing to sample with; stop() reports why
            wait = FIRST_SAMPLE_DELAY - (time.monotonic() - self._shared.primed)  # type: ignore[union-attr]
            if wait > 0:
                return wait
        self._sample_and_report()
        return None

    def _sample(self) -> dict[str, float]:
        shared = self._shared
        assert shared is not None
        probes, gpu, info = shared.probes, shared.gpu, self._info
        values: dict[str, float] = {}
        with shared.lock:  # several runs of a process may sample at once
            now = time.time()
            for probe in probes:
                values.update(probe.sample(now))
            if gpu.handles:
                process = next((p for p in probes if isinstance(p, ProcessProbe)), None)
                values.update(gpu.sample(process.pids() if process else {os.getpid()}))
            info["unavailable"].update(shared.info["unavailable"])
        self._write(values, now)
        return values

    def _sample_and_report(self) -> None:
        try:
            values = self._sample()
        except Exception:  # noqa: BLE001 - reported at end(); the next sample may work
            if len(self.errors) < 5:
                self.errors.append(traceback.format_exc())
            return
        if self._step == 1 and self.system:
            self._info["series"] = sorted(values)
            self.parts.writer.update_run(("merge", "system", {self.host: self._info}))

    def _write(self, values: dict[str, float], now: float) -> None:
        columns = self._columns
        present = {name: float(value) for name, value in values.items() if value == value}  # NaN: absent
        if self._file is None or not columns.keys() >= present.keys():
            names = [*columns, *(name for name in present if name not in columns)]
            columns = self._columns = {name: index for index, name in enumerate(names)}
            path = self.folder.resources_file(self.writer_id, self._segment)
            self._file = Series(fmt.RESOURCES_KIND, None, path, make_dirs=self.folder.make_dirs)
            self._file_header = {**self.header, "columns": list(columns)}
            self._segment += 1
        row = [math.nan] * len(columns)
        for name, value in present.items():
            row[columns[name]] = value
        self._file.append(fmt.encode_resource_record(self._step, round(now * 1e6), row), self.writer_id,
                          self._file_header)
        self._step += 1
