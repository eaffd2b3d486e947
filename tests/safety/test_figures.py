"""Hop counts used by the flow figures are cached per World object, never by a recyclable id."""

import gc

from twin import load_scenario
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
