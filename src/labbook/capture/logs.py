"""Log capture: stdout and stderr at the file-descriptor level, and Python ``logging`` records.

While a run is open (``track_logs=True``, the default), file descriptors 1 and 2 point at pipes
(pseudo-terminals when they were terminals, so programs keep their colours and progress bars).
The process's one reader thread (started by its first capture, shared by every run after it:
no thread is started or stopped per run) copies every byte to the original descriptors at once,
so the console shows what it always did, and records each line. Output from C extensions, CUDA and child processes
goes through the same descriptors and is kept too. Python ``logging`` records are noticed through
the log-record factory (no handler is added, so ``logging.basicConfig`` and the console behave as
before): a line that a handler printed is tagged with the record's level and logger, and a record
that no handler printed is kept as a line of the stream ``logging``. ``end()`` restores
everything.

Storage: ``logs/<writer id>.jsonl``, one file per process (so per rank), a JSON header line then
one JSON object per line of output::

    {"format": "labbook.logs", "version": 1, "writer": "0-4242-a1b2c3", "rank": 0, "pid": 4242, "host": "n1"}
    {"timestamp": "2026-11-23T04:38:50.123456+00:00", "stream": "stdout", "level": null,
     "logger": null, "rank": 0, "message": "epoch 1 loss 0.31"}

Within a stream the order is exact. Across stdout and stderr, lines are ordered by when the
reader received them, which matches the console except for writes a few microseconds apart.
Python buffers ``sys.stdout`` when it is not a terminal: use ``print(..., flush=True)`` or
``PYTHONUNBUFFERED=1`` to see lines in ``labbook logs -f`` as they are printed. A carriage return
(progress bars) keeps only the latest state of the line.

Reading back::

    from labbook.capture.logs import read_logs
    for line in read_logs(run.path, tail=20):
        print(line.timestamp, line.stream, line.message)
"""

from __future__ import annotations

import atexit
import errno
import functools
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from labbook.capture.liveness import hostname
from labbook.store.format import iso
from labbook.store.logs import (  # noqa: F401 - the readers and the file format live in the store
    _MAX_PARTIAL,
    LOG_DIR,
    LOG_FORMAT,
    LOG_FORMAT_VERSION,
    LogLine,
    follow_logs,
    log_files,
    read_logs,
)

LOGGING_GRACE = 1.0  # seconds a logging record waits for its printed line before it stands alone
PARTIAL_GRACE = 1.0  # seconds a line without its newline waits before it is recorded as it is
COALESCE = 0.02  # seconds the reader waits after a read so lines come in batches
IDLE_TICK = 1000  # ms an idle reader sleeps at most: it notices stop() even if its wake-up is lost
_MATCH_WINDOW = 32
_STREAMS = ((1, "stdout"), (2, "stderr"))
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


# -- capturing -------------------------------------------------------------------------------


class _Stream:
    __slots__ = ("fd", "name", "saved", "read_fd", "inode", "partial", "partial_since",
                 "follow", "follow_level", "follow_logger")

    def __init__(self, fd: int, name: str) -> None:
        self.fd, self.name = fd, name
        self.saved = self.read_fd = self.inode = None
        self.partial, self.partial_since = b"", 0.0
        self.follow, self.follow_level, self.follow_logger = 0, None, None


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError, RuntimeError):  # RuntimeError: a signal
            pass  # handler ending the run while the main thread was inside print()
    try:  # C stdio buffers (printf from an extension) too
        _libc().fflush(None)
    except (OSError, AttributeError, TypeError):
        pass


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    """The process's C library, loaded once (a handle per call cost a ``dlopen`` each time)."""
    import ctypes

    return ctypes.CDLL(None)


