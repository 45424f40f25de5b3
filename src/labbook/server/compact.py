"""Metric series kept as chunks in an object store, and their compaction into Parquet.

A metric series of a run held by ``ChunkedFiles`` is the set of its ``.lbm`` files
(``events/metric/<encoded name>/<writer>.lbm``), each a header line and 24-byte records, stored as
many chunk objects. Reading it raw means fetching every chunk, parsing and merging the writers.

Compaction (``compact_series``, run by ``labbook server --role worker``) writes the merged series
once, sorted by step then time, as three objects (format 2; format 1 had the first two):

- ``<gen>.points.parquet``: columns ``step``, ``timestamp`` (µs since the epoch), ``value`` (and
  ``rank`` when several ranks wrote), in row groups of 65,536 points, LZ4, integers delta-coded;
- ``<gen>.tiles.parquet``: for tiles of 64 and 4,096 consecutive points, each tile's first and
  last step and time, first, min, max and last value and count (min/max skip NaN);
- ``<gen>.records``: every point's step and value as fixed-width records (``RECORDS_DTYPE``:
  int64 and float64, little-endian, 16 bytes), so a chart reads the records of a few tiles by
  ranged reads rather than decoding the Parquet columns.

and records them in ``series_compactions`` with the committed length of each file it was built
from (``covers``: ``{"files": {path: length}, "format": 2, "records_object": key}``). A reader
uses the compacted form only while those lengths are still the files' committed lengths, so it
answers exactly what the raw chunks would (``read_series``). A format-2 series charts over steps
from its 64-point tiles plus the records of the tiles where a bound or a bucket edge falls
(``CompactedRecords`` for ``labbook.server.downsample.downsample_tiled``); its Parquet points
are decoded only when a caller asks for them. A format-1 series (no ``format`` in ``covers``)
is read whole from its Parquet, its buckets' min and max from the tiles
(``labbook.server.downsample.Tiles``).
"""

from __future__ import annotations

import io
import os
import secrets
from datetime import datetime, timezone
from functools import partial
from typing import Any, cast

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.catalog.chunks import ChunkedFiles, check_run, chunk_lost
from labbook.errors import EventFileError, NotFoundError
from labbook.store import format as fmt
from labbook.store import tiles as tiling
from labbook.store.events import MetricSeries, merge_metric_parts
from labbook.store.names import decode_name, encode_name
from labbook.store.tiles import TiledRecords

TILE_SIZES = (64, 4096)
ROW_GROUP = 65_536
FORMAT = 2  # 1: Parquet points and tiles; 2: and the fixed-width records object
RECORDS_DTYPE = [("step", "<i8"), ("value", "<f8")]


class StoredSeries(MetricSeries):
    """A metric series read from the object store; ``tiles`` (64-point min/max) when it was
    read from its compacted form, else None. ``version`` changes whenever the series grows.

    Read from its compacted form, its timestamps are decoded when first used (a chart over
    steps never needs them: a third of the decoding of a cold read)."""

    tiles: Any = None
    version: tuple = ()
    compacted: bool = False
    _timestamps: Any = None
    _read_timestamps: Any = None

    @property  # type: ignore[override]
    def timestamps(self) -> Any:
        if self._timestamps is None and self._read_timestamps is not None:
            self._timestamps = self._read_timestamps()
            self._read_timestamps = None
        return self._timestamps

    @timestamps.setter
    def timestamps(self, value: Any) -> None:
        self._timestamps = value


def series_files(files: dict[str, int], name: str, kind: str = "metric") -> dict[str, int]:
    """The files of one series among a run's ``files`` (path -> committed length)."""
    prefix = f"events/{kind}/{encode_name(name)}/"
    return {path: length for path, length in files.items()
            if path.startswith(prefix) and path.endswith(".lbm") and "/" not in path[len(prefix):]}


def metric_names(files: dict[str, int]) -> list[str]:
    """Names of the metric series among a run's files."""
    names = set()
    for path in files:
        parts = path.split("/")
        if len(parts) == 4 and parts[:2] == ["events", "metric"] and parts[3].endswith(".lbm"):
            name = decode_name(parts[2])
            if name is not None:
                names.add(name)
    return sorted(names)


def _rank(data: bytes | bytearray) -> int:
    import orjson

    try:
        return int(orjson.loads(data[:data.index(b"\n")]).get("rank", 0))
    except (ValueError, AttributeError):
        return 0


