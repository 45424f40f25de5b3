"""Per-tile summaries of a run folder's metric file, so a chart reads tiles instead of points.

A metric file (``.lbm``: a header line, then 24-byte records) of a million points costs a cold
reader the whole file and three column copies. Its *tiles file* holds, for every ``TILE``
consecutive records of the file, the last step and the min and max value (NaN skipped, as
``numpy.fmin``), so a chart over steps finds each bucket's edge in the tiles and reads only the
records of the tiles where an edge falls (``TiledMetric.points``), with the same answer as
reading every point (``labbook.server.downsample.downsample_tiled``).

A tiles file is a cache, never the record: it lives outside the run folder (under the reading
home's ``cache/tiles/``, see ``tiles_path``), is never synced, and is written by the reader that
had to read the whole file anyway (``write_tiles``, atomically). It names the metric file's size,
modification time and header it was made from, with a CRC-32 of its own arrays; a reader uses it
only while all of them still hold, so a series that grew (metric files are append-only), a
replaced file, or a damaged tiles file is read from its points instead, never charted wrong.
Tiles are kept only for a series of one file whose records are in step order (then time), the
usual single writer: then the file's record order is the series' order.

The format (little-endian) is one JSON header line, then three arrays of ``tiles`` items::

    {"format":"labbook.tiles","version":1,"tile":64,"source_size":S,"source_mtime_ns":M,
     "source_header_crc32":H,"offset":O,"records":N,"tiles":K,"crc32":C}\\n
    step_last  int64[K]    the step of each tile's last record
    min        float64[K]  each tile's smallest value (NaN when all of its values are NaN)
    max        float64[K]  each tile's largest value (likewise)

``O`` is where the records start in the metric file (after its header line), ``N`` their number
(a torn last record is not one), ``K = ceil(N / tile)``, ``C`` the CRC-32 of the three arrays'
bytes, ``H`` that of the metric file's first ``O`` bytes.
"""

from __future__ import annotations

import abc
import os
import threading
import zlib
from pathlib import Path
from typing import Any

import orjson

from labbook.errors import EventFileError
from labbook.store import format as fmt

TILE = 64
FORMAT = "labbook.tiles"
VERSION = 1
EXT = ".lbt"


def tiles_path(cache_root: Path, run_uuid: str, metric_file: Path) -> Path:
    """Where the tiles of ``metric_file`` (``.../events/metric/<name>/<writer>.lbm``) are cached
    under ``cache_root`` (a home's ``cache/tiles``): one folder per run, the series' folder name
    (already encoded safe for a path) and the writer's file name."""
    return Path(cache_root) / run_uuid / metric_file.parent.name / (metric_file.stem + EXT)


def in_step_order(steps: Any, timestamps: Any) -> bool:
    """Whether records are sorted by step, then timestamp (what ``merge_metric_parts`` would
    leave as they are)."""
    import numpy as np

    if len(steps) < 2:
        return True
    if (steps[1:] > steps[:-1]).all():  # one pass in the usual case: steps strictly increasing
        return True
    step_diff = np.diff(steps)
    if (step_diff < 0).any():
        return False
    return not (np.diff(timestamps)[step_diff == 0] < 0).any()


def tile_arrays(steps: Any, values: Any, tile: int = TILE) -> tuple[Any, Any, Any]:
    """(step_last, min, max) of each ``tile`` consecutive points."""
    import numpy as np

    n = len(values)
    starts = np.arange(0, n, tile)
    if not n:
        return np.empty(0, np.int64), np.empty(0), np.empty(0)
    lasts = np.minimum(starts + tile, n) - 1
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (np.ascontiguousarray(steps[lasts], dtype=np.int64), np.fmin.reduceat(values, starts),
                np.fmax.reduceat(values, starts))


def write_tiles(target: Path, source: Path, stat: os.stat_result, data: bytes, records: Any) -> bool:
    """Write the tiles of metric file ``source`` (whose bytes ``data`` were read when it had
    ``stat``, parsed into ``records``) to ``target``; False (nothing written) when the file does
    not qualify (several parts, records out of step order) or the cache cannot be written."""
    offset = data.find(b"\n") + 1
    if offset == 0 or len(records) != (len(data) - offset) // fmt.RECORD_SIZE or len(data) != stat.st_size:
        return False  # a torn header, a second header mid-file, or bytes read that the stat did not see
    if not in_step_order(records["step"], records["timestamp"]):
        return False
    step_last, low, high = tile_arrays(records["step"], records["value"])
    content = pack_tiles({"source_size": stat.st_size, "source_mtime_ns": stat.st_mtime_ns,
                          "source_header_crc32": zlib.crc32(data[:offset]), "offset": offset,
                          "records": len(records)}, step_last, low, high)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(content)
        os.replace(temporary, target)
    except OSError:
        return False  # a cache: a read-only or full disk only costs the next cold read its points
    return True