class LogCapture:
    """Tees fds 1 and 2 through pipes into ``path`` while started. See the module docstring."""

    def __init__(self, path: Path, rank: int, writer_id: str, errors: list[str] | None = None) -> None:
        self.path = Path(path)
        self.rank = rank
        self.writer_id = writer_id
        self.errors = errors if errors is not None else []
        self._streams = [_Stream(fd, name) for fd, name in _STREAMS]
        self._pending: deque = deque()  # logging records not yet matched to a printed line
        self._pending_lock = threading.Lock()
        self._recording = False
        # Held while output is read and recorded, by the reader thread or by stop(): stop()
        # records what is left in the pipes itself, on its caller's thread, instead of waking
        # the reader and waiting for it to be scheduled (two thread hand-offs per run).
        self._lock = threading.Lock()
        self._by_fd: dict[int, _Stream] = {}  # the pipes still open, by read fd
        self._pid = os.getpid()
        self._previous_factory: Callable[..., logging.LogRecord] | None = None
        self._file = None
        self._started = False  # start() succeeded and stop() has not run yet
        self._reader: _Reader | None = None  # the process's reader, once started

    # -- start and stop (caller's thread) ------------------------------------------------

    def start(self) -> None:
        import select

        if not hasattr(select, "poll"):
            raise OSError("file-descriptor log capture needs select.poll (not on Windows)")
        reader = _the_reader()  # before anything is opened: it may fail (no threads left)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")
        if self._file.tell() == 0:
            self._file.write(orjson.dumps({
                "format": LOG_FORMAT, "version": LOG_FORMAT_VERSION, "writer": self.writer_id,
                "rank": self.rank, "pid": os.getpid(), "host": hostname(),
            }) + b"\n")
            self._file.flush()
        prepared: list[tuple[_Stream, int]] = []
        try:  # everything that can fail happens before fd 1 or 2 is touched
            for stream in self._streams:
                try:
                    os.fstat(stream.fd)
                except OSError:  # a daemon with fd 1 or 2 closed: nothing to capture there
                    continue
                stream.saved = os.dup(stream.fd)
                stream.read_fd, write_fd = _terminal_like(stream.fd)
                prepared.append((stream, write_fd))
                os.set_blocking(stream.read_fd, False)  # two threads may read it: neither may block
        except OSError:
            for stream, write_fd in prepared:
                for fd in (stream.saved, stream.read_fd, write_fd):
                    os.close(fd)
                stream.saved = stream.read_fd = None
            self._file.close()
            raise
        _flush_std_streams()
        for stream, write_fd in prepared:
            os.dup2(write_fd, stream.fd)
            os.close(write_fd)
            stream.inode = os.fstat(stream.fd).st_ino
        self._by_fd = {stream.read_fd: stream for stream, _ in prepared}
        self._recording = True
        self._previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._record_factory)
        self._started = True
        self._reader = reader
        reader.add(self)
        # A run never ended (no process hooks) must still hand the console back before exit,
        # or Python's last flush of stdout would go into a pipe nobody reads any more.
        atexit.register(self.stop)

    def _restore(self) -> None:
        """Point fds 1 and 2 back at what they were, and the log-record factory too."""
        _flush_std_streams()
        for stream in self._streams:
            if stream.saved is None:
                continue
            try:
                still_ours = os.fstat(stream.fd).st_ino == stream.inode
            except OSError:
                still_ours = False
            if still_ours:  # someone who replaced fd 1 after us owns it now: leave theirs
                os.dup2(stream.saved, stream.fd)
        if logging.getLogRecordFactory() == self._record_factory:
            logging.setLogRecordFactory(self._previous_factory)

    def stop(self, closing_lines: Iterable[tuple[str, str, str]] = ()) -> None:
        """Restore fds 1 and 2, record what is still in the pipes, then ``closing_lines``
        (``(stream, level, text)``: the run's traceback, for one). Output written after this by
        children that outlive the run still reaches the console, unrecorded."""
        if not self._started:
            return
        self._started = False  # a signal handler ending the run meanwhile finds it stopped
        atexit.unregister(self.stop)
        self._restore()
        if os.getpid() != self._pid:  # a forked child ending its copy: the reader is the parent's
            return
        with self._lock:  # the reader is not reading meanwhile; it only forwards from now on
            try:
                self._finish()
            except Exception:  # noqa: BLE001 - the run's end goes on; reported at end()
                self.errors.append(traceback.format_exc())
                self._recording = False
            moment = iso(time.time_ns() // 1000)
            for stream_name, level, text in closing_lines:
                for line in text.rstrip("\n").split("\n"):
                    self._file.write(self._encode(moment, stream_name, line, level, "labbook"))
            self._file.close()
        self._reader.wake(b"x")  # it sees the pipes' ends (or goes on forwarding a child's output)

    def _record_factory(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous_factory(*args, **kwargs)
        if self._recording and os.getpid() == self._pid:
            try:
                self._note(record)
            except Exception:  # noqa: BLE001 - never break the user's logging call
                self.errors.append(traceback.format_exc())
        return record

    def _note(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - logging reports bad arguments itself
            message = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            message = message.rstrip("\n") + "\n" + "".join(traceback.format_exception(*record.exc_info))
        lines = message.rstrip("\n").split("\n")
        first = next((line.strip() for line in lines if line.strip()), "")
        entry = (time.monotonic(), record.created, record.levelname, record.name, first, lines)
        with self._pending_lock:
            first = not self._pending
            self._pending.append(entry)
        if first:  # the reader sleeps (up to IDLE_TICK) while nothing waits: wake it
            self._reader.wake(b"l")  # its own reader: no lock on the logging call's path

    # -- on the reader thread (see _Reader) ------------------------------------------------

    def _waiting(self) -> bool:
        """A logging record or an unfinished line has a deadline: the reader may not sleep long."""
        return self._recording and bool(self._pending or any(st.partial for st in self._streams))

    def _tend(self, now: float) -> bool:
        """The reader's pass over this capture after its reads (holding ``_lock``): expire and
        flush while recording; True once it is finished (stopped, every pipe at its end)."""
        if self._recording:
            try:
                self._expire(time.monotonic(), now, final=False)
                self._file.flush()
            except Exception:  # noqa: BLE001 - the thread must keep forwarding output
                self.errors.append(traceback.format_exc())
            return False
        return not (self._started or self._by_fd)

    def _read_fds(self) -> list[int]:
        return [stream.read_fd for stream in self._streams if stream.read_fd is not None]

    def _close(self) -> None:
        """The reader is done with this capture (no longer polling its pipes): close them."""
        for stream in self._streams:
            for fd in (stream.read_fd, stream.saved):
                if fd is not None:
                    _close_quietly(fd)
            stream.read_fd = stream.saved = None

    def _read(self, stream: _Stream, now: float) -> bool:
        """Forward what the pipe holds, and record it while recording (holding ``_lock``);
        False when there was nothing. At the pipe's end it leaves ``_by_fd``."""
        try:
            data = os.read(stream.read_fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError as error:  # a pseudo-terminal says EIO once its last writer is gone
            if error.errno != errno.EIO:
                raise
            data = b""
        if not data:  # every writer closed its end: our restore and the last child exited
            self._by_fd.pop(stream.read_fd, None)
            return False
        _write_all(stream.saved, data)
        if self._recording:
            try:
                self._take(stream, data, now)
            except Exception:  # noqa: BLE001 - the thread must keep forwarding output
                self.errors.append(traceback.format_exc())
        return True

    def _finish(self) -> None:
        """In stop(), holding ``_lock``, fds 1 and 2 restored: record what our process left in
        the pipes, then stop recording (the reader thread only forwards from then on)."""
        import select

        poller = select.poll()  # stop()'s own: the reader thread may be inside its poll()
        for fd in self._by_fd:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + 2.0
        while self._by_fd and time.monotonic() < deadline:
            ready = [fd for fd, _ in poller.poll(0) if fd in self._by_fd]
            if not ready:
                break
            now = time.time()
            for fd in ready:
                if not self._read(self._by_fd[fd], now) and fd not in self._by_fd:
                    poller.unregister(fd)
        now = time.time()
        for stream in self._streams:
            if stream.partial:
                self._emit_line(stream, stream.partial, iso(round(now * 1e6)))
                stream.partial = b""
        self._expire(time.monotonic(), now, final=True)
        self._file.flush()
        self._recording = False

    def _take(self, stream: _Stream, data: bytes, now: float) -> None:
        buffer = stream.partial + data if stream.partial else data
        lines = buffer.split(b"\n")
        rest = lines.pop()
        moment = iso(round(now * 1e6))  # one read, one timestamp
        if stream.follow or self._pending or b"\r" in buffer or b"\x1b" in buffer:
            for raw in lines:
                self._emit_line(stream, raw, moment)
        elif lines:  # the common case, a few µs per line less: plain lines, no logging pending
            head = self._encode(moment, stream.name, "", None, None)[:-4]  # up to "message":
            dumps = orjson.dumps
            self._file.write(b"".join(
                [head + dumps(raw.decode("utf-8", errors="replace")) + b"}\n" for raw in lines]))
        if len(rest) > _MAX_PARTIAL:
            self._emit_line(stream, rest, moment)
            rest = b""
        if rest and (lines or not stream.partial):  # a new unfinished line starts now
            stream.partial_since = now
        stream.partial = rest

    def _emit_line(self, stream: _Stream, raw: bytes, moment: str) -> None:
        if b"\r" in raw:  # a progress bar redraws the line: keep its last state
            pieces = [p for p in raw.split(b"\r") if p]
            raw = pieces[-1] if pieces else b""
        text = raw.decode("utf-8", errors="replace")
        if "\x1b" in text:  # colours and cursor moves are for the terminal, not the record
            text = _ANSI.sub("", text)
        level = logger = None
        if stream.follow:
            stream.follow -= 1
            level, logger = stream.follow_level, stream.follow_logger
        elif self._pending:
            entry = self._match(text)
            if entry is not None:
                level, logger = entry[2], entry[3]
                stream.follow = len(entry[5]) - 1
                stream.follow_level, stream.follow_logger = level, logger
        self._file.write(self._encode(moment, stream.name, text, level, logger))

    def _match(self, text: str) -> tuple | None:
        with self._pending_lock:
            for index, entry in enumerate(self._pending):
                if index >= _MATCH_WINDOW:
                    return None
                if entry[4] and entry[4] in text:
                    del self._pending[index]
                    return entry
        return None

    def _expire(self, mono: float, now: float, final: bool) -> None:
        """Logging records nobody printed become lines of their own; stale partial lines too."""
        with self._pending_lock:
            expired = []
            while self._pending and (final or mono - self._pending[0][0] > LOGGING_GRACE):
                expired.append(self._pending.popleft())
        for _, created, level, logger, _, lines in expired:
            moment = iso(round(created * 1e6))
            for line in lines:
                self._file.write(self._encode(moment, "logging", line, level, logger))
        for stream in self._streams:
            if stream.partial and now - stream.partial_since > PARTIAL_GRACE:
                self._emit_line(stream, stream.partial, iso(round(now * 1e6)))
                stream.partial = b""

    def _encode(self, moment: str, stream: str, text: str, level: str | None, logger: str | None) -> bytes:
        return orjson.dumps({"timestamp": moment, "stream": stream, "level": level, "logger": logger,
                             "rank": self.rank, "message": text}) + b"\n"


class _Reader:
    """The one thread per process that reads every capture's pipes: the first capture starts it,
    and it outlives each run (no thread is started or stopped per run). It forwards every byte
    to the console at once and records it for the capture that owns the pipe, holding that
    capture's lock; a capture leaves it once stopped and every pipe of it reached its end
    (children that outlive a run keep theirs open). It sleeps in ``poll`` while nothing has a
    deadline, so an idle reader never takes the interpreter lock from the training loop."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.captures: list[LogCapture] = []
        self.changed = False
        self.wake_r, self.wake_w = os.pipe()
        self.wake_inode = os.fstat(self.wake_w).st_ino
        self.thread = threading.Thread(target=self._loop, name="labbook-logs", daemon=True)
        try:
            self.thread.start()
        except RuntimeError as error:  # no threads left
            for fd in (self.wake_r, self.wake_w):
                os.close(fd)
            raise OSError(f"cannot start the log reader thread: {error}") from None

    def add(self, capture: LogCapture) -> None:
        with self.lock:
            self.captures.append(capture)
            self.changed = True
        self.wake(b"a")

    def wake(self, byte: bytes) -> None:
        """Wake the reader through its pipe, unless that fd number is no longer its pipe: some
        library closed it by mistake (a double close) and it may be another file now."""
        try:
            if os.fstat(self.wake_w).st_ino == self.wake_inode:
                os.write(self.wake_w, byte)
        except OSError:
            pass

    def _loop(self) -> None:
        import select

        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        owners: dict[int, LogCapture] = {}  # read fd -> the capture whose pipe it is
        captures: list[LogCapture] = []
        while True:
            with self.lock:
                if self.changed:
                    self.changed = False
                    captures = list(self.captures)
                    for capture in captures:
                        for fd in list(capture._by_fd):
                            if fd not in owners:
                                owners[fd] = capture
                                poller.register(fd, select.POLLIN)
            try:
                events = poller.poll(250 if any(c._waiting() for c in captures) else IDLE_TICK)
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
                continue
            got_output = False
            now = time.time()
            for fd, _ in events:
                if fd == self.wake_r:
                    _read_quietly(fd)
                    continue
                capture = owners.get(fd)
                if capture is None:  # pragma: no cover - unregistered below as it left
                    continue
                with capture._lock:
                    stream = capture._by_fd.get(fd)
                    if stream is not None:
                        try:
                            got_output = capture._read(stream, now) or got_output
                        except OSError:  # closed under us (a double close elsewhere): this pipe
                            capture.errors.append(traceback.format_exc())  # is lost, not the others
                            capture._by_fd.pop(fd, None)
                    if fd not in capture._by_fd:  # at its end (here or in stop()): never polled again
                        poller.unregister(fd)
                        del owners[fd]
            finished = []
            for capture in captures:
                with capture._lock:
                    if capture._tend(now):
                        finished.append(capture)
                        for fd in capture._read_fds():  # polled no more before their numbers go
                            if owners.get(fd) is capture:
                                poller.unregister(fd)
                                del owners[fd]
                        capture._close()
            if finished:
                with self.lock:
                    self.captures = [c for c in self.captures if c not in finished]
                    captures = [c for c in captures if c not in finished]
            if got_output and any(c._recording for c in captures):  # a few more lines: fewer GIL hand-offs
                time.sleep(COALESCE)


_reader: list[_Reader] = []
_reader_lock = threading.Lock()


def _the_reader() -> _Reader:
    with _reader_lock:
        if not _reader or _reader[0].pid != os.getpid():  # a forked child starts its own
            _reader[:] = [_Reader()]
        return _reader[0]


def _forked_child() -> None:
    global _reader_lock
    _reader_lock = threading.Lock()  # the parent's thread, not in the child, may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def _read_quietly(fd: int) -> None:
    try:
        os.read(fd, 64)
    except OSError:
        pass


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:  # already closed by someone else
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:  # pragma: no cover
            continue
        except OSError:  # the console went away: keep recording anyway
            return
        view = view[written:]


def _terminal_like(fd: int) -> tuple[int, int]:
    """(read end, write end) to put behind ``fd``: a pseudo-terminal when ``fd`` is a terminal,
    so programs still see one (colours, progress bars, its size), else a pipe."""
    if os.isatty(fd):
        try:
            import fcntl
            import termios

            master, slave = os.openpty()
        except (ImportError, OSError):
            pass
        else:
            try:
                attrs = termios.tcgetattr(fd)
                attrs[1] &= ~termios.OPOST  # bytes pass as written: no "\n" -> "\r\n"
                termios.tcsetattr(slave, termios.TCSANOW, attrs)
                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
            except (OSError, termios.error):
                pass  # a terminal that will not tell: the pseudo-terminal's defaults do
            return master, slave
    read_fd, write_fd = os.pipe()
    _enlarge_pipe(write_fd)
    return read_fd, write_fd


def _enlarge_pipe(fd: int) -> None:
    """1 MiB of pipe buffer where Linux allows it, so bursts never wait on the reader."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
