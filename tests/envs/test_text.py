"""The text wrapper: text observations, tool calls by name, malformed calls answered, never raised."""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin.envs  # noqa: F401
from twin.envs.text import TextIncidentEnv, parse_action


@pytest.fixture(scope="module")
def text_env():
    env = TextIncidentEnv(scenario="b2b4-casc1", max_steps=50)
    env.reset(seed=0)
    return env


def test_reset_lists_alerts_and_tools():
    env = gym.make("twin/TextIncident-v0", max_steps=4)
    text, info = env.reset(seed=0)
    assert isinstance(text, str) and "open alerts" in text and "list_alerts" in text
    assert env.observation_space.contains(text)
    assert {s["name"] for s in info["tools"]} >= {"list_alerts", "freeze_te"}


@pytest.mark.parametrize("action", [
    {"tool": "list_alerts", "args": {}},
    '{"tool": "query_metric", "args": {"entity": "b2:us-east-us-west", "metric": "loss"}}',
    'query_metric entity="b2:us-east-us-west" metric=loss window=5m',
    "query_metric(entity=b2:us-east-us-west, metric=loss)",
    {"name": "top_links", "arguments": '{"n": 3}'},
])
def test_well_formed_calls_run(text_env, action):
    text, reward, terminated, truncated, info = text_env.step(action)
    assert info["last_result"]["ok"], info["last_result"]
    assert "last call:" in text


@pytest.mark.parametrize("action", [
    None, 3, "", "   ", "{not json", '{"tool": 3}', {"tool": "nope"}, {"tool": "drain_link", "args": {"link": "x"}},
    {"tool": "drain_link", "args": "[1,2]"}, {"tool": "drain_link", "args": {"link": ["unhashable"]}},
    'ping src_site=us-east dst_site="unterminated', "ping positional", ["list"], {"args": {}}, b"\xff\xfe",
])
def test_malformed_calls_answer_with_error_text(text_env, action):
    if text_env.core.steps >= text_env.core.max_steps - 1:
        text_env.reset(seed=0)
    text, reward, terminated, truncated, info = text_env.step(action)
    assert info["last_result"]["ok"] is False
    assert "error" in text
    assert reward < 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.one_of(
    st.text(max_size=40),
    st.dictionaries(st.sampled_from(["tool", "args", "name", "arguments", "x"]),
                    st.one_of(st.text(max_size=10), st.integers(), st.none(),
                              st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=8), st.floats())))),
))
def test_fuzzed_text_actions_never_raise(text_env, action):
    if text_env.core.steps >= text_env.core.max_steps - 1:
        text_env.reset(seed=0)
    text, reward, *_ = text_env.step(action)
    assert isinstance(text, str) and text


def test_parse_action_forms():
    assert parse_action({"tool": "wait"}) == ("wait", {})
    assert parse_action("top_links n=3 by=loss") == ("top_links", {"n": 3, "by": "loss"})
    assert parse_action("top_links(n=3, by=loss)") == ("top_links", {"n": 3, "by": "loss"})
    assert isinstance(parse_action("{bad"), str)
