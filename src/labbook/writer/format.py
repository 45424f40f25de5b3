"""The event file format now lives in ``labbook.store.format`` (the store owns what is on disk);
this name stays for code that imports it from the writer."""

from labbook.store.format import *  # noqa: F401,F403
from labbook.store.format import NO_STEP, STEP_MAX, STEP_MIN  # noqa: F401 - the names most used