def read_raw(store: ChunkedFiles, run_uuid: str, name: str, files: dict[str, int] | None = None,
             later: Any = None) -> StoredSeries:
    """The series read from its chunks: what ``labbook.get_run(...).metric(name)`` gives for the
    same files in a run folder. ``later``: when given, a function that runs its argument after
    this read (or now), which then keeps the tiles of a one-file series (``keep_tiles``)."""
    import numpy as np

    paths = series_files(store.files(run_uuid) if files is None else files, name)
    if not paths:
        raise NotFoundError(f"Run {run_uuid} has no metric {name!r} in the store {store.root_url}.")
    parts, ranks, skipped = [], [], 0
    for path, length in sorted(paths.items()):
        data = store.read_buffer(run_uuid, path, 0, length)
        records, damaged = fmt.parse_metric_records(cast(bytes, data))  # reads a bytearray alike
        if later is not None and len(paths) == 1 and not damaged:
            later(partial(keep_tiles, store, run_uuid, path, data.find(b"\n") + 1, length, records))
        parts.append(records)
        ranks.append(np.full(len(records), _rank(data), dtype=np.int32))
        skipped += damaged
    merged = merge_metric_parts(name, parts, ranks, skipped)
    series = StoredSeries(name, merged.steps, merged.values, merged.timestamps, merged.ranks, merged.skipped)
    series.version = tuple(sorted(paths.items()))
    return series


def _tiles_table(series: MetricSeries):
    import numpy as np
    import pyarrow as pa

    columns: dict[str, list] = {k: [] for k in ("size", "index", "step_first", "step_last", "time_first",
                                                "time_last", "first", "min", "max", "last", "count")}
    n = len(series)
    times = series.timestamps.astype("datetime64[us]").astype(np.int64)
    values = np.asarray(series.values, dtype=np.float64)
    for size in TILE_SIZES:
        starts = np.arange(0, n, size)
        if not len(starts):
            continue
        lasts = np.minimum(starts + size, n) - 1
        with np.errstate(invalid="ignore"):
            low, high = np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
        for key, column in (("size", np.full(len(starts), size)), ("index", starts // size),
                            ("step_first", series.steps[starts]), ("step_last", series.steps[lasts]),
                            ("time_first", times[starts]), ("time_last", times[lasts]),
                            ("first", values[starts]), ("min", low), ("max", high), ("last", values[lasts]),
                            ("count", lasts - starts + 1)):
            columns[key].append(column)
    return pa.table({k: (np.concatenate(v) if v else np.empty(0)) for k, v in columns.items()})


def _parquet(table) -> bytes:
    """Parquet for fast reads: no dictionaries, delta-coded integers, LZ4 (1M points: about
    7.7 MB and 16 ms to read, against 24 MB of raw records and 120-240 ms with zstd)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    deltas = {f.name: "DELTA_BINARY_PACKED" for f in table.schema if pa.types.is_int64(f.type)}
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=ROW_GROUP, compression="lz4", use_dictionary=False,
                   column_encoding=deltas)
    return sink.getvalue()


def compact_series(store: ChunkedFiles, run_uuid: str, name: str) -> dict[str, Any]:
    """Write the series' compacted form and record it (replacing an older one); returns the record."""
    import numpy as np
    import pyarrow as pa

    run_uuid = check_run(run_uuid)
    series = read_raw(store, run_uuid, name)
    columns = {"step": series.steps, "timestamp": series.timestamps.astype("datetime64[us]").astype(np.int64),
               "value": series.values}
    if series.ranks is not None:
        columns["rank"] = series.ranks
    points = pa.table(columns)
    points = points.replace_schema_metadata({"labbook.skipped": str(series.skipped), "labbook.name": name})
    generation = secrets.token_hex(6)
    base = store.object_path("compacted", run_uuid, "metric", encode_name(name), generation)
    points_key, tiles_key, records_key = f"{base}.points.parquet", f"{base}.tiles.parquet", f"{base}.records"
    records = np.empty(len(series), dtype=RECORDS_DTYPE)
    records["step"], records["value"] = series.steps, series.values
    store.put_object(points_key, _parquet(points))
    store.put_object(tiles_key, _parquet(_tiles_table(series)))
    store.put_object(records_key, records.tobytes())
    record = {"run_uuid": run_uuid, "kind": "metric", "name": name, "points_object": points_key,
              "tiles_object": tiles_key, "points": len(series),
              "covers": {"files": dict(series.version), "format": FORMAT, "records_object": records_key},
              "created_at": datetime.now(timezone.utc).replace(tzinfo=None)}
    T = schema.series_compactions
    where = (T.c.run_uuid == run_uuid, T.c.kind == "metric", T.c.name == name)
    with store.engine.begin() as conn:
        old = conn.execute(sa.select(T.c.points_object, T.c.tiles_object, T.c.covers).where(*where)).first()
        conn.execute(T.delete().where(*where))
        conn.execute(T.insert().values(**record))
    if old is not None:  # a reader holding the old names falls back to the chunks (see read_series)
        for key in (old.points_object, old.tiles_object, (old.covers or {}).get("records_object")):
            if key:
                store.delete_object(key)
    return record


def read_compacted(store: ChunkedFiles, run_uuid: str, name: str,
                   files: dict[str, int] | None = None) -> StoredSeries | TiledStoredSeries | None:
    """The compacted series, or None when there is none or the series grew since."""
    import pyarrow.parquet as pq

    from labbook.server.downsample import Tiles

    T = schema.series_compactions
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(T).where(T.c.run_uuid == run_uuid, T.c.kind == "metric",
                                              T.c.name == name)).first()
    if row is None:
        return None
    current = series_files(store.files(run_uuid) if files is None else files, name)
    if dict(row.covers.get("files", {})) != current:
        return None
    version = tuple(sorted(current.items()))
    try:
        # ParquetFile rather than read_table: no dataset machinery (which imports pyarrow.compute)
        tiles = pq.ParquetFile(io.BytesIO(store.get_object(row.tiles_object))).read(
            columns=["size", "step_last", "min", "max"])
        finest = _numpy(tiles, "size") == TILE_SIZES[0]
        records_key = row.covers.get("records_object") if row.covers.get("format", 1) >= 2 else None
        if records_key:
            tiled = CompactedRecords(store, records_key, int(row.points), TILE_SIZES[0],
                                     _numpy(tiles, "step_last")[finest], _numpy(tiles, "min")[finest],
                                     _numpy(tiles, "max")[finest])
            return TiledStoredSeries(name, tiled, lambda: _parquet_series(store, row.points_object, name), version)
        series = _parquet_series(store, row.points_object, name)
    except (FileNotFoundError, ValueError):  # replaced by a newer compaction while we read; damaged tiles
        return None
    series.tiles = Tiles(TILE_SIZES[0], _numpy(tiles, "min")[finest], _numpy(tiles, "max")[finest])
    series.version = version
    return series


