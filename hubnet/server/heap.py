"""The controller's start-up heap, moved out of the cyclic garbage collector's sight once the server is ready.

Why: importing FastAPI, pydantic, SQLAlchemy and the rest leaves ~150,000 container objects (functions, classes,
modules, tuples) that live as long as the process. Every full collection walks them: under a stream of registrations
that is a 90-100 ms stop of every thread every few seconds, which was nearly all of the open loop's p99 (POST ->
route in the kernel). `gc.freeze()` moves them to the permanent generation, which no collection walks; reference
counting still frees any of them that is released later. A collection first, so no cycle that is garbage already is
kept for ever.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect once, then freeze everything tracked now; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
