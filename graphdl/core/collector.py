"""Pausing Python's cyclic garbage collector while a big structure is built."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Building a big graph or program allocates many small objects that all live until it
    is done; the cyclic collector would walk the whole heap again and again meanwhile.
    Nodes hold no reference cycles, so nothing is left for it to find afterwards."""
    paused = gc.isenabled()
    if paused:
        # What is garbage now goes first (young generations: cheap): the freeze below would
        # make it old, and a node dropped inside a cycle would then outlive the young
        # collections that get_grad's default target relies on.
        gc.collect(1)
        gc.disable()
    try:
        yield
    finally:
        if paused:
            if not gc.get_freeze_count():  # (never undo a freeze of the caller's)
                # Straight to the oldest generation, unscanned: else the first collection
                # after this walks every object just built (a tenth of a second for a big program).
                gc.freeze()
                gc.unfreeze()
            gc.enable()
