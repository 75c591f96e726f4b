"""Keep Python's cyclic garbage collector off what a run holds for its whole life.

A full collection walks every tracked object. The imports alone (torch, pandas, LightGBM,
the Neo4j driver) leave about 455,000 of them, so each full collection takes 0.25-0.3 s on a
2-core machine (up to 0.4 s once a model is trained in the same process), and scoring the
default marketplace's book allocates enough (reasons, sentences, result rows) to set one off
every run: an eighth to a fifth of the scoring time (``benchmarks/score_benchmark.py
--unfrozen-reference`` times both in the same rounds). None of those objects is ever garbage
while the run lasts.
"""

from __future__ import annotations

import atexit
import gc
import logging

logger = logging.getLogger(__name__)

_unfreeze_registered = False


def freeze_long_lived() -> int:
    """Move every object alive now into the collector's permanent generation
    (:func:`gc.freeze`), which later collections skip, and unfreeze them at exit.

    Call it once the run holds what it keeps to its end: its imports, its model and its
    snapshot. Frozen objects are still freed by reference counting when dropped; only a
    reference cycle among them would outlive its use until exit. Unfreezing at exit lets the
    interpreter's last collection reach them, so extension modules that check for leaks at
    shutdown (nanobind's) see them freed. Returns how many objects were frozen as it returned
    (frozen objects dropped later leave :func:`gc.get_freeze_count`)."""
    global _unfreeze_registered
    gc.freeze()
    if not _unfreeze_registered:
        atexit.register(gc.unfreeze)
        _unfreeze_registered = True
    frozen = gc.get_freeze_count()
    logger.debug("%d long-lived objects moved out of the garbage collector's reach", frozen)
    return frozen
