"""Hop counts used by the flow figures are cached per World object, never by a recyclable id."""

import gc

from twin import Twin, load_scenario
from twin.model.world import build_world
from twin.safety import figures


def _world(name: str):
    return build_world(load_scenario(name))


def test_class_hops_are_per_world_object():
    a, b = _world("b2b4-casc1"), _world("sockshop-cpu-hog")
    assert figures.class_hops(a) == figures._count_class_hops(a)
    assert figures.class_hops(b) == figures._count_class_hops(b)
    assert figures.class_hops(a) is figures.class_hops(a)  # computed once per world


def test_a_dead_world_takes_its_entry_with_it():
    # with an id() key the entry outlived its world, and a new world at that address got its hops
    gc.collect()  # worlds earlier tests left behind go first, so only ours can leave below
    w = _world("b2b4-casc1")
    figures.class_hops(w)
    entries = len(figures._HOPS)
    del w
    gc.collect()
    assert len(figures._HOPS) == entries - 1


def test_figures_of_slim_samples_are_the_figures_of_whole_ones() -> None:
    """A future's older samples keep only what the figures read (slim_sample): the figures are
    the same to the bit, and the samples hold the WAN links' rows alone."""
    from twin.safety.figures import read_figures, slim_sample, wan_rows

    t = Twin(load_scenario("b2b4-casc1"))
    t.run(until=600)
    n0, c0 = len(t.telemetry.samples), len(t.telemetry.closed_alerts)
    whole, slim = t.fork(), t.fork()
    whole.act("drain_link", link="b2:us-east-us-central")
    slim.act("drain_link", link="b2:us-east-us-central")
    whole.run(until=1800)
    rows, _ = wan_rows(t.world)
    for until in (1200.0, 1800.0):  # slimmed between runs, as the pre-check's futures are
        slim.run(until=until)
        slim.telemetry.samples.rewrite_own(lambda s: slim_sample(s, rows))
    a = read_figures(whole, n0, 600.0, 660.0, 300.0, 7, c0)
    b = read_figures(slim, n0, 600.0, 660.0, 300.0, 7, c0)
    assert (a.values, a.plane_loss, a.alerts, a.services, a.active) == (b.values, b.plane_loss, b.alerts, b.services,
                                                                        b.active)
    own = slim.telemetry.samples.tail(len(slim.telemetry.samples) - n0)
    assert rows.size < t.world.topology.n_links
    assert all(s.truth.link.shape[0] == rows.size for s in own[:-1])  # slim, but the latest: whole
    assert own[-1].truth.link.shape[0] == t.world.topology.n_links
    assert t.telemetry.latest().truth.link.shape[0] == t.world.topology.n_links  # the present's own untouched


def test_rewrite_own_touches_only_the_logs_own_items_once() -> None:
    from twin.telemetry.history import History

    parent: History[int] = History()
    for i in range(3):
        parent.append(i)
    child = parent.fork()
    for i in range(3, 7):
        child.append(i)
    calls = []

    def tenfold(x: int) -> int:
        calls.append(x)
        return 10 * x

    child.rewrite_own(tenfold)
    child.rewrite_own(tenfold)
    assert list(child) == [0, 1, 2, 30, 40, 50, 6] and calls == [3, 4, 5]
    child.append(7)
    child.rewrite_own(tenfold, keep_last=0)
    assert list(child) == [0, 1, 2, 30, 40, 50, 60, 70] and list(parent) == [0, 1, 2]
