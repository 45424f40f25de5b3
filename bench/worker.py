"""What every fresh-process worker of bench_fresh.py shares (standard library only: it is
imported by the peers' workers too, in their own environments).

A worker is run as ``python bench/<worker>.py '<json spec>'``: it makes one measurement, the
task ``spec["task"]``, in the folder ``spec["root"]``, and prints each figure as one JSON line.
"""

import json
import os
import resource
import sys
import time

perf = time.perf_counter


def emit(figure, value, **extra):
    print(json.dumps({"figure": figure, "value": value, **extra}), flush=True)


def peak_mb():
    """The process's peak resident set size in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(tasks, prepare=None):
    """Run the task the spec names; ``prepare(spec)`` first (imports, not timed)."""
    spec = json.loads(sys.argv[1])
    os.chdir(spec["root"])
    if prepare is not None:
        prepare(spec)
    tasks[spec["task"]](spec, spec["root"])
