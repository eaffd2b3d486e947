"""Baseline agents on the B2/B4 cascade: the runbook agent mitigates it, and only because of its runbook."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from agents import AGENTS, make_agent
from agents.runbook import RUNBOOK_DIR, RunbookAgent, load_runbooks
from twin.agent import Agent
from twin.episode import Episode, is_mitigated, run_episode
from twin.errors import AgentError


def _trace(ep: Episode) -> list[tuple]:
    return [(s.tool, sorted(s.args.items(), key=str), s.ok, s.t_start, s.summary) for s in ep.steps]


def test_runbook_agent_mitigates_b2b4(b2b4):
    ep = run_episode(b2b4, make_agent("runbook"), seed=0)
    assert ep.mitigated and ep.ttm is not None and 0 < ep.ttm < 600
    assert ep.detected_at == pytest.approx(630.0)  # B2 loss as link counters see it: 30 s samples, 10 s export delay
    tools = [s.tool for s in ep.steps]
    assert tools[:2] == ["list_alerts", "recent_changes"] and "freeze_te" in tools
    assert all(s.ok for s in ep.steps)
    assert is_mitigated(ep.twin, since=ep.detected_at)
    assert ep.impact > 0 and ep.scenario == "b2b4-casc1" and ep.agent == "runbook"


def test_runbook_agent_without_runbooks_does_not_mitigate(b2b4, tmp_path):
    ep = run_episode(b2b4, RunbookAgent(runbook_dir=tmp_path), seed=0)
    assert not ep.mitigated and ep.ttm is None
    assert [s.tool for s in ep.steps] == ["list_alerts", "recent_changes"]
    assert ep.stopped == "agent_stopped"
    assert ep.twin.now >= b2b4.duration  # the clock ran on to the horizon
    with_book = run_episode(b2b4, make_agent("runbook"), seed=0)
    assert ep.impact > with_book.impact


def test_other_runbooks_do_not_fire_on_b2b4(b2b4, tmp_path):
    for path in RUNBOOK_DIR.glob("*.yaml"):
        if "te-moved" not in path.name:
            shutil.copy(path, tmp_path / path.name)
    agent = RunbookAgent(runbook_dir=tmp_path)
    ep = run_episode(b2b4, agent, seed=0)
    assert not ep.mitigated and agent.chosen is None
    assert not any(s.tool in ("drain_device", "drain_link", "rollback_deploy") for s in ep.steps)


def test_random_agent_completes(b2b4):
    ep = run_episode(b2b4, make_agent("random"), seed=1, max_steps=40)
    assert len(ep.steps) <= 40 and ep.stopped in ("max_steps", "horizon", "mitigated")
    assert any(s.ok for s in ep.steps)


@pytest.mark.parametrize("name", ["random", "runbook"])
def test_episodes_are_deterministic_per_seed(b2b4, name):
    a = run_episode(b2b4, make_agent(name), seed=4, max_steps=25)
    b = run_episode(b2b4, make_agent(name), seed=4, max_steps=25)
    assert _trace(a) == _trace(b)
    assert (a.mitigated, a.ttm, a.impact, a.stopped) == (b.mitigated, b.ttm, b.impact, b.stopped)


def test_random_agent_depends_on_seed(b2b4):
    a = run_episode(b2b4, make_agent("random"), seed=1, max_steps=10)
    b = run_episode(b2b4, make_agent("random"), seed=2, max_steps=10)
    assert _trace(a) != _trace(b)


def test_warmup_and_horizon(b2b4):
    ep = run_episode(b2b4, make_agent("random"), seed=0, warmup="5m", horizon="8m", max_steps=500)
    assert ep.steps[0].t_start == pytest.approx(300.0)
    assert ep.stopped == "horizon" and ep.detected_at is None and not ep.mitigated


def test_agents_follow_the_protocol():
    for name in ("random", "runbook"):
        agent = make_agent(name)
        assert isinstance(agent, Agent) and agent.name == name
    assert {"random", "runbook", "llm", "llm-oneshot"} <= set(AGENTS)
    with pytest.raises(AgentError, match="unknown agent"):
        make_agent("oracle")


def test_runbooks_are_data(tmp_path):
    books = load_runbooks()
    assert {"te-moved-traffic-onto-lossy-plane", "bad-deploy", "memory-pressure", "cpu-hog",
            "device-packet-loss"} <= {b.name for b in books}
    assert [b.priority for b in books] == sorted((b.priority for b in books), reverse=True)
    (tmp_path / "broken.yaml").write_text("name: x\nmatch: {alerts: []}\n")
    with pytest.raises(AgentError, match="mitigation"):
        load_runbooks(tmp_path)
    with pytest.raises(AgentError, match="does not exist"):
        load_runbooks(tmp_path / "missing")


def test_agent_that_stops_at_once_is_judged_at_the_horizon(b2b4):
    class Quitter:
        name = "quitter"

        def reset(self, toolbox, rng: np.random.Generator) -> None:
            pass

        def act(self, toolbox):
            return None

    ep = run_episode(b2b4, Quitter(), seed=0)
    assert ep.steps == [] and not ep.mitigated and ep.stopped == "agent_stopped"
    assert ep.twin.now == pytest.approx(b2b4.duration)


def _drive(agent: RunbookAgent, reply) -> list[tuple[str, dict]]:
    """Run the agent's plan against canned tool results (``reply(tool, args) -> (ok, data)``)."""
    from twin.tools import ToolResult

    plan, calls = agent._run(), []
    call = next(plan)
    try:
        while True:
            calls.append(call)
            ok, data = reply(*call)
            call = plan.send(ToolResult(ok, call[0], call[1], data, ""))
    except StopIteration:
        return calls


