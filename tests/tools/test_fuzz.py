"""Malformed tool calls never raise: they return ok=False with an error and cost 5 simulated seconds."""

from __future__ import annotations

from twin.tools.toolbox import sandbox_of

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.tools import Toolbox, default_registry
from twin.tools.toolbox import BAD_CALL_S

NAMES = default_registry().names()
TARGETED = [t.name for t in default_registry() if t.target]
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=3), max_leaves=6)
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def box_factory(twin_12m):
    return lambda: Toolbox(twin_12m.fork())


def _bad(result, box, t0) -> None:
    assert not result.ok
    assert isinstance(result.error, str) and result.error
    assert sandbox_of(box).now - t0 == BAD_CALL_S
    assert box.mitigations_applied == []


@fuzz
@given(name=st.text(max_size=30).filter(lambda s: s not in NAMES), args=json_values)
def test_unknown_tool_names(box_factory, name, args):
    box = box_factory()
    t0 = sandbox_of(box).now
    result = box.call(name, args)
    _bad(result, box, t0)
    assert set(result.allowed) == set(NAMES)


@fuzz
@given(name=st.sampled_from(NAMES), key=st.text(max_size=12), value=json_values)
def test_unknown_argument_names(box_factory, name, key, value):
    box = box_factory()
    if key in box.registry.get(name).parameters["properties"]:
        return
    t0 = sandbox_of(box).now
    _bad(box.call(name, {key: value}), box, t0)


@fuzz
@given(name=st.sampled_from(TARGETED), value=st.text(max_size=40))
def test_unknown_entities(box_factory, name, value):
    box = box_factory()
    if value in box.targets(name):
        return
    tool = box.registry.get(name)
    t0 = sandbox_of(box).now
    _bad(box.call(name, {tool.target: value}), box, t0)


@fuzz
@given(name=st.sampled_from(NAMES), data=st.data())
def test_ill_typed_arguments(box_factory, name, data):
    box = box_factory()
    props = box.registry.get(name).parameters["properties"]
    if not props:
        return
    key = data.draw(st.sampled_from(sorted(props)))
    want = props[key].get("type")
    wrong = {"string": st.integers() | st.none() | st.lists(st.text(), max_size=2),
             "integer": st.text(max_size=5) | st.none() | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
             "number": st.text(max_size=5) | st.none() | st.booleans()}[want]
    t0 = sandbox_of(box).now
    _bad(box.call(name, {key: data.draw(wrong)}), box, t0)


@fuzz
@given(name=st.one_of(st.sampled_from(NAMES), st.text(max_size=10), st.integers(), st.none()),
       args=st.one_of(json_values, st.dictionaries(st.text(max_size=10), json_values, max_size=4)))
def test_anything_at_all_never_raises(box_factory, name, args):
    box = box_factory()
    result = box.call(name, args)
    assert result.ok or (result.error and result.summary.startswith("error"))
    assert sandbox_of(box).now > 720.0