class TiledRecords(abc.ABC):
    """A series' records as its tiles plus the records of the tiles asked for: ``count`` records
    of ``dtype`` (fields ``step`` and ``value`` at least), ``tile`` to a tile, ``step_last``/
    ``min``/``max`` per tile (what ``labbook.server.downsample.downsample_tiled`` reads). Where
    the records are is the subclass's: ``read_spans`` reads byte ranges of them."""

    def __init__(self, count: int, tile: int, step_last: Any, low: Any, high: Any, dtype: Any) -> None:
        self.count = count
        self.tile = tile
        self.step_last = step_last
        self.min = low
        self.max = high
        self.dtype = dtype
        # the tiles read so far, kept: a chart asked again reads nothing (``lock``: one reader at a time)
        self.lock = threading.RLock()
        self.held = self.block([])

    def points(self, indices: Any) -> tuple[Any, Any]:
        """(steps, values) of the records at ``indices`` (any shape, each in ``[0, count)``)."""
        import numpy as np

        with self.lock:
            return self.held.points(np.asarray(indices, dtype=np.int64))

    def block(self, tiles: Any) -> TileBlock:
        """The records of ``tiles`` (tile numbers, any order, repeats allowed), read now, each run
        of consecutive tiles in one read, in increasing order."""
        import numpy as np

        wanted = np.sort(np.asarray(tiles, dtype=np.int64).ravel())
        if len(wanted):
            wanted = wanted[np.concatenate(([True], wanted[1:] != wanted[:-1]))]
        record = self.dtype.itemsize * self.tile
        buffer = bytearray(len(wanted) * record)
        if len(wanted):
            breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
            run_starts, run_ends = np.concatenate(([0], breaks)), np.concatenate((breaks, [len(wanted)]))
            starts = wanted[run_starts] * record  # (where in the records, how many bytes, where in the buffer)
            sizes = np.minimum((run_ends - run_starts) * record, self.count * self.dtype.itemsize - starts)
            self.read_spans(list(zip(starts.tolist(), sizes.tolist(), (run_starts * record).tolist())),
                            memoryview(buffer))
        return TileBlock(self, wanted, np.frombuffer(buffer, dtype=self.dtype))

    @abc.abstractmethod
    def read_spans(self, spans: list[tuple[int, int, int]], buffer: memoryview) -> None:
        """Read each ``(start, size, at)`` of ``spans`` (bytes from the first record, in
        increasing order) into ``buffer[at:at + size]``; EventFileError when they are not all there."""


class TiledMetric(TiledRecords):
    """A metric file's records as its tiles plus the records of the tiles asked for (see the module)."""

    def __init__(self, source: Path, offset: int, count: int, tile: int, step_last: Any, low: Any, high: Any,
                 identity: tuple[int, int] = (0, 0)) -> None:
        self.source = source
        self.identity = identity  # (device, inode) of the file the tiles were checked against
        self.offset = offset
        super().__init__(count, tile, step_last, low, high, fmt.metric_dtype())

    def read_spans(self, spans: list[tuple[int, int, int]], buffer: memoryview) -> None:
        with open(self.source, "rb") as handle:
            fd = handle.fileno()
            opened = os.fstat(fd)
            if self.identity != (0, 0) and (opened.st_dev, opened.st_ino) != self.identity:
                raise EventFileError(f"{self.source} was replaced since its tiles were read; read the series again.")
            for start, size, at in spans:
                got = os.preadv(fd, [buffer[at:at + size]], self.offset + start)
                if got != size:
                    raise EventFileError(f"{self.source}: {got} of {size} bytes read at {self.offset + start}; "
                                  "the file shrank")


