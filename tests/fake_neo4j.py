"""A Neo4j driver that records every statement and its parameters and answers from a script,
for fast unit tests of the graph layer beside the end-to-end tests on the real server (as the
Neo4j Graph Data Science client's unit tests do with their query runner).

``RecordingDriver(answers)`` takes ``answers``: a list of ``(needle, rows)`` pairs; a statement
containing ``needle`` returns ``rows`` (a list of dicts, or a callable of the parameters giving
one). Every statement lands in ``driver.calls`` as a :class:`Call`, with whether it ran in a
read or a write transaction. ``EXPLAIN`` statements answer a read plan (query type ``r``)
unless ``plan`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Rows = list[dict[str, Any]] | Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass
class Call:
    """One statement as the server would have received it."""

    text: str
    params: dict[str, Any]
    mode: str  # "read" | "write" | "auto"


class FakeRecord(dict):
    """A record: a dict that also answers ``values()`` and ``data()`` like the driver's."""

    def data(self) -> dict[str, Any]:
        return dict(self)


@dataclass
class FakeSummary:
    query_type: str = "r"


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]], plan: str) -> None:
        self._rows = [FakeRecord(r) for r in rows]
        self._plan = plan

    def __iter__(self) -> Iterator[FakeRecord]:
        return iter(self._rows)

    def keys(self) -> list[str]:
        return list(self._rows[0]) if self._rows else []

    def values(self) -> list[list[Any]]:
        return [list(r.values()) for r in self._rows]

    def data(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rows]

    def single(self) -> FakeRecord | None:
        return self._rows[0] if self._rows else None

    def consume(self) -> FakeSummary:
        return FakeSummary(self._plan)


@dataclass
class RecordingDriver:
    answers: list[tuple[str, Rows]] = field(default_factory=list)
    plan: str = "r"
    calls: list[Call] = field(default_factory=list)
    #: Raise this (once) when a statement contains the key.
    failures: dict[str, Exception] = field(default_factory=dict)

    def session(self, **_options: Any) -> FakeSession:
        return FakeSession(self)

    def answer(self, text: str, params: dict[str, Any], mode: str) -> FakeResult:
        self.calls.append(Call(text, dict(params), mode))
        for needle, error in list(self.failures.items()):
            if needle in text:
                del self.failures[needle]
                raise error
        for needle, rows in self.answers:
            if needle in text:
                return FakeResult(rows(params) if callable(rows) else rows, self.plan)
        return FakeResult([], self.plan)

    def statements(self, needle: str = "") -> list[Call]:
        """The recorded calls whose text contains ``needle``."""
        return [c for c in self.calls if needle in c.text]

    def close(self) -> None:
        pass


class FakeTx:
    def __init__(self, driver: RecordingDriver, mode: str) -> None:
        self._driver, self._mode = driver, mode

    def run(self, text: str, params: dict[str, Any] | None = None, **kw: Any) -> FakeResult:
        return self._driver.answer(text, {**(params or {}), **kw}, self._mode)


class FakeSession:
    def __init__(self, driver: RecordingDriver) -> None:
        self._driver = driver

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def run(self, text: str, params: dict[str, Any] | None = None, **kw: Any) -> FakeResult:
        return self._driver.answer(text, {**(params or {}), **kw}, "auto")

    def execute_read(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return work(FakeTx(self._driver, "read"), *args, **kwargs)

    def execute_write(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return work(FakeTx(self._driver, "write"), *args, **kwargs)
