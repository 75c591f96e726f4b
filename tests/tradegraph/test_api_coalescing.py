"""Stored-score reads that wait for the same moment share one round trip, and each gets its own
rows and its own copy of an error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from tradegraph.api.coalescing import ReadCoalescer

AS_OF = pd.Timestamp("2026-01-01", tz="UTC")


class GatedFetch:
    """A fetch that records its calls and blocks the first one until ``release`` is set (so
    that other requests queue up behind a read in flight); raises while ``fail`` is true."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], pd.Timestamp | None]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def __call__(self, ids: list[str], as_of: pd.Timestamp | None) -> list[dict[str, object]]:
        self.calls.append((list(ids), as_of))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if self.fail:
            raise ConnectionError("the graph is gone")
        return [{"business_id": i, "as_of": as_of, "pd": float(len(i))} for i in ids]


def _wait_queued(reads: ReadCoalescer, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(reads._queue) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(reads._queue) == n


def test_a_lone_read_goes_straight_to_the_graph() -> None:
    fetch = GatedFetch()
    fetch.release.set()
    rows = ReadCoalescer(fetch).read(["A", "BB"], None)
    assert fetch.calls == [(["A", "BB"], None)]
    assert [r["business_id"] for r in rows] == ["A", "BB"] and rows[1]["pd"] == 2.0


def test_reads_queued_behind_one_in_flight_share_one_read_per_score_date() -> None:
    fetch = GatedFetch()
    reads = ReadCoalescer(fetch)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(reads.read, ["A"], None)
        assert fetch.entered.wait(10)
        queued = []
        for ids, as_of in ((["B", "A"], None), (["C"], None), (["B"], AS_OF), (["DD", "B"], AS_OF)):
            queued.append(pool.submit(reads.read, ids, as_of))
            _wait_queued(reads, len(queued))  # queued in this order
        fetch.release.set()
        answers = [f.result(10) for f in queued]
    assert first.result()[0]["business_id"] == "A"
    # One read for the first request, then one per score date for the four queued behind it.
    assert fetch.calls == [(["A"], None), (["B", "A", "C"], None), (["B", "DD"], AS_OF)]
    assert [[r["business_id"] for r in rows] for rows in answers] == [
        ["B", "A"],
        ["C"],
        ["B"],
        ["DD", "B"],
    ]
    assert all(r["as_of"] == AS_OF for r in answers[2] + answers[3])
    answers[0][0]["pd"] = -1.0  # each request owns its rows
    assert answers[3][1]["pd"] == 1.0


def test_a_failed_read_fails_every_request_waiting_on_it_and_the_next_read_works() -> None:
    fetch = GatedFetch(fail=True)
    reads = ReadCoalescer(fetch)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(reads.read, ["A"], None)
        assert fetch.entered.wait(10)
        queued = []
        for i in ("B", "C"):
            queued.append(pool.submit(reads.read, [i], None))
            _wait_queued(reads, len(queued))
        fetch.release.set()
        errors = []
        for future in (first, *queued):
            with pytest.raises(ConnectionError, match="the graph is gone") as caught:
                future.result(10)
            errors.append(caught.value)
    assert len({id(e) for e in errors[1:]}) == 2  # a copy per waiting thread
    fetch.fail = False
    assert reads.read(["E"], None)[0]["business_id"] == "E"  # not stuck after the failure


def test_merged_reads_stay_within_the_id_bound() -> None:
    fetch = GatedFetch()
    reads = ReadCoalescer(fetch, max_ids=3)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(reads.read, ["A"], None)
        assert fetch.entered.wait(10)
        queued = []
        for i in ("B", "C", "D"):
            queued.append(pool.submit(reads.read, [i, i + "x"], None))
            _wait_queued(reads, len(queued))
        fetch.release.set()
        for future in (first, *queued):
            future.result(10)
    assert [len(ids) for ids, _ in fetch.calls] == [1, 2, 2, 2]
