"""Rich events: what logging images, audio and charts costs the training loop.

Run it with ``.venv/bin/python bench/bench_media.py`` (about a minute; ``--quick`` fewer
repetitions; ``--smoke`` small sizes, a few seconds). Workloads (issue 4):

1. 1,000 images of 256x256 RGB through ``log_image`` (uint8 HWC, and float32 CHW in [0, 1]).
2. One 10-minute mono clip at 44.1 kHz (float32) through ``log_audio``.
3. 100 plotly charts (the guide's faceted density heatmap) through ``log_plotly_chart``.

For each: the time spent on the caller's thread (the cost to training), and the time until
``flush()`` returns with every asset and event written. A baseline for audio writes the same
clip one sample at a time with ``struct.pack`` and ``wave``, the way Polyaxon does, on a
10-second clip (it is too slow for the whole clip).
"""

from __future__ import annotations

import os
import statistics
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path

from report import chosen_size  # bench/ is on sys.path when this runs as a script

perf = time.perf_counter
SIZES = {
    "full": {"images": 1000, "side": 256, "audio_seconds": 600, "charts": 100, "reps": 3, "baseline_seconds": 10},
    "quick": {"images": 1000, "side": 256, "audio_seconds": 600, "charts": 100, "reps": 1, "baseline_seconds": 10},
    "smoke": {"images": 20, "side": 32, "audio_seconds": 2, "charts": 3, "reps": 1, "baseline_seconds": 1},
}
RATE = 44100


def new_run(home: Path, name: str):
    from labbook.tracking.run import Run

    return Run(project="bench-media", name=name, home=home, install_handlers=False, track_code=False,
               track_env=False, track_logs=False, collect_resources=False)


def timed(home: Path, name: str, calls) -> tuple[float, float, int]:
    """(caller seconds, seconds until flushed, writer errors) for one run of ``calls(run)``."""
    run = new_run(home, name)
    start = perf()
    calls(run)
    caller = perf() - start
    run.flush()
    flushed = perf() - start
    errors = len(run._writer.errors)
    run.end()
    return caller, flushed, errors


def images_uint8(count: int, side: int):
    import numpy as np

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(count, side, side, 3), dtype=np.uint8)

    def calls(run):
        for step in range(count):
            run.log_image(frames[step], "img", step=step, dataformats="HWC")

    return calls


def images_float(count: int, side: int):
    import numpy as np

    rng = np.random.default_rng(1)
    frames = rng.random((count, 3, side, side), dtype=np.float32)

    def calls(run):
        for step in range(count):
            run.log_image(frames[step], "img", step=step)

    return calls


def audio_clip(seconds: int):
    import numpy as np

    samples = np.sin(np.arange(seconds * RATE, dtype=np.float32) * np.float32(2 * np.pi * 440 / RATE))

    def calls(run):
        run.log_audio(samples, "clip", sample_rate=RATE, step=0)

    return calls


def plotly_charts(count: int):
    import plotly.express as px

    tips = px.data.tips()
    figures = [px.density_heatmap(tips, x="total_bill", y="tip", facet_row="sex", facet_col="smoker")
               for _ in range(count)]

    def calls(run):
        for step, figure in enumerate(figures):
            run.log_plotly_chart("2d-hist", figure, step=step)

    return calls


def per_sample_wav(seconds: int, folder: Path) -> float:
    """Polyaxon's way: struct.pack and a bytes concatenation per sample."""
    import numpy as np

    samples = np.sin(np.arange(seconds * RATE, dtype=np.float32) * np.float32(2 * np.pi * 440 / RATE))
    start = perf()
    data = b""
    for sample in np.clip(samples, -1, 1):
        data += struct.pack("<h", int(32767 * sample))
    with wave.open(str(folder / "baseline.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(data)
    return perf() - start


def main() -> int:
    size = chosen_size(__doc__.splitlines()[0], SIZES)
    n, side = size["images"], size["side"]
    workloads = [
        (f"{n} images {side}x{side} uint8 HWC", n, images_uint8(n, side)),
        (f"{n} images {side}x{side} float32 CHW", n, images_float(n, side)),
        (f"audio {size['audio_seconds']} s mono float32 44.1 kHz", 1, audio_clip(size["audio_seconds"])),
        (f"{size['charts']} plotly charts (faceted heatmap)", size["charts"], plotly_charts(size["charts"])),
    ]
    print(f"labbook media benchmark, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"median of {size['reps']} run(s)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="labbook-bench-media-") as tmp:
        home = Path(tmp) / "home"
        timed(home, "warm-up", images_uint8(2, 8))  # first imports (PIL, numpy) out of the figures
        timed(home, "warm-up", plotly_charts(1))
        for label, calls_count, calls in workloads:
            results = [timed(home, label, calls) for _ in range(size["reps"])]
            caller = statistics.median(r[0] for r in results)
            flushed = statistics.median(r[1] for r in results)
            errors = sum(r[2] for r in results)
            rows.append((label, caller, caller / calls_count, flushed, errors))
        baseline = per_sample_wav(size["baseline_seconds"], Path(tmp))
    print(f"{'workload':44} {'caller s':>9} {'per call':>11} {'flushed s':>10} {'errors':>6}")
    for label, caller, per_call, flushed, errors in rows:
        print(f"{label:44} {caller:9.3f} {per_call * 1e3:8.3f} ms {flushed:10.3f} {errors:6d}")
    print(f"{'baseline: per-sample struct.pack WAV, ' + str(size['baseline_seconds']) + ' s clip':44} "
          f"{baseline:9.3f} {'':>11} {baseline:10.3f}")
    return 1 if any(row[4] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
