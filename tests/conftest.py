"""Shared fixtures: every test gets its own labbook home and a clean LABBOOK_* environment."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` on a user's machine; fail under CI=true, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith(("LABBOOK_", "POLYAXON_")) or key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home" / ".labbook"
    monkeypatch.setenv("LABBOOK_HOME", str(home))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield home
    from labbook.tracking.run import _active

    if _active:
        _active[0].end()


@pytest.fixture
def home(isolated_home: Path) -> Path:
    return isolated_home


@pytest.fixture
def run_factory(isolated_home: Path):
    """Build Runs that do not install process-wide hooks; ended at teardown."""
    from labbook.tracking.run import Run

    made = []

    def make(**kwargs):
        kwargs.setdefault("project", "test")
        kwargs.setdefault("install_handlers", False)
        kwargs.setdefault("track_env", False)
        kwargs.setdefault("track_code", False)
        kwargs.setdefault("track_logs", False)
        kwargs.setdefault("collect_resources", False)
        run = Run(**kwargs)
        made.append(run)
        return run

    yield make
    for run in made:
        run.end()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child Python process logging into ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABBOOK_", "POLYAXON_"))}
    env["LABBOOK_HOME"] = str(home)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


PYTHON = sys.executable


class SmallDisk:
    """A real, tiny file system (tmpfs) mounted for one test, so a test can fill it up and free it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ballast = path / ".ballast"

    def fill(self, leave: int = 0) -> None:
        """Take all free space but ``leave`` bytes (roughly: tmpfs counts whole pages)."""
        free = os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize
        try:
            # unbuffered: a write the disk refuses is not left in a buffer for close() to retry
            handle = open(self._ballast, "ab", buffering=0)  # noqa: SIM115 - closed below
        except OSError:
            return  # not even room for the ballast's entry: the disk is full already
        with handle:
            chunk = b"\0" * 65536
            remaining = max(free - leave, 0)
            try:
                while remaining > 0:
                    written = handle.write(chunk[: min(len(chunk), remaining)])
                    if not written:
                        break
                    remaining -= written
            except OSError:
                pass

    def free(self) -> None:
        """Give the space back."""
        self._ballast.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 16 MiB tmpfs at ``tmp_path/'disk'`` (needs root: skipped with a reason elsewhere, failing under CI=true)."""
    import subprocess

    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    require(done.returncode == 0, f"cannot mount a tmpfs to fill a disk (needs root): {done.stderr.strip()}")
    try:
        yield SmallDisk(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


# -- an S3-compatible server (moto) on loopback, for the object-store tests -------------------------


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server on a free port of 127.0.0.1 (one per test module): its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require(False, "moto[server] is not installed (pip install 'labbook[test]')")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch):
    """A fresh bucket on the moto server, with the AWS_* variables pointing at it: the store's
    URL (s3://<bucket>/store)."""
    import uuid

    require(__import__("importlib").util.find_spec("s3fs") is not None, "s3fs is not installed")
    import s3fs

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    bucket = f"labbook-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(bucket)
    yield f"s3://{bucket}/store"
    s3fs.S3FileSystem.clear_instance_cache()
