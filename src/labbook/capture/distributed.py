"""Distributed runs: one run for a whole job started by torchrun, Accelerate, DeepSpeed, SLURM...

A launcher starts one process per worker and gives each ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``. Every process calls ``tracking.init()`` as usual; they all land in the same run,
whose id they agree on without talking to each other, from the first of:

1. ``run_uuid=`` or ``LABBOOK_RUN_UUID`` (export one id to every process yourself);
2. ``LABBOOK_RUN_GROUP``: any text shared by the job's processes (with the project, it names the run);
3. ``TORCHELASTIC_RUN_ID`` (torchrun's ``--rdzv-id``; ``--standalone`` makes a fresh one), unless
   it is torchrun's default ``none``;
4. on one machine (``LOCAL_WORLD_SIZE`` unset or equal to ``WORLD_SIZE``, and ``RANK`` equal to
   ``LOCAL_RANK``): the launcher process, the parent every worker shares (its pid and start
   time, with ``MASTER_PORT``);
5. ``SLURM_JOB_ID`` and ``SLURM_STEP_ID`` (one ``srun`` step).

Failing all of them (a multi-node torchrun with the default ``--rdzv-id``), each process starts a
run of its own and says so on stderr: set ``LABBOOK_RUN_GROUP``. Within the run each process writes
its own files (writer ids hold rank and pid): metrics from rank 0 only by default
(``LABBOOK_RANK_METRICS=all`` keeps every rank's; ``run.metric(name, rank=r)`` reads one rank),
logs per rank, resources per process (machine-wide figures from each machine's local rank 0).

Rank 0 owns the run's status. Another rank that fails marks the run ``failed`` (the message names
the rank); one that succeeds or stops records that in run.json ``ranks`` only.
"""

from __future__ import annotations

import os
import sys
import uuid as uuid_module
from typing import TYPE_CHECKING, Any, Mapping

from labbook._time import utc_now_iso
from labbook.capture.liveness import hostname
from labbook.config import process_environment
from labbook.store.runfile import FINAL_STATUSES

if TYPE_CHECKING:
    from labbook.writer.surface import RunParts

# Fixed namespace for labbook's derived run ids (uuid5 of "<project>/<group key>").
RUN_NAMESPACE = uuid_module.UUID("6c0b3f4e-9a0f-5d6e-8a7b-1f2e3d4c5b6a")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError:
        return default


def world_size(env: Mapping[str, str] | None = None) -> int:
    return _int(os.environ if env is None else env, "WORLD_SIZE", 1)


def local_rank(env: Mapping[str, str] | None = None) -> int:
    """``LOCAL_RANK``; without it, ``RANK`` (as if every process ran on one machine)."""
    env = os.environ if env is None else env
    return _int(env, "LOCAL_RANK", _int(env, "RANK", 0))


def _process_start(pid: int) -> str | None:
    """A start time that tells a pid apart from a later process reusing it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return stat[stat.rindex(b")") + 2:].split()[19].decode()  # field 22: starttime
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return repr(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - no psutil, or the parent is gone
        return None


def group_key(env: Mapping[str, str] | None = None) -> str | None:
    """The text every process of this job shares, or None outside a distributed job."""
    env = os.environ if env is None else env
    group = process_environment(env).run_group
    if group:
        return f"group/{group}"
    size = world_size(env)
    if size <= 1:
        return None
    elastic = env.get("TORCHELASTIC_RUN_ID", "")
    if elastic and elastic.lower() != "none":
        return f"torchelastic/{elastic}"
    first_node = _int(env, "RANK", 0) == local_rank(env)  # rank - local rank: ranks on nodes before
    if _int(env, "LOCAL_WORLD_SIZE", size) == size and first_node:
        parent = os.getppid()
        started = _process_start(parent)
        if started is not None:
            return f"parent/{hostname()}/{parent}/{started}/{env.get('MASTER_PORT', '')}"
    if env.get("SLURM_JOB_ID"):
        return f"slurm/{env['SLURM_JOB_ID']}/{env.get('SLURM_STEP_ID', '')}"
    return None


def shared_run_uuid(project: str, env: Mapping[str, str] | None = None) -> str | None:
    """The run id the processes of this job agree on (see the module docstring), or None.

    ::

        # under: LABBOOK_RUN_GROUP=exp42 torchrun --nproc-per-node=4 train.py
        shared_run_uuid("mnist")  # the same 32-hex id in all four processes
    """
    env = os.environ if env is None else env
    key = group_key(env)
    if key is None:
        if world_size(env) > 1:
            print(f"labbook: rank {env.get('RANK', '?')} of {world_size(env)} cannot tell which run "
                  "the other processes of this job use, so it starts its own. Export "
                  "LABBOOK_RUN_GROUP=<any shared text> (or LABBOOK_RUN_UUID) to every process.",
                  file=sys.stderr)
        return None
    return uuid_module.uuid5(RUN_NAMESPACE, f"{project}/{key}").hex




def attach(parts: RunParts) -> None:
    """Record this process in run.json ``ranks``; its entry is closed with its outcome at ``end()``.
    What this process may do to the run's status is its ``RankPolicy``."""
    rank = parts.rank
    me = {"pid": os.getpid(), "host": hostname(), "local_rank": local_rank(),
          "writer": parts.writer_id, "started_at": utc_now_iso(), "status": "running"}
    ops: list[tuple[str, str, Any]] = [("merge", "ranks", {str(rank): me})]
    if rank == 0:
        ops.append(("set", "world_size", world_size()))
    parts.writer.update_run(*ops)

    def record_outcome() -> None:
        parts.writer.update_run(("merge", "ranks", {str(rank): {
            **me, "status": parts.record.get("status"), "finished_at": utc_now_iso()}}))

    parts.closers.append(record_outcome)


class RankPolicy:
    """What one process of a distributed job may do to the run the job shares; ``Run`` consults it.

    Rank 0 (and every process outside a distributed job) owns the run: its metrics are kept and it
    sets the status. Another rank's metrics are kept only with ``rank_metrics="all"``, and it
    changes the run's status only by failing (the message then names the rank); its own success
    or stop is recorded in run.json ``ranks``, and the run goes on under rank 0.

    A plain class, not a dataclass: this module is imported by a process's first ``init()``,
    and building a dataclass's methods would cost that call half a millisecond or more.
    """

    __slots__ = ("rank", "keeps_metrics")

    def __init__(self, rank: int = 0, keeps_metrics: bool = True) -> None:
        self.rank = rank
        self.keeps_metrics = keeps_metrics

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RankPolicy):
            return NotImplemented
        return (self.rank, self.keeps_metrics) == (other.rank, other.keeps_metrics)

    def __hash__(self) -> int:
        return hash((self.rank, self.keeps_metrics))

    def __repr__(self) -> str:
        return f"RankPolicy(rank={self.rank!r}, keeps_metrics={self.keeps_metrics!r})"

    @classmethod
    def for_rank(cls, rank: int, rank_metrics: str) -> RankPolicy:
        return cls(rank=rank, keeps_metrics=rank == 0 or rank_metrics == "all")

    @property
    def owns_status(self) -> bool:
        return self.rank == 0

    def status_change(self, status: str, message: str | None) -> tuple[bool, str | None]:
        """Whether this process's ``log_status(status)`` changes the run's status, and the
        message to record with it (``status`` lower-case, as ``log_status`` normalises it)."""
        if self.owns_status or status not in FINAL_STATUSES:
            return True, message
        if status == "failed":
            return True, f"rank {self.rank}: {message}" if message else f"rank {self.rank} failed"
        return False, message
