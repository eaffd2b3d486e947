"""The collector window around runs: it acts once for nested runs, restores the thresholds and
the freeze, leaves a freeze made by someone else, and garbage made inside it is still freed."""

from __future__ import annotations

import gc
import weakref

import pytest

from twin import Twin, load_scenario
from twin.sim.collect import GEN0_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def _own_freeze():
    if gc.get_freeze_count():
        pytest.skip("the interpreter already holds a freeze")
    yield
    gc.unfreeze()


def test_window_nests_and_restores():
    before = gc.get_threshold()
    with fewer_collections():
        frozen = gc.get_freeze_count()
        assert frozen > 0 and gc.get_threshold()[0] >= GEN0_THRESHOLD
        with fewer_collections():
            assert gc.get_freeze_count() == frozen
        assert gc.get_threshold()[0] >= GEN0_THRESHOLD  # the inner exit left the outer window open
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_window_restores_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with fewer_collections():
            raise RuntimeError("boom")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with fewer_collections():  # and the next window acts again
        assert gc.get_freeze_count() > 0


def test_someone_elses_freeze_is_left_alone():
    gc.freeze()
    held = gc.get_freeze_count()
    with fewer_collections():
        pass
    assert gc.get_freeze_count() == held


class _Node:
    pass


def test_garbage_made_inside_is_freed():
    with fewer_collections():
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect(0)  # a young-generation pass inside the window reaches it
        assert gone() is None


def test_a_twin_run_is_inside_the_window():
    t = Twin(load_scenario("b2b4-casc1"))
    seen = []

    def watch(env):  # a process of the twin's own environment: it runs inside Twin.run
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        yield env.timeout(60.0)
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))

    t.env.process(watch(t.env))
    before = gc.get_threshold()
    t.run(until=120.0)
    assert len(seen) == 2 and all(x >= GEN0_THRESHOLD and frozen for x, frozen in seen)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