def test_runbook_each_verify_and_contains(tmp_path):
    from agents.runbook import _expect_holds
    from twin.tools import ToolResult

    def res(data):
        return ToolResult(True, "show_config", {}, data, "")

    assert _expect_holds({"path": "features", "contains": "ff"}, res({"features": ["ff", "x"]}))
    assert not _expect_holds({"path": "features", "contains": "ff"}, res({"features": ["flowspec"]}))
    assert not _expect_holds({"path": "features", "contains": "ff"}, res({"features": 3}))
    (tmp_path / "multi.yaml").write_text(
        "name: multi\nmatch:\n  events: [{kind: change, message: 'on (?P<sites>[^\\s:]+):'}]\n"
        "  alerts: [{name: PacketLoss}]\n"
        "mitigations:\n  - {tool: halt_automation, verify: false}\n"
        "  - {tool: restart_control_jobs, args: {site: '{item}'}, each: sites}\n"
        "  - {tool: shed_traffic}\nverify: {wait: 1m}\n")
    alerts = [{"name": "PacketLoss", "entity": "b2:a-b"}]
    events = [{"kind": "change", "message": "config_push c1 on a,b,c: oops"}]

    def reply(tool, args):
        return True, {"list_alerts": {"alerts": alerts}, "recent_changes": {"events": events}}.get(tool, {})

    calls = _drive(RunbookAgent(runbook_dir=tmp_path), reply)
    acts = [c for c in calls if c[0] not in ("list_alerts", "recent_changes", "wait")]
    assert acts[:4] == [("halt_automation", {}), ("restart_control_jobs", {"site": "a"}),
                        ("restart_control_jobs", {"site": "b"}), ("restart_control_jobs", {"site": "c"})]
    # no wait between halt_automation and the restarts; one verify after the restarts
    assert calls[2][0] == "halt_automation" and calls[3][0] == "restart_control_jobs" and calls[6][0] == "wait"


def test_common_device_must_agree_with_the_changed_device(tmp_path):
    (tmp_path / "dev.yaml").write_text(
        "name: dev\nmatch:\n  events: [{kind: change, message: 'on (?P<device>[^\\s:]+):'}]\n"
        "  alerts: [{name: PacketLoss, min_count: 2}]\n  common_device: true\n"
        "mitigations: [{tool: drain_device, args: {device: '{device}'}}]\n")
    alerts = [{"name": "PacketLoss", "entity": "l1"}, {"name": "PacketLoss", "entity": "l2"}]
    for changed, drained in (("r1", True), ("r2", False)):
        events = [{"kind": "change", "message": f"config_push c on {changed}: x"}]

        def reply(tool, args, events=events):
            return True, {"list_alerts": {"alerts": alerts}, "recent_changes": {"events": events},
                          "show_neighbourhood": {"devices": ["r1", "r9"]}}.get(tool, {})

        calls = _drive(RunbookAgent(runbook_dir=tmp_path), reply)
        assert (("drain_device", {"device": "r1"}) in calls) is drained


@pytest.mark.slow
@pytest.mark.parametrize("name,book,tool", [
    ("aws-dx-tokyo-2021", "protocol-feature-defect", "disable_feature"),
    ("gcp-2019-06-02", "control-jobs-descheduled", "restart_control_jobs"),
    ("meta-2021-10-04", "backbone-down-after-maintenance", "rollback_change"),
    ("aws-us-east-1-2021-12-07", "internal-network-congestion", "halt_automation"),
    ("azure-wan-2023-01-25", "links-flap-after-router-change", "rollback_change"),
    ("cloudflare-2020-07-17", "router-attracts-traffic-after-change", "drain_device"),
    ("hotel-memory-leak", "memory-pressure", "rollback_deploy"),
    ("trainticket-retry-storm", "retry-storm", "rate_limit"),
])
def test_runbooks_mitigate_historical_incidents(name, book, tool):
    agent = RunbookAgent()
    ep = run_episode(name, agent, seed=0)
    assert ep.mitigated and agent.chosen == book
    assert tool in [a["kind"] for a in ep.twin.state.actions]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["novel-drain-trap", "novel-dual-fault", "novel-monitoring-blindspot",
                                  "novel-new-component"])
def test_runbooks_do_not_cover_novel_incidents(name):
    assert not run_episode(name, RunbookAgent(), seed=0).mitigated