def _parquet_series(store: ChunkedFiles, key: str, name: str) -> StoredSeries:
    """The series in the compacted points object ``key``, its timestamps decoded when first used."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(io.BytesIO(store.get_object(key)))
    names = parquet.schema_arrow.names
    points = parquet.read(columns=[c for c in ("step", "value", "rank") if c in names])
    meta = parquet.schema_arrow.metadata or {}
    ranks = _numpy(points, "rank") if "rank" in names else None
    series = StoredSeries(name, _numpy(points, "step"), _numpy(points, "value"), None, ranks,
                          int(meta.get(b"labbook.skipped", b"0")))
    series._read_timestamps = lambda: _numpy(parquet.read(columns=["timestamp"]), "timestamp").view("datetime64[us]")
    series.compacted = True
    return series


class CompactedRecords(TiledRecords):
    """A format-2 compacted series' records object (``RECORDS_DTYPE``) as ``labbook.store.tiles.
    TiledRecords``: its 64-point tiles from the tiles object, the records of the tiles a chart
    asks for by ranged reads of one open object (on an object store, its read-ahead joins
    nearby ranges into a few requests)."""

    def __init__(self, store: ChunkedFiles, key: str, count: int, tile: int, step_last: Any, low: Any,
                 high: Any) -> None:
        import numpy as np

        self.store = store
        self.key = key
        if not (len(step_last) == len(low) == len(high) == -(-count // tile)):
            raise EventFileError(f"Compacted tiles {key!r} hold {len(step_last)} tiles for {count} points; "
                             "compact the series again (labbook server --role worker).")
        super().__init__(count, tile, np.ascontiguousarray(step_last, dtype=np.int64), low, high,
                         np.dtype(RECORDS_DTYPE))

    def read_spans(self, spans: list[tuple[int, int, int]], buffer: memoryview) -> None:
        if self.store.local:  # a folder: each span read straight into the buffer
            with open(self.key, "rb") as handle:
                fd = handle.fileno()
                got = [os.preadv(fd, [buffer[at:at + size]], start) for start, size, at in spans]
        else:
            got = []
            with self.store.fs.open(self.key, "rb") as handle:
                for start, size, at in spans:
                    handle.seek(start)
                    data = handle.read(size)
                    buffer[at:at + len(data)] = data
                    got.append(len(data))
        for (start, size, _), read in zip(spans, got):
            if read != size:
                raise EventFileError(f"Compacted records {self.key!r}: {read} of {size} bytes at {start}; "
                              "compact the series again (labbook server --role worker).")


class TiledStoredSeries:
    """A series known by its tiles: ``tiled`` (``CompactedRecords`` for a format-2 compacted series,
    ``ChunkRecords`` for one read from its chunks' tiles) for charts over steps, its points
    (``steps``, ``values``, ``timestamps``, ``ranks``, ``skipped``) read when first used (``load``:
    from the Parquet object, or the chunks)."""

    def __init__(self, name: str, tiled: TiledRecords, load: Any, version: tuple, compacted: bool = True) -> None:
        from labbook.server.downsample import Tiles

        self.compacted = compacted
        self.name = name
        self.tiled = tiled
        self.tiles = Tiles(tiled.tile, tiled.min, tiled.max)
        self.version = version
        self._load = load
        self._whole: StoredSeries | None = None

    def _points(self) -> StoredSeries:
        with self.tiled.lock:
            if self._whole is None:
                self._whole = self._load()
            return self._whole

    steps = property(lambda self: self._points().steps)
    values = property(lambda self: self._points().values)
    timestamps = property(lambda self: self._points().timestamps)
    ranks = property(lambda self: self._points().ranks)
    skipped = property(lambda self: self._points().skipped)

    def __len__(self) -> int:
        return self.tiled.count

    def to_pandas(self) -> Any:
        return self._points().to_pandas()


def warm_up(store: ChunkedFiles) -> None:
    """Compact a small series in memory and read it back, and look up one that does not exist:
    loads and runs, at server start, what a first read of a compacted series would (Parquet's
    reader and thread pool, the catalog statements; see ``ServerData.warm_up``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 5000
    series = MetricSeries("warm-up", np.arange(n), np.zeros(n), np.zeros(n, dtype="datetime64[us]"))
    points = pa.table({"step": series.steps, "timestamp": np.zeros(n, dtype=np.int64), "value": series.values})
    for table, columns in ((points, ["step", "value"]), (_tiles_table(series), ["size", "min", "max"])):
        read = pq.ParquetFile(io.BytesIO(_parquet(table))).read(columns=columns)
        for column in columns:
            _numpy(read, column)
    nobody = "0" * 32
    series_state(store, nobody, "warm-up")
    read_compacted(store, nobody, "warm-up", {})


def _numpy(table, name: str):
    """A column without nulls as a numpy array, from its buffer (``to_numpy`` imports pandas,
    a second on a cold server)."""
    import numpy as np

    column = table.column(name).combine_chunks()
    assert column.null_count == 0, f"column {name} has nulls"
    dtype = np.dtype(column.type.to_pandas_dtype())
    return np.frombuffer(column.buffers()[1], dtype=dtype, count=len(column), offset=column.offset * dtype.itemsize)


def read_series(store: ChunkedFiles, run_uuid: str, name: str, files: dict[str, int] | None = None,
                later: Any = None) -> StoredSeries | TiledStoredSeries:
    """The series from its compacted form when current, else from its chunks' tiles when kept
    (``read_chunk_tiles``), else from its chunks: the same points. ``files``: the run's files and
    committed lengths when known (``series_state`` read them). ``later``: a function that runs its
    argument after this read returns (the server's background thread), where the tiles of a series
    read from its chunks are kept; None: kept now."""
    if files is None:
        files = store.files(check_run(run_uuid))
    later = later or _run_now
    return (read_compacted(store, run_uuid, name, files) or read_chunk_tiles(store, run_uuid, name, files, later)
            or read_raw(store, run_uuid, name, files, later))


# -- the tiles of a series read from its chunks ---------------------------------------------------

TILES_REWRITE = 64  # new whole tiles past the kept ones after which a reader keeps the tiles again


def tiles_key(store: ChunkedFiles, run_uuid: str, path: str) -> str:
    """The object keeping the tiles of the run's file ``path`` (``labbook.store.tiles``' format)."""
    return store.object_path("tiles", run_uuid, path + tiling.EXT)


def keep_tiles(store: ChunkedFiles, run_uuid: str, path: str, offset: int, length: int, records: Any) -> bool:
    """Write the tiles of the whole tiles among ``records`` (the file's records, the first at byte
    ``offset``, read when ``length`` bytes of it were committed) to ``tiles_key``; False (nothing
    written) when they are not plain 24-byte records from ``offset`` to ``length`` (a torn header
    or last record, damaged records), not in step order, or fewer than a tile.

    The object names the file's chunk holding its last tiled byte: committed bytes never change,
    so tiles of a file's first records stay true while that chunk is the file's (see
    ``read_chunk_tiles``)."""
    if offset <= 0 or (length - offset) % fmt.RECORD_SIZE or len(records) != (length - offset) // fmt.RECORD_SIZE:
        return False
    count = len(records) // tiling.TILE * tiling.TILE
    if not count or not tiling.in_step_order(records["step"], records["timestamp"]):
        return False
    step_last, low, high = tiling.tile_arrays(records["step"][:count], records["value"][:count])
    return _put_tiles(store, run_uuid, path, offset, step_last, low, high, int(records["timestamp"][count - 1]))


def _put_tiles(store: ChunkedFiles, run_uuid: str, path: str, offset: int, step_last: Any, low: Any, high: Any,
               last_time: int, chunks: list[tuple[int, int, str]] | None = None) -> bool:
    """Write whole tiles (``step_last``, ``low``, ``high``) of the file's first records, the last of
    them logged at ``last_time`` (µs), as ``keep_tiles`` describes."""
    count = len(step_last) * tiling.TILE
    end = offset + count * fmt.RECORD_SIZE
    holder = [key for start, size, key in (chunks or store.chunks(run_uuid, path, end - 1, end))
              if start < end <= start + size]
    if not count or not holder:
        return False
    store.put_object(tiles_key(store, run_uuid, path), tiling.pack_tiles(
        {"source": "chunks", "offset": offset, "records": count, "chunk": holder[0], "last_timestamp": last_time},
        step_last, low, high))
    return True


TILE_BYTES = TILES_REWRITE * tiling.TILE * fmt.RECORD_SIZE  # the growth after which a file's tiles are kept again


def tiles_due(offset: int, committed: int) -> bool:
    """Whether an append of a metric file from byte ``offset`` to ``committed`` crossed a multiple
    of ``TILE_BYTES``: then its kept tiles are brought up to date (``keep_growing_tiles``), about
    once per ``TILES_REWRITE`` new tiles, so a growing series' first chart finds them."""
    return committed // TILE_BYTES > offset // TILE_BYTES


def keep_growing_tiles(store: ChunkedFiles, run_uuid: str, path: str,
                       memory: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Bring the kept tiles of the one-file metric series ``path`` up to date after appends (on
    the server's background thread, off the append's path): from its kept tiles and the records
    committed since when they still describe it (``read_chunk_tiles``), else by reading it whole
    (``read_raw``) and keeping them. ``memory``: per file, the committed length when this last
    ran and when it last read the file whole. It runs again once the file has grown by an eighth
    (a chart then reads at most that eighth besides the tiles), so rewriting the tiles costs about
    eight times the tiles' size over a file's life; a file whose tiles cannot be kept (records
    out of order, damage) is read whole again only once it has doubled: at most twice its bytes."""
    parts = path.split("/")
    name = decode_name(parts[2]) if len(parts) == 4 else None
    if name is None:
        return
    files = store.files(run_uuid)
    paths = series_files(files, name)
    if list(paths) != [path]:
        return  # several writers: merged by step when read, which tiles of each cannot answer
    key, length = (run_uuid, path), paths[path]
    handled, whole_at = memory.get(key, (0, 0))
    if 8 * length < 9 * handled:
        return
    header = store.read(run_uuid, path, 0, min(length, 65_536)).find(b"\n") + 1
    if not header:
        return  # its header not all here yet
    memory[key] = (length, whole_at)
    # A syncer's append ends anywhere, often inside a record: the tiles are kept of the whole
    # records committed so far (the file as it was at a record's end: the same bytes).
    files = {**files, path: header + (length - header) // fmt.RECORD_SIZE * fmt.RECORD_SIZE}
    if read_chunk_tiles(store, run_uuid, name, files, _run_now) is not None or 2 * whole_at > length:
        return
    memory[key] = (length, length)
    read_raw(store, run_uuid, name, files, _run_now)


def _run_now(task: Any) -> None:
    task()


def read_chunk_tiles(store: ChunkedFiles, run_uuid: str, name: str, files: dict[str, int],
                     later: Any = None) -> TiledStoredSeries | None:
    """A one-file series from its kept tiles (one object) plus the records committed after them
    (read from their chunks, and their tiles made): a ``TiledStoredSeries`` whose chart over steps
    reads the records of the tiles where an edge falls, by ranged reads of the chunks. None (read
    the chunks) when the series has several files, has no kept tiles or none that still describe
    the file, or when its records are not plain records in step order (a torn last record, a
    record out of order). ``later`` keeps the tiles again when many new ones were made."""
    import numpy as np

    paths = series_files(files, name)
    if len(paths) != 1:
        return None  # several writers: their records are merged by step, which tiles of each cannot answer
    ((path, length),) = paths.items()
    try:
        unpacked = tiling.unpack_tiles(store.get_object(tiles_key(store, run_uuid, path)))
    except FileNotFoundError:
        return None
    if unpacked is None:
        return None
    header, step_last, low, high = unpacked
    try:
        offset, kept, last_time = int(header["offset"]), header["records"], int(header["last_timestamp"])
        holder = str(header["chunk"])
    except (KeyError, TypeError, ValueError):
        return None
    end = offset + kept * fmt.RECORD_SIZE
    if (header["tile"] != tiling.TILE or not kept or kept % tiling.TILE or offset < 1 or end > length
            or (length - offset) % fmt.RECORD_SIZE):
        return None
    chunks = store.chunks(run_uuid, path, 0, length)
    if not any(start < end <= start + size and key == holder for start, size, key in chunks):
        return None  # not tiles of this file (one of the same name, deleted and sent again)
    count = (length - offset) // fmt.RECORD_SIZE
    tiled = ChunkRecords(store, chunks, offset, count, step_last, low, high)
    if count > kept:  # the records committed since: read, checked to follow in order, tiled
        buffer = bytearray((count - kept) * fmt.RECORD_SIZE)
        tiled.read_spans([(kept * fmt.RECORD_SIZE, len(buffer), 0)], memoryview(buffer))
        tail = np.frombuffer(buffer, dtype=fmt.metric_dtype())
        first = (int(tail["step"][0]), int(tail["timestamp"][0]))
        if first < (int(step_last[-1]), last_time) or not tiling.in_step_order(tail["step"], tail["timestamp"]):
            return None
        more = tiling.tile_arrays(tail["step"], tail["value"])
        tiled.step_last, tiled.min, tiled.max = (np.concatenate((a, b)) for a, b in zip((step_last, low, high), more))
        tiled.held = tiled.block([])
        whole = count // tiling.TILE
        if later is not None and whole - len(step_last) >= TILES_REWRITE:  # keep them again, with these
            later(partial(_put_tiles, store, run_uuid, path, offset, tiled.step_last[:whole], tiled.min[:whole],
                          tiled.max[:whole], int(tail["timestamp"][whole * tiling.TILE - kept - 1]), chunks))
    version = tuple(sorted(paths.items()))
    return TiledStoredSeries(name, tiled, lambda: read_raw(store, run_uuid, name, dict(paths)), version,
                             compacted=False)


class ChunkRecords(TiledRecords):
    """The records of a metric file held as chunks (each chunk ``(offset, length, object)``; the
    first record at byte ``offset`` of the file) as ``labbook.store.tiles.TiledRecords``: the
    records of the tiles a chart asks for are read by ranged reads of the chunks that hold them
    (on an object store, each chunk's ranges as one request, the chunks concurrently)."""

    def __init__(self, store: ChunkedFiles, chunks: list[tuple[int, int, str]], offset: int, count: int,
                 step_last: Any, low: Any, high: Any) -> None:
        import numpy as np

        self.store = store
        self.offset = offset
        self.starts = np.array([start for start, _, _ in chunks], dtype=np.int64)
        self.ends = self.starts + np.array([size for _, size, _ in chunks], dtype=np.int64)
        self.keys = [key for _, _, key in chunks]
        super().__init__(count, tiling.TILE, np.ascontiguousarray(step_last, dtype=np.int64), low, high,
                         fmt.metric_dtype())

    def read_spans(self, spans: list[tuple[int, int, int]], buffer: memoryview) -> None:
        pieces = self._pieces(spans)
        if not self.store.local:  # an object store: one ranged request per chunk, the chunks concurrently
            self._fetch_ranges(pieces, buffer)
            return
        for chunk, items in pieces.items():  # a folder: each piece read straight into the buffer
            fd = os.open(self.keys[chunk], os.O_RDONLY)  # no file object: hundreds of chunks a chart
            try:
                short = any(os.preadv(fd, [buffer[at:at + size]], start) != size for start, size, at in items)
            finally:
                os.close(fd)
            if short:
                self._lost(chunk)

    def _fetch_ranges(self, pieces: dict[int, list[tuple[int, int, int]]], buffer: memoryview) -> None:
        order = list(pieces)
        firsts = [pieces[c][0][0] for c in order]
        found = self.store.fs.cat_ranges([self.keys[c] for c in order], firsts,
                                         [pieces[c][-1][0] + pieces[c][-1][1] for c in order], on_error="raise")
        for chunk, first, data in zip(order, firsts, found):
            for start, size, at in pieces[chunk]:
                if len(data) < start - first + size:
                    self._lost(chunk)
                buffer[at:at + size] = data[start - first:start - first + size]

    def _lost(self, chunk: int) -> None:
        raise chunk_lost(self.keys[chunk])

    def _pieces(self, spans: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int, int]]]:
        """Each chunk's pieces of ``spans`` (bytes from the first record): (where in the chunk, how
        many bytes, where in the buffer), in order; a span across chunks is cut at their edges."""
        import numpy as np

        table = np.array(spans, dtype=np.int64).reshape(-1, 3)
        low, at = table[:, 0] + self.offset, table[:, 2].copy()
        high = low + table[:, 1]
        chunk = np.searchsorted(self.ends, low, side="right")
        rounds = []
        while len(low):  # each round: the part of every span in its current chunk
            if (chunk >= len(self.keys)).any() or (self.starts[np.minimum(chunk, len(self.keys) - 1)] > low).any():
                raise EventFileError(f"No chunk holds bytes [{int(low[0])}, {int(high[-1])}) of "
                                     f"{self.keys[0].rsplit('/', 1)[0]!r}; read the series again.")
            take = np.minimum(high, self.ends[chunk]) - low
            rounds.append(np.stack((chunk, low - self.starts[chunk], take, at), axis=1))
            more = low + take < high
            low, high, at, chunk = low[more] + take[more], high[more], at[more] + take[more], chunk[more] + 1
        pieces = np.concatenate(rounds) if rounds else np.empty((0, 4), dtype=np.int64)
        pieces = pieces[np.lexsort((pieces[:, 3], pieces[:, 0]))]
        grouped: dict[int, list[tuple[int, int, int]]] = {}
        for chunk_index, start, size, where in pieces.tolist():
            grouped.setdefault(chunk_index, []).append((start, size, where))
        return grouped


def series_state(store: ChunkedFiles, run_uuid: str, name: str) -> tuple[str | None, tuple]:
    """(the run's project in the catalog, the series' version) in one connection. The version
    changes whenever the series grows or is compacted: its files' committed lengths and its
    current compaction's object; it is empty when the store holds no file of the series."""
    run_uuid = check_run(run_uuid)
    S, T, R = schema.stream_files, schema.series_compactions, schema.runs
    prefix = f"events/metric/{encode_name(name)}/"
    with store.engine.connect() as conn:
        project = conn.execute(sa.select(R.c.project).where(R.c.uuid == run_uuid)).scalar()
        found = conn.execute(sa.select(S.c.path, S.c.committed).where(
            S.c.run_uuid == run_uuid, S.c.path.startswith(prefix, autoescape=True)))
        files = tuple(sorted(series_files({p: int(n) for p, n in found}, name).items()))
        row = None if not files else conn.execute(sa.select(T.c.points_object, T.c.covers).where(
            T.c.run_uuid == run_uuid, T.c.kind == "metric", T.c.name == name)).first()
    current = row is not None and tuple(sorted(row.covers.get("files", {}).items())) == files
    return project, files + ((row.points_object,) if current else ())
