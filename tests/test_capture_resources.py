"""Resource sampling: series under resources/, real first values, cgroups, missing psutil/NVML."""

from __future__ import annotations

import socket
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

import labbook
from labbook.capture.resources import Cgroup, GpuProbe
from labbook.errors import ConfigError
from labbook.store.format import read_header
from tests.conftest import PYTHON, python_env

# A process that burns CPU until its first process sample is on disk, then ends. The work is a
# matrix product, which releases the GIL, so the sampler thread is not starved by the loop.
BUSY_UNTIL_SAMPLED = """
    {prelude}
    import time
    import numpy as np
    from labbook import tracking
    from labbook.errors import NotFoundError
    from labbook.store.events import read_resource
    from labbook.store.layout import RunFolder
    run = tracking.init(project="res", track_env=False, track_code=False, track_logs=False,
                        resources_interval=0.2)
    print("RUN", run.uuid, flush=True)
    folder = RunFolder(run.path)

    def sampled():
        try:
            return len(read_resource(folder, "{wait_for}"))
        except NotFoundError:
            return 0

    deadline = time.monotonic() + 60
    matrix = np.random.default_rng(0).random((200, 200))
    while time.monotonic() < deadline and sampled() < 2:
        matrix = np.tanh(matrix @ matrix)
    tracking.end()
"""


def _run(tmp_path: Path, home: Path, prelude: str = "", wait_for: str = "process.cpu.percent"):
    script = tmp_path / "busy.py"
    script.write_text(textwrap.dedent(BUSY_UNTIL_SAMPLED.format(prelude=prelude, wait_for=wait_for)))
    result = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    uuid = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("RUN "))
    return labbook.get_run(uuid)


def test_resources_are_series_read_like_metrics_and_the_first_cpu_value_is_real(tmp_path, home):
    record = _run(tmp_path, home)
    names = record.resource_names()
    for expected in ("cpu.percent", "memory.used", "memory.total", "memory.percent", "disk.used",
                     "disk.percent", "load.1m", "process.cpu.percent", "process.memory.rss"):
        assert expected in names
    cpu = record.resource("process.cpu.percent")
    assert len(cpu) >= 2
    assert cpu.values[0] > 0  # primed: a busy process reads busy from its first sample
    assert list(cpu.steps) == list(range(len(cpu)))
    rss = record.resource("process.memory.rss")
    assert rss.values.min() > 10 * 2**20  # a Python process with numpy loaded
    total = record.resource("memory.total").values[0]
    assert 0 < record.resource("memory.used").values[0] <= total
    assert record.metric_names() == []  # resources never mix with the user's metrics
    info = record.raw["system"][socket.gethostname()]
    assert info["interval"] == 0.2 and set(info["series"]) >= set(names) - {"disk.read_rate"}
    # one file for every series of the process's samples (more only if a sample gained a name)
    files = list((record.path / "resources").iterdir())
    header = read_header(min(files, key=lambda p: len(p.name)))
    writer = header["writer"]
    assert {p.name for p in files} == {f"{writer}.lbr", *(f"{writer}.{n}.lbr" for n in range(1, len(files)))}
    assert header["kind"] == "resources" and "name" not in header
    assert "cpu.percent" in header["columns"]
    assert set(names) == {name for path in files for name in read_header(path)["columns"]}
    assert header["rank"] == 0 and header["local_rank"] == 0 and header["host"] == socket.gethostname()

    # GPUs: with one, every per-GPU series is there; without, the reason says why
    if info["gpus"]:
        for gpu in info["gpus"]:
            for suffix in ("utilization", "memory.used", "memory.total", "process.memory"):
                assert f"gpu.{gpu['index']}.{suffix}" in names
            assert record.resource(f"gpu.{gpu['index']}.memory.total").values[0] == gpu["memory_total"]
    else:
        assert info["unavailable"]["gpu"]
        assert not any(name.startswith("gpu.") for name in names)


