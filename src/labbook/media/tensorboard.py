"""TensorBoard event files as labbook events: reading them, and logging what they hold on a run.

One module serves ``sync_tensorboard=True`` (``labbook.integrations.tensorboard``, which tails a
log folder while the run runs), ``labbook import tensorboard`` (``labbook.importers.tensorboard``,
which reads finished ones) and Polyaxon's ``Logger.process_summary``. Records are read with
TensorBoard's own record reader and parsed with its protobufs (the ``tensorboard`` extra); nothing
here decodes protobuf by hand.

What each kind of summary value becomes (the tag is the name; the event's step and wall time are
the step and timestamp):

============================================  ==================================================
TensorBoard                                   labbook
============================================  ==================================================
scalar (``simple_value`` or ``scalars``)      ``log_metric``
histogram (``histo`` or ``histograms``)       ``log_np_histogram`` (edges and counts, float64)
image (``image`` or ``images``)               ``log_image`` (the encoded PNG/JPEG/GIF bytes as
                                              they are); several images in one value are named
                                              ``<tag>/0``, ``<tag>/1``, ...
text (``text``)                               ``log_text`` (``/text_summary``, which
                                              torch.utils.tensorboard and tensorboardX append
                                              to the tag, is dropped)
hparams (``session_start_info``)              ``log_inputs`` (the hyperparameters)
============================================  ==================================================

Anything else (audio, PR curves, meshes, graphs, profiles, custom scalars layouts, other
plugins' data) is not carried over; ``SummaryConverter.skipped`` counts it per kind.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from labbook.media.optional import need

EVENT_FILE = re.compile(r"(^|\.)tfevents\.")  # events.out.tfevents.<time>.<host>[...]
TEXT_SUFFIX = "/text_summary"
_RECORD_OVERHEAD = 16
_DBL_MAX_SENTINEL = 1e300  # TensorFlow 1's last bucket_limit is DBL_MAX  # 8-byte length, 4-byte length CRC, 4-byte data CRC around each record


def is_event_file(path: Path) -> bool:
    return path.is_file() and EVENT_FILE.search(path.name) is not None


def event_files(folder: Path) -> list[Path]:
    """The event files directly inside ``folder``, in name (hence creation-time) order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_event_file(p))


def run_folders(logdir: Path) -> list[Path]:
    """Every folder under ``logdir`` (itself included) holding event files: TensorBoard's runs."""
    found = []
    for root, dirs, files in os.walk(logdir):
        dirs.sort()
        if any(EVENT_FILE.search(name) for name in files):
            found.append(Path(root))
    return found


