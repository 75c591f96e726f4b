"""Concurrent stored-score reads share one Neo4j round trip.

A stored score is one small read, and on a small machine the fixed cost of a Bolt transaction
(driver and server) was most of a request's CPU: with 8 clients, three quarters of the time
went to round trips that each fetched one row. :class:`ReadCoalescer` batches them the way a
DataLoader does, without a timer: a request that finds no read in flight reads at once (a lone
request is never delayed); requests that arrive while a read is in flight queue up, and the
first of them, once that read is done, reads for all of them in one ``UNWIND`` per score date.
Every request is still answered by a live read of its own moment, so a stopped Neo4j is still
every waiting request's error (the API's 503), and a score written a moment ago is seen.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Row = dict[str, Any]
#: ``(ids, as_of) -> one row per id, in order, each with its ``business_id``.
Fetch = Callable[[list[str], pd.Timestamp | None], list[Row]]

#: At most this many ids in one coalesced read (a larger request is read on its own).
MAX_COALESCED_IDS = 2_000


@dataclass(eq=False)
class _Request:
    ids: list[str]
    as_of: pd.Timestamp | None
    #: Set when the request is answered (``rows`` or ``error``) or when it is its turn to read.
    turn: threading.Event = field(default_factory=threading.Event)
    rows: list[Row] | None = None
    error: BaseException | None = None


class ReadCoalescer:
    """Reads through ``fetch``, merging the requests that wait for the same moment.

    ``read(ids, as_of)`` returns what ``fetch(ids, as_of)`` would; ``max_ids`` bounds the ids
    of one merged read. Thread-safe; the reading is done by the callers' own threads.
    """

    def __init__(self, fetch: Fetch, *, max_ids: int = MAX_COALESCED_IDS) -> None:
        self._fetch = fetch
        self._max_ids = max_ids
        self._lock = threading.Lock()
        self._queue: deque[_Request] = deque()
        self._busy = False

    def read(self, ids: list[str], as_of: pd.Timestamp | None) -> list[Row]:
        """One row per id, in order, from a read that started after this call did."""
        request = _Request(list(ids), as_of)
        with self._lock:
            self._queue.append(request)
            lead, self._busy = not self._busy, True
        if not lead:
            request.turn.wait()
        if request.rows is None and request.error is None:
            self._serve()  # this request heads the queue: read for it and those behind it
        if request.error is not None:
            raise _copy(request.error)
        assert request.rows is not None
        return request.rows

    def _serve(self) -> None:
        with self._lock:
            batch = [self._queue.popleft()]
            size = len(batch[0].ids)
            while self._queue and size + len(self._queue[0].ids) <= self._max_ids:
                size += len(self._queue[0].ids)
                batch.append(self._queue.popleft())
        try:
            self._answer(batch)
        except BaseException as err:  # every request of the batch gets the read's error
            for request in batch:
                request.error = err
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].turn.set()  # the next in line reads for those behind it
                else:
                    self._busy = False
            for request in batch:
                request.turn.set()

    def _answer(self, batch: list[_Request]) -> None:
        for as_of in dict.fromkeys(r.as_of for r in batch):
            group = [r for r in batch if r.as_of == as_of]
            ids = list(dict.fromkeys(i for r in group for i in r.ids))
            by_id = {row["business_id"]: row for row in self._fetch(ids, as_of)}
            for request in group:
                request.rows = [dict(by_id[i]) for i in request.ids]


def _copy(error: BaseException) -> BaseException:
    """A copy to raise in each waiting thread (one exception object raised in several threads
    at once would share, and overwrite, its traceback)."""
    try:
        copied = copy.copy(error)
    except Exception:  # an exception that cannot be copied is raised as it is
        return error
    copied.__cause__ = error
    return copied