def test_without_psutil_the_rest_still_works_and_the_reason_is_recorded(tmp_path, home):
    record = _run(tmp_path, home, prelude="import sys; sys.modules['psutil'] = None",
                  wait_for="load.1m")
    reasons = record.raw["system"][socket.gethostname()]["unavailable"]
    assert "psutil is not installed" in reasons["psutil"] and "labbook[system]" in reasons["psutil"]
    assert "load.1m" in record.resource_names()
    assert "process.cpu.percent" not in record.resource_names()
    assert record.status == "succeeded"


def test_without_nvidia_ml_py_gpus_are_reported_unavailable(tmp_path, home):
    record = _run(tmp_path, home, prelude="import sys; sys.modules['pynvml'] = None")
    reasons = record.raw["system"][socket.gethostname()]["unavailable"]
    assert "nvidia-ml-py is not installed" in reasons["gpu"]
    assert not any(name.startswith("gpu.") for name in record.resource_names())


def test_collect_resources_false_and_the_environment_switch(run_factory, monkeypatch):
    run = run_factory(collect_resources=False)
    run.end()
    assert not (run.path / "resources").exists()
    monkeypatch.setenv("LABBOOK_COLLECT_RESOURCES", "0")
    run = run_factory(collect_resources=None)
    run.end()
    assert not (run.path / "resources").exists()


def test_a_run_shorter_than_the_first_delay_still_gets_a_sample(run_factory):
    run = run_factory(collect_resources=True)
    run.end()
    record = labbook.get_run(run.uuid)
    assert len(record.resource("load.1m")) == 1


@pytest.mark.parametrize("interval", [pytest.param(0, id="zero"), pytest.param(-1.0, id="negative")])
def test_a_non_positive_interval_is_refused(run_factory, interval):
    with pytest.raises(ConfigError, match="resources_interval"):
        run_factory(resources_interval=interval)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("files, version, memory_limit, cpu_limit, used", [
    pytest.param({"cgroup.controllers": "cpu memory", "memory.max": "1073741824\n",
                  "memory.current": "600000000\n", "memory.stat": "anon 1\ninactive_file 100000000\n",
                  "cpu.max": "150000 100000\n", "cpu.stat": "usage_usec 2500000\n"},
                 2, 2**30, 1.5, 500000000, id="v2-limited"),
    pytest.param({"cgroup.controllers": "cpu memory", "memory.max": "max\n", "cpu.max": "max 100000\n",
                  "memory.current": "5\n"},
                 2, None, None, 5, id="v2-unlimited"),
    pytest.param({"memory/memory.limit_in_bytes": "536870912\n", "memory/memory.usage_in_bytes": "300\n",
                  "memory/memory.stat": "total_inactive_file 100\n", "cpu/cpu.cfs_quota_us": "200000\n",
                  "cpu/cpu.cfs_period_us": "100000\n", "cpuacct/cpuacct.usage": "3000000000\n"},
                 1, 2**29, 2.0, 200, id="v1-limited"),
    pytest.param({"memory/memory.limit_in_bytes": "9223372036854771712\n",
                  "memory/memory.usage_in_bytes": "7\n", "cpu/cpu.cfs_quota_us": "-1\n"},
                 1, None, None, 7, id="v1-unlimited"),
])
def test_cgroup_limits_and_usage(tmp_path, files, version, memory_limit, cpu_limit, used):
    cgroup = Cgroup(_tree(tmp_path, files))
    assert cgroup.version == version
    assert cgroup.memory_limit == memory_limit
    assert cgroup.cpu_limit == cpu_limit
    assert cgroup.memory_used() == used
    if cpu_limit:
        assert cgroup.cpu_seconds() in (2.5, 3.0)


