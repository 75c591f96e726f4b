"""freeze_long_lived: what a run holds is out of the collector's reach, yet still freed by
reference counting, and everything is unfrozen at exit."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from tradegraph.long_lived import freeze_long_lived


class _Held:
    """A tracked object with a weak reference slot."""


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_after")
def test_objects_alive_at_the_call_are_skipped_by_later_collections() -> None:
    held = _Held()
    assert any(o is held for o in gc.get_objects())
    frozen = freeze_long_lived()
    # Frozen objects that other threads drop leave the permanent generation, so the count can
    # only have shrunk since the call returned it.
    assert 0 < gc.get_freeze_count() <= frozen
    assert not any(o is held for o in gc.get_objects())  # a full collection no longer walks it
    made_after = _Held()
    assert any(o is made_after for o in gc.get_objects())


@pytest.mark.usefixtures("unfrozen_after")
def test_a_frozen_object_is_still_freed_when_dropped() -> None:
    held = _Held()
    alive = weakref.ref(held)
    freeze_long_lived()
    del held
    assert alive() is None


def test_everything_is_unfrozen_at_exit() -> None:
    # atexit runs handlers last-registered first: the probe, registered before the freeze,
    # sees the state after freeze_long_lived's own handler.
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count()))\n"
        "from tradegraph.long_lived import freeze_long_lived\n"
        "print('frozen:', freeze_long_lived())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    frozen = int(out.split("frozen:")[1].split()[0])
    assert frozen > 0
    assert "frozen at exit: 0" in out
