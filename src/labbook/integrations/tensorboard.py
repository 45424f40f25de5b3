"""TensorBoard: log what a ``SummaryWriter`` writes, while the run runs.

::

    from torch.utils.tensorboard import SummaryWriter
    from labbook import tracking

    run = tracking.init(project="mnist", sync_tensorboard=True)
    writer = SummaryWriter(run.get_tensorboard_path())
    writer.add_scalar("loss", 0.5, global_step=1)   # -> metric "loss", step 1, the event's wall time
    writer.close()
    tracking.end()                                   # drains what is left, then ends

``watch(logdir, run=None)`` does the same for any folder (sub-folders' tags get the folder as a
prefix: ``val/loss``). Scalars become metrics, histograms histograms, images images and text text,
with their steps and wall times; see ``labbook.media.tensorboard`` for the whole mapping.
``Logger.process_summary`` is Polyaxon's entry point for one ``Summary`` proto. Needs the
``tensorboard`` extra (``pip install 'labbook[tensorboard]'``).
"""

from __future__ import annotations

import os
from typing import Any

from labbook.media.optional import need
from labbook.media.tensorboard import SummaryConverter, TensorBoardSync, start_sync

__all__ = ["Logger", "TensorBoardSync", "watch"]


def watch(logdir: str | os.PathLike[str] | None = None, run: Any = None,
          interval: float = 1.0) -> TensorBoardSync:
    """Log what is written under ``logdir`` (default: the run's ``get_tensorboard_path()``) on
    ``run`` (default: the active run, started if there is none) until the run ends.

    ``interval`` is how often (seconds) the event files are read; ``run.end()`` reads the rest.
    """
    from labbook import tracking

    run = tracking.get_or_create_run(run)
    if run.uuid is None:  # a NoOpRun (LABBOOK_NO_OP=1): nothing to log
        return TensorBoardSync(run, logdir or ".", interval=interval)
    return start_sync(run, logdir, interval=interval)


class Logger:
    """Polyaxon's TensorBoard logger: ``Logger.process_summary(summary, global_step, run)``."""

    @classmethod
    def process_summary(cls, summary: Any, global_step: int | None = None, run: Any = None,
                        log_image: bool = False, log_histo: bool = False,
                        log_tensor: bool = False) -> None:
        """Log one ``Summary`` (a proto from tensorboard, tensorboardX or TensorFlow, or its
        serialized bytes): scalars always, images with ``log_image``, histograms with
        ``log_histo``, text (string tensors) with ``log_tensor``, as Polyaxon does."""
        from labbook import tracking

        summary_pb2 = need("tensorboard.compat.proto.summary_pb2", "Logger.process_summary")
        if isinstance(summary, (bytes, bytearray)):
            parsed = summary_pb2.Summary.FromString(bytes(summary))
        elif isinstance(summary, summary_pb2.Summary):
            parsed = summary
        else:  # another library's Summary class: the same wire format
            parsed = summary_pb2.Summary.FromString(summary.SerializeToString())
        kinds = {"metric"} | ({"image"} if log_image else set()) | ({"histogram"} if log_histo else set())
        kinds |= {"text"} if log_tensor else set()
        run = tracking.get_or_create_run(run)
        SummaryConverter(run, kinds=kinds).summary(parsed, global_step, None)