class StandInNvml:
    """A stand-in for the NVIDIA driver's library (``pynvml``), which this machine may lack:
    two GPUs, the second without power readings, each running one of our processes and one other."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    def __init__(self, our_pid: int) -> None:
        self.our_pid = our_pid
        self.shut_down = False

    def nvmlInit(self): pass
    def nvmlShutdown(self): self.shut_down = True
    def nvmlDeviceGetCount(self): return 2
    def nvmlDeviceGetHandleByIndex(self, index): return index
    def nvmlDeviceGetName(self, handle): return b"NVIDIA H200"
    def nvmlDeviceGetUUID(self, handle): return f"GPU-{handle}"
    def nvmlDeviceGetTemperature(self, handle, sensor): return 40 + handle

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(total=150_000_000_000, used=(handle + 1) * 10**9, free=0)

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=90 + handle, memory=5)

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return 350_500  # milliwatts

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [SimpleNamespace(pid=self.our_pid, usedGpuMemory=2**30),
                SimpleNamespace(pid=1, usedGpuMemory=5 * 2**30)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        return [SimpleNamespace(pid=self.our_pid, usedGpuMemory=None)]


@pytest.mark.parametrize("system", [pytest.param(True, id="local-rank-0"),
                                    pytest.param(False, id="other-local-rank")])
def test_gpu_figures_units_and_unsupported_readings(system):
    nvml = StandInNvml(our_pid=4242)
    unavailable: dict[str, str] = {}
    probe = GpuProbe(system, unavailable, nvml)
    assert [d["name"] for d in probe.devices] == ["NVIDIA H200"] * 2
    assert probe.devices[1] == {"index": 1, "name": "NVIDIA H200", "uuid": "GPU-1",
                                "memory_total": 150_000_000_000}
    values = probe.sample({4242, 4243})
    assert values["gpu.0.process.memory"] == values["gpu.1.process.memory"] == 2**30
    if system:
        assert values["gpu.0.utilization"] == 90 and values["gpu.1.temperature"] == 41
        assert values["gpu.0.power"] == 350.5  # watts
        assert values["gpu.1.memory.used"] == 2e9 and values["gpu.1.memory.total"] == 1.5e11
        assert "gpu.1.power" not in values and "Not Supported" in unavailable["gpu.1.power"]
    else:  # machine-wide figures come from local rank 0 only
        assert set(values) == {"gpu.0.process.memory", "gpu.1.process.memory"}
    probe.close()
    assert nvml.shut_down


def test_nvml_without_a_driver_or_gpu_is_reported():
    class NoDriver(StandInNvml):
        def nvmlInit(self):
            raise self.NVMLError("Driver Not Loaded")

    class NoGpu(StandInNvml):
        def nvmlDeviceGetCount(self):
            return 0

    for stand_in, reason in ((NoDriver(1), "Driver Not Loaded"), (NoGpu(1), "NVML found no GPU")):
        unavailable: dict[str, str] = {}
        probe = GpuProbe(True, unavailable, stand_in)
        assert probe.handles == [] and reason in unavailable["gpu"]
        assert probe.sample({1}) == {}


def test_machine_wide_figures_are_measured_once_a_second_for_runs_started_back_to_back(tmp_path):
    """Runs started one after the other in a process each take a sample; the machine-wide
    figures (six /proc files and a statvfs) are measured once per ``SAMPLE_TTL`` and shared,
    and the priming read (no rates yet) is never handed out as a sample."""
    from labbook.capture.resources import SystemProbe

    probe = SystemProbe(None, Cgroup(tmp_path / "no-cgroup"), tmp_path)
    measured = []

    def measure(now):
        measured.append(now)
        return {"load.1m": float(len(measured))}

    probe._measure = measure
    probe.prime(100.0)
    assert probe.sample(100.1) == {"load.1m": 2.0}  # measured: the priming read is not a sample
    assert probe.sample(100.9) == {"load.1m": 2.0}  # within the second: the same figures
    first = probe.sample(100.95)
    first["load.1m"] = -1.0  # a caller's copy: the kept figures stay as measured
    assert probe.sample(101.0) == {"load.1m": 2.0}
    assert probe.sample(101.2) == {"load.1m": 3.0}  # a second later: measured again
    assert probe.sample(50.0) == {"load.1m": 4.0}  # the clock went back: measured again
    assert measured == [100.0, 100.1, 101.2, 50.0]