class TileBlock:
    """The records of some tiles of a ``TiledRecords``, one after another in tile order (``tiles``:
    their numbers, sorted), as ``steps`` and ``values``: consecutive tiles are adjacent here too."""

    def __init__(self, source: TiledRecords, tiles: Any, records: Any) -> None:
        import numpy as np

        self.source = source
        self.tiles = tiles
        self.steps = np.ascontiguousarray(records["step"])
        self.values = np.ascontiguousarray(records["value"])
        self._slot = np.full(len(source.step_last), -1, dtype=np.int64)
        self._slot[tiles] = np.arange(len(tiles))

    def ensure(self, tiles: Any) -> None:
        """Read the tiles among ``tiles`` that the block does not hold yet."""
        import numpy as np

        tiles = np.asarray(tiles, dtype=np.int64)
        missing = tiles[self._slot[tiles] < 0]
        if len(missing):  # read those alone, then put every tile back in order
            more = self.source.block(missing)
            tiles = np.concatenate((self.tiles, more.tiles))
            order = np.argsort(tiles, kind="stable")
            size = self.source.tile
            self.tiles = tiles[order]
            self.steps = np.concatenate((self.steps, more.steps)).reshape(-1, size)[order].ravel()
            self.values = np.concatenate((self.values, more.values)).reshape(-1, size)[order].ravel()
            self._slot[self.tiles] = np.arange(len(self.tiles))

    def position(self, indices: Any) -> Any:
        """Where the records at ``indices`` (each in ``[0, count)``) are in ``steps`` and ``values``
        (their tiles read first when missing)."""
        import numpy as np

        indices = np.asarray(indices, dtype=np.int64)
        size = self.source.tile
        self.ensure(indices // size)
        return self._slot[indices // size] * size + indices % size

    def points(self, indices: Any) -> tuple[Any, Any]:
        """(steps, values) of the records at ``indices``."""
        at = self.position(indices)
        return self.steps[at], self.values[at]


def read_tiles(target: Path, source: Path) -> TiledMetric | None:
    """The tiles cached at ``target`` for metric file ``source``, or None when there are none or
    they no longer describe the file (grown, replaced) or are damaged."""
    try:
        unpacked = unpack_tiles(target.read_bytes())
        if unpacked is None:
            return None
        header, step_last, low, high = unpacked
        stat = source.stat()
        count, offset = header["records"], int(header["offset"])
        if (header["source_size"] != stat.st_size or header["source_mtime_ns"] != stat.st_mtime_ns
                or offset < 1 or (stat.st_size - offset) // fmt.RECORD_SIZE != count):
            return None
        with open(source, "rb") as handle:
            if zlib.crc32(handle.read(offset)) != header["source_header_crc32"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return TiledMetric(source, offset, count, header["tile"], step_last, low, high, (stat.st_dev, stat.st_ino))


def pack_tiles(header: dict[str, Any], step_last: Any, low: Any, high: Any, tile: int = TILE) -> bytes:
    """The tiles format's bytes: ``header`` (``records`` and what the source needs to be checked
    against) completed with the format, the tile size, the tile count and the arrays' CRC-32."""
    import numpy as np

    payload = (np.asarray(step_last).astype("<i8").tobytes() + np.asarray(low).astype("<f8").tobytes()
               + np.asarray(high).astype("<f8").tobytes())
    full = {"format": FORMAT, "version": VERSION, "tile": tile, **header, "tiles": len(step_last),
            "crc32": zlib.crc32(payload)}
    return orjson.dumps(full) + b"\n" + payload


def unpack_tiles(data: bytes) -> tuple[dict[str, Any], Any, Any, Any] | None:
    """(header, step_last, min, max) of tiles bytes (``pack_tiles``), or None when they are not
    tiles of this version or are damaged (their sizes disagree, or the CRC-32 does not match)."""
    import numpy as np

    try:
        newline = data.index(b"\n")
        header = orjson.loads(data[:newline])
        if not (isinstance(header, dict) and header.get("format") == FORMAT and header.get("version") == VERSION):
            return None
        tile, count, tiles = (int(header[k]) for k in ("tile", "records", "tiles"))
        payload = data[newline + 1:]
        if (tile < 1 or count < 0 or tiles != -(-count // tile) or len(payload) != 24 * tiles
                or zlib.crc32(payload) != header["crc32"]):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    header.update(tile=tile, records=count, tiles=tiles)
    arrays = np.frombuffer(payload, dtype="<f8")
    return header, np.frombuffer(payload, dtype="<i8", count=tiles), arrays[tiles:2 * tiles], arrays[2 * tiles:]