class EventFileTail:
    """The records of one event file from a byte offset on; ``offset`` moves past each one read.

    A record still being written (a torn tail) is left for the next ``read()``, so a file can be
    read while a ``SummaryWriter`` appends to it, and a new ``EventFileTail(path, offset)`` after a
    restart starts exactly where the last one stopped. Records are framed and checked (CRC) by
    TensorBoard's own reader, ``PyRecordReader_New``; it reads through its ``file_handle``, which
    is given here already positioned at ``offset`` (TensorBoard's reader has no start offset).
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = int(offset)
        self._reader: Any = None

    def read(self) -> Iterator[Any]:
        """Yield the ``Event`` protos appended since the last call."""
        event_pb2 = need("tensorboard.compat.proto.event_pb2", "Reading TensorBoard event files")
        from tensorboard.compat.tensorflow_stub import errors

        if self._reader is None:
            if not self.path.is_file():
                return
            self._reader = self._open()
        reader = self._reader
        while True:
            try:
                reader.GetNext()
            except (errors.OutOfRangeError, errors.DataLossError):
                return  # the end, or a record not yet complete: read on from it next time
            record = reader.record()
            self.offset += len(record) + _RECORD_OVERHEAD
            yield event_pb2.Event.FromString(record)

    def _open(self) -> Any:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

        reader = PyRecordReader_New(os.fsencode(self.path), 0, None, None)
        handle = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        handle.seek(self.offset)
        reader.file_handle.close()
        reader.file_handle = handle
        return reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.file_handle.close()
            self._reader = None


def read_events(path: Path) -> Iterator[Any]:
    """Every ``Event`` of a finished event file, in order."""
    tail = EventFileTail(path)
    try:
        yield from tail.read()
    finally:
        tail.close()


class SummaryConverter:
    """Logs TensorBoard events on ``run`` (see the module docstring for the mapping).

    ``kinds`` limits what is logged (``{"metric"}`` logs scalars only). TF2 writers send a tag's
    plugin metadata with its first value only, so one converter should see a file's events in
    order. ``logged`` and ``skipped`` count values per kind.
    """

    KINDS = frozenset({"metric", "histogram", "image", "text", "inputs"})

    def __init__(self, run: Any, kinds: frozenset[str] | set[str] | None = None, prefix: str = "",
                 plugins: dict[str, str] | None = None) -> None:
        self.run = run
        self.kinds = frozenset(kinds) if kinds is not None else self.KINDS
        self.prefix = prefix  # put before every tag: events of sub-folder "val" become "val/<tag>"
        self.plugins: dict[str, str] = plugins if plugins is not None else {}
        self.logged: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.last_wall_time: float | None = None

    def event(self, event: Any) -> None:
        if event.wall_time and (self.last_wall_time is None or event.wall_time > self.last_wall_time):
            self.last_wall_time = event.wall_time
        what = event.WhichOneof("what")
        if what == "summary":
            self.summary(event.summary, event.step, event.wall_time)
        elif what in ("graph_def", "meta_graph_def", "tagged_run_metadata"):
            self.skipped["graph"] += 1
        # file_version, session_log and log_message records carry no data to keep

    def summary(self, summary: Any, step: int | None, wall_time: float | None) -> None:
        for value in summary.value:
            self.value(value, step, wall_time)

    def value(self, value: Any, step: int | None, wall_time: float | None) -> None:
        if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
            self.plugins[value.tag] = value.metadata.plugin_data.plugin_name
        plugin = self.plugins.get(value.tag, "")
        tag = self.prefix + value.tag
        field = value.WhichOneof("value")
        timestamp = wall_time if wall_time else None
        if plugin == "hparams":  # its data is in the metadata; the value itself is empty
            if value.HasField("metadata"):
                self._hparams(value.metadata.plugin_data.content)
        elif field == "simple_value":
            self._metric(tag, float(value.simple_value), step, timestamp)
        elif field == "histo":
            self._legacy_histogram(tag, value.histo, step, timestamp)
        elif field == "image":
            self._images(tag, [value.image.encoded_image_string], step, timestamp)
        elif field == "tensor":
            self._tensor(tag, plugin, value, step, timestamp)
        else:
            self.skipped[field or "empty"] += 1

    # -- one per kind ------------------------------------------------------------------------

    def _tensor(self, tag: str, plugin: str, value: Any, step: Any, timestamp: Any) -> None:
        from tensorboard.util import tensor_util

        if plugin not in ("scalars", "histograms", "images", "text"):
            self.skipped[plugin or "tensor"] += 1
            return
        array = tensor_util.make_ndarray(value.tensor)
        if plugin == "scalars":
            self._metric(tag, float(array.item()), step, timestamp)
        elif plugin == "histograms":
            self._bucket_histogram(tag, array, step, timestamp)
        elif plugin == "images":
            self._images(tag, list(array.ravel()[2:]), step, timestamp)  # width, height, images...
        else:
            self._text(tag, array, step, timestamp)

    def _metric(self, tag: str, value: float, step: Any, timestamp: Any) -> None:
        if "metric" in self.kinds:
            self.run.log_metric(tag, value, step=step, timestamp=timestamp)
            self.logged["metric"] += 1

    def _legacy_histogram(self, tag: str, histo: Any, step: Any, timestamp: Any) -> None:
        # ``bucket_limit`` holds each bucket's right edge; a bucket starts where the one before it
        # ends. Empty buckets at either end (torch pads one in front, TensorFlow 1 ends at
        # DBL_MAX) are left out, so the edges are exactly the bins that hold the values, with
        # ``min`` as the left edge of a first bucket that has no edge before it and ``max`` as
        # the right edge of a last one that ends at DBL_MAX.
        limits, counts = list(histo.bucket_limit), list(histo.bucket)
        filled = [i for i, count in enumerate(counts) if count]
        if not filled or len(limits) != len(counts):
            self.skipped["empty histogram"] += 1
            return
        first, last = filled[0], filled[-1]
        left = limits[first - 1] if first > 0 else min(histo.min, limits[0])
        rights = limits[first:last + 1]
        if rights[-1] >= _DBL_MAX_SENTINEL:
            rights[-1] = max(histo.max, left)
        self._histogram(tag, [left, *rights], counts[first:last + 1], step, timestamp)

    def _bucket_histogram(self, tag: str, buckets: Any, step: Any, timestamp: Any) -> None:
        buckets = buckets.reshape(-1, 3).astype("float64") if buckets.size else buckets
        if buckets.size == 0 or not buckets[:, 2].any():
            self.skipped["empty histogram"] += 1
            return
        edges = [float(buckets[0, 0]), *(float(x) for x in buckets[:, 1])]  # rows of (left, right, count)
        if any(b <= a for a, b in zip(edges, edges[1:])):
            self.skipped["histogram with zero-width buckets"] += 1
            return
        self._histogram(tag, edges, buckets[:, 2], step, timestamp)

    def _histogram(self, tag: str, edges: list[float], counts: Any, step: Any, timestamp: Any) -> None:
        if "histogram" in self.kinds:
            self.run.log_np_histogram(tag, edges, counts, step=step, timestamp=timestamp)
            self.logged["histogram"] += 1

    def _images(self, tag: str, encoded: list[bytes], step: Any, timestamp: Any) -> None:
        if "image" not in self.kinds:
            return
        summary_pb2 = need("tensorboard.compat.proto.summary_pb2", "Reading TensorBoard images")
        for index, data in enumerate(encoded):
            name = tag if len(encoded) == 1 else f"{tag}/{index}"
            image = summary_pb2.Summary.Image(encoded_image_string=bytes(data))
            self.run.log_image(image, name=name, step=step, timestamp=timestamp, ext=_image_ext(data))
            self.logged["image"] += 1

    def _text(self, tag: str, array: Any, step: Any, timestamp: Any) -> None:
        if "text" not in self.kinds:
            return
        texts = [_as_str(item) for item in array.ravel()] if array.ndim else [_as_str(array.item())]
        name = tag[: -len(TEXT_SUFFIX)] if tag.endswith(TEXT_SUFFIX) and len(tag) > len(TEXT_SUFFIX) else tag
        self.run.log_text(name, "\n".join(texts), step=step, timestamp=timestamp)
        self.logged["text"] += 1

    def _hparams(self, content: bytes) -> None:
        from tensorboard.plugins.hparams import plugin_data_pb2

        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.WhichOneof("data") != "session_start_info":
            return  # the experiment description and session end carry no values
        if "inputs" not in self.kinds:
            return
        inputs = {key: _proto_value(value) for key, value in data.session_start_info.hparams.items()}
        if inputs:
            self.run.log_inputs(**inputs)
            self.logged["inputs"] += len(inputs)


def _as_str(item: Any) -> str:
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _proto_value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as plain Python (hparams values are numbers, strings or bools)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "null_value" or kind is None:
        return None
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(value)


def _image_ext(data: bytes) -> str:
    if data[:4] == b"\x89PNG":
        return "png"
    if data[:2] == b"\xff\xd8":
        return "jpg"
    if data[:4] == b"GIF8":
        return "gif"
    return "png"


class TensorBoardSync:
    """Tails every event file under ``logdir`` on a background thread and logs it on ``run``.

    Files directly in ``logdir`` keep their tags; a file in a sub-folder (``logdir/val``) gets
    the folder as a prefix (``val/loss``), so TensorBoard's runs do not mix. What has been read
    is kept in ``state_path`` (byte offsets per file, and each tag's plugin), written after the
    run has flushed what was logged, so a watcher started again on the same run (a resumed run)
    reads nothing twice. ``stop()`` stops the thread and drains what is left.
    """

    def __init__(self, run: Any, logdir: str | os.PathLike[str], *, state_path: Path | None = None,
                 interval: float = 1.0, lock: Any = None) -> None:
        import threading

        need("tensorboard.compat.proto.event_pb2", "Syncing TensorBoard event files")
        self.run = run
        self.logdir = Path(logdir)
        self.interval = interval
        self.state_path = Path(state_path) if state_path is not None else None
        self._lock = lock if lock is not None else threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._tails: dict[str, EventFileTail] = {}
        self._converters: dict[str, SummaryConverter] = {}
        self.errors: list[str] = []
        state = self._load_state()
        self._offsets: dict[str, int] = state.get("offsets", {})
        self._plugins: dict[str, dict[str, str]] = state.get("plugins", {})

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> TensorBoardSync:
        import threading

        self._thread = threading.Thread(target=self._loop, name="labbook-tensorboard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, then read what is left (on the caller's thread)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.poll()
        finally:
            for tail in self._tails.values():
                tail.close()
            errors = getattr(getattr(self.run, "_writer", None), "errors", None)
            if errors is not None:  # the run reports them when it ends
                errors.extend(self.errors)

    def _loop(self) -> None:
        import traceback

        while not self._stopping.wait(self.interval):
            # the run's lock: end() holds it while it stops this thread, so never block on it
            if not self._lock.acquire(timeout=0.2):
                continue
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - keep tailing; reported by stop() and the run
                self.errors.append(traceback.format_exc())
            finally:
                self._lock.release()

    # -- reading ---------------------------------------------------------------------------

    @property
    def logged(self) -> Counter[str]:
        return sum((c.logged for c in self._converters.values()), Counter())

    @property
    def skipped(self) -> Counter[str]:
        return sum((c.skipped for c in self._converters.values()), Counter())

    def poll(self) -> int:
        """Read what was appended to every event file since the last poll; return the count of events."""
        count = 0
        with self._lock:
            for folder in run_folders(self.logdir) if self.logdir.is_dir() else []:
                rel_folder = folder.relative_to(self.logdir).as_posix()
                prefix = "" if rel_folder == "." else rel_folder + "/"
                converter = self._converters.get(prefix)
                if converter is None:
                    plugins = self._plugins.setdefault(prefix, {})
                    converter = self._converters[prefix] = SummaryConverter(self.run, prefix=prefix,
                                                                            plugins=plugins)
                for path in event_files(folder):
                    key = path.relative_to(self.logdir).as_posix()
                    tail = self._tails.get(key)
                    if tail is None:
                        tail = self._tails[key] = EventFileTail(path, self._offsets.get(key, 0))
                    for event in tail.read():
                        converter.event(event)
                        count += 1
            if count:
                self.run.flush()  # logged for good before the offsets say it was read
                self._offsets.update({key: tail.offset for key, tail in self._tails.items()})
                self._save_state()
        return count

    def _load_state(self) -> dict[str, Any]:
        import orjson

        if self.state_path is None or not self.state_path.is_file():
            return {}
        try:
            return orjson.loads(self.state_path.read_bytes())
        except orjson.JSONDecodeError:
            return {}  # a torn write; write_atomic makes this unlikely

    def _save_state(self) -> None:
        import orjson

        from labbook.store.runfile import write_atomic

        if self.state_path is not None:
            write_atomic(self.state_path, orjson.dumps(
                {"logdir": str(self.logdir), "offsets": self._offsets, "plugins": self._plugins}))


def start_sync(run: Any, logdir: str | os.PathLike[str] | None = None, interval: float = 1.0) -> TensorBoardSync:
    """Tail ``logdir`` (default: ``run.get_tensorboard_path()``) until ``run.end()``, which drains it.

    Offsets live in the run folder (``tensorboard-sync.json``, or ``tensorboard-sync-<hash>.json``
    for another folder), so resuming the run resumes the tailing where it stopped.
    """
    import hashlib

    own = run.get_tensorboard_path()
    folder = Path(own if logdir is None else logdir).expanduser().absolute()
    if folder == Path(own):
        state_name = "tensorboard-sync.json"
    else:
        state_name = f"tensorboard-sync-{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}.json"
    sync = TensorBoardSync(run, folder, state_path=Path(run.get_artifacts_path(state_name)),
                           interval=interval, lock=getattr(run, "_lock", None))
    run._closers.append(sync.stop)
    return sync.start()
