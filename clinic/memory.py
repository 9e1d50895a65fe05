"""How a long-running process of the app treats Python's garbage collector.

A request that builds many objects (thirty open days of availability are ~13,000 slots) sets off the
cyclic collector, and a full collection walks every object in the process, Django's own included:
pauses of 40-70 ms, the p95 of such a request. What the process loaded to start (modules, models,
settings) lives as long as it does, so it is moved out of the collector's sight once, after start-up
(`gc.freeze`); collections then walk only what requests made. `bench/availability.py` shows the effect.
"""

import gc


def freeze_startup_objects() -> None:
    """Collect what start-up left as garbage, then exempt everything still alive from collection."""
    gc.collect()
    gc.freeze()
