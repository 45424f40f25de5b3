"""Artifact benchmarks: logging a large file, hashing throughput, listing many versions.

* **log a 1 GiB file**: ``run.log_artifact(path)`` (no step) copies the file under ``outputs/``
  (a copy-on-write clone where the file system can share blocks; the user's file stays) and
  hard-links that copy into the content-addressed store; the table shows the time, the link
  count, whether the copy was a clone, and the bytes the home gained on disk (``st_blocks`` of
  distinct inodes), beside a plain ``shutil.copy`` of the same file (what Polyaxon does);
* **hashing**: ``labbook.store.hashing.hash_file`` (SHA-256, 8 MiB reads) on a warm file;
* **listing**: 10,000 versions of 100 keys (records written to the store and indexed with
  ``index_versions``, the rebuild path), then ``list_artifacts`` with a label filter: every
  match, and a first page of 100. Publishing through the full log path is timed separately.

    .venv/bin/python bench/bench_artifacts.py [--quick] [--size-mib N] [--versions N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def disk_bytes(root: Path) -> int:
    """Bytes allocated under ``root``, each inode once (hard links are not counted twice)."""
    seen, total = set(), 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def write_file(path: Path, size: int) -> None:
    chunk = os.urandom(8 << 20)
    with open(path, "wb") as handle:
        for _ in range(size // len(chunk)):
            handle.write(chunk)
        handle.write(chunk[: size % len(chunk)])


def bench_large_file(work: Path, size: int, rows: list) -> None:
    from labbook.tracking.run import Run

    source = work / "big.bin"
    write_file(source, size)
    copy_target = work / "copy.bin"
    start = time.perf_counter()
    shutil.copy(source, copy_target)
    copy_time = time.perf_counter() - start
    copy_target.unlink()
    home = Path(os.environ["LABBOOK_HOME"])
    before = disk_bytes(home) + disk_bytes(work)
    run = Run(project="bench", install_handlers=False, track_code=False, track_env=False, track_logs=False,
              collect_resources=False)
    start = time.perf_counter()
    version = run.log_artifact(str(source), name="big")
    elapsed = time.perf_counter() - start
    run.end()
    after = disk_bytes(home) + disk_bytes(work)
    output = run.path / "outputs" / "big.bin"
    mib = size / (1 << 20)
    rows.append((f"log_artifact of a {mib:.0f} MiB file (copy + hash + link)", f"{elapsed:.2f}", "s"))
    rows.append(("  effective rate (copied once, or cloned; read once to hash)", f"{mib / max(elapsed, 1e-9):.0f}",
                 "MiB/s"))
    rows.append(("  the copy is a clone sharing blocks (FICLONE works here)", str(_clones(work)), ""))
    rows.append(("  links to the stored bytes (outputs file = blob)", str(output.stat().st_nlink), "links"))
    rows.append(("  same inode in outputs/ and the store", str(os.path.samefile(output, version.location)), ""))
    rows.append(("  bytes added on disk by logging", f"{(after - before) / (1 << 20):.1f}", "MiB"))
    rows.append((f"baseline: shutil.copy of the same {mib:.0f} MiB", f"{copy_time:.2f}", "s"))


def _clones(work: Path) -> bool:
    from labbook.store.files import _clone

    probe = work / "clone-probe"
    probe.write_bytes(b"x" * 4096)
    cloned = _clone(probe, work / "clone-probe-2")
    for path in (probe, work / "clone-probe-2"):
        path.unlink(missing_ok=True)
    return cloned


def bench_hashing(work: Path, size: int, rows: list) -> None:
    from labbook.store.hashing import hash_file

    path = work / "hash.bin"
    write_file(path, size)
    hash_file(path)  # warm the page cache
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        hash_file(path)
        best = min(best, time.perf_counter() - start)
    rows.append((f"hash_file SHA-256, {size >> 20} MiB warm (best of 3)", f"{size / (1 << 20) / best:.0f}", "MiB/s"))
    path.unlink()


def bench_listing(count: int, rows: list) -> None:
    from datetime import datetime, timedelta, timezone

    import labbook
    from labbook.artifacts.publish import make_uid
    from labbook.catalog.artifacts import index_versions
    from labbook.catalog.catalog import Catalog
    from labbook.config import Settings
    from labbook.store.blobs import ArtifactStore
    from labbook.store.policy import store_root
    from labbook.tracking.run import Run

    settings = Settings.load({})
    store = ArtifactStore(store_root(settings))
    keys = 100
    base = datetime.now(timezone.utc)
    records = []
    start = time.perf_counter()
    for index in range(count):
        key, number = f"shard-{index % keys:03d}", index // keys + 1
        digest = f"{index:064x}"
        record = {"schema": "labbook.artifact", "schema_version": 1, "project": "listing", "key": key,
                  "kind": "dataset", "number": number, "uid": make_uid("listing", key, digest, number),
                  "hash": digest, "hash_algorithm": "sha256", "size": 1000 + index, "is_dir": False,
                  "ext": ".parquet", "format": "parquet", "blob": f"{key}/{digest[:2]}/{digest}.parquet",
                  "labels": {"split": ("train", "test", "valid", "holdout")[index % 4], "team": f"t{index % 10}"},
                  "summary": {}, "meta": {"rows": index}, "producer": {"kind": "client"}, "sources": [],
                  "links": {}, "description": None,
                  "created_at": (base + timedelta(microseconds=index)).isoformat()}
        store.write_version(record)
        records.append(record)
    written = time.perf_counter() - start
    catalog = Catalog(settings.catalog_url)
    start = time.perf_counter()
    index_versions(catalog, records)
    indexed = time.perf_counter() - start
    rows.append((f"write {count} version records to the store", f"{written:.2f}", "s"))
    rows.append((f"index {count} versions (rebuild path)", f"{indexed:.2f}", "s"))
    timings = {}
    for label, kwargs in (("all matches", {"limit": None}), ("first page of 100", {"limit": 100})):
        best, found = float("inf"), 0
        for _ in range(3):
            start = time.perf_counter()
            found = len(labbook.list_artifacts("listing", labels={"split": "train"}, **kwargs))
            best = min(best, time.perf_counter() - start)
        timings[label] = (best, found)
        rows.append((f"list_artifacts(labels={{'split': 'train'}}) of {count}: {label} ({found} rows)",
                     f"{best * 1000:.1f}", "ms"))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        labbook.list_artifacts("listing", labels={"split": "train", "team": "t2"}, key="~shard-0", limit=None)
        best = min(best, time.perf_counter() - start)
    rows.append(("  two labels AND a key substring (all matches)", f"{best * 1000:.1f}", "ms"))
    run = Run(project="bench", install_handlers=False, track_code=False, track_env=False, track_logs=False,
              collect_resources=False)
    small = Path("small.txt")
    logs = 200
    start = time.perf_counter()
    for index in range(logs):
        small.write_text(f"content {index}")
        run.log_artifact(str(small), name=f"small-{index % 10}", rel_path=f"r{index}")
    per = (time.perf_counter() - start) / logs
    run.end()
    rows.append(("log_artifact of a small file, full path incl. catalog (mean)", f"{per * 1000:.2f}", "ms"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB file, 1,000 versions")
    parser.add_argument("--size-mib", type=int, default=None)
    parser.add_argument("--versions", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    size = (args.size_mib or (64 if quick else 1024)) << 20
    count = args.versions or (1000 if quick else 10_000)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("LABBOOK_BENCH_DIR")) as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        os.environ["LABBOOK_HOME"] = str(Path(tmp) / "home" / ".labbook")
        for key in [k for k in os.environ if k.startswith("LABBOOK_") and k not in ("LABBOOK_HOME", "LABBOOK_BENCH_DIR", "LABBOOK_BENCH_QUICK")]:
            del os.environ[key]
        os.chdir(work)
        bench_large_file(work, size, rows)
        bench_hashing(work, min(size, 256 << 20), rows)
        bench_listing(count, rows)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure'.ljust(width)}  {'value':>10}  unit")
    for label, value, unit in rows:
        print(f"{label.ljust(width)}  {value:>10}  {unit}")


if __name__ == "__main__":
    main()
