"""Which mitigations work and which harm, computed on the sandbox, not written by hand.

For one incident (scenario + seed), every candidate mitigation is applied at the moment the
incident is detected (its first critical alert) on a fork of the sandbox, and the fork runs on
for ``horizon``; a second fork, left alone, is the counterfactual. A candidate is

* **effective** when the SLOs come back (and stay back for the scenario's settle time) at least
  one tick earlier than they do when nothing is done;
* **helps** when it does not end the incident (another cause remains, say) but cuts impact by
  more than the margin and by a quarter at least;
* **harmful** when it makes things worse than doing nothing by more than a margin: impact
  (customer-weighted SLO-violation minutes) or the worst class loss once it has landed and
  routing has settled;
* **no effect** otherwise.

Candidates: the scenario's hand-labelled mitigations (so the hand labels can be checked), the
argument-free actions, and what an operator would try from the observations at detection:
rolling back each change in the change log, draining each alerting link, restarting, rolling
back and rate-limiting each alerting service. This is oracle code (it reads the sandbox) for
scoring and labels; agents never reach it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from twin.episode import first_critical_alert, restored_at
from twin.scenario import Scenario, load_scenario
from twin.sim.actions import ACTIONS, check_action
from twin.sim.twin import Twin

__all__ = ["Label", "Labeller", "agreement", "candidates", "derive_labels", "detection_time", "labeller"]

#: Impact-minutes worse than doing nothing before a candidate counts as harmful.
IMPACT_MARGIN = 1.0
#: Worst class loss after it lands, above doing nothing's, before a candidate counts as harmful.
LOSS_MARGIN = 0.1
#: Seconds after a candidate lands before its loss is read (routing and the TE controller settle).
SETTLE_S = 60.0


@dataclass(frozen=True)
class Label:
    tool: str
    args: dict[str, Any]
    label: str  # effective | helps | harmful | no effect
    restored_at: float | None  # when the SLOs came back for good (None: not within the horizon)
    baseline_restored_at: float | None
    impact_minutes: float
    baseline_impact_minutes: float
    peak_loss: float
    baseline_peak_loss: float
    hand: str = ""  # the scenario's own label, if it has one: effective | harmful

    @property
    def text(self) -> str:
        args = " ".join(str(v) for v in self.args.values())
        return f"{self.tool} {args}".strip()


def _impact(twin: Twin, since: float) -> float:
    samples = [s for s in twin.telemetry.window(since=since)]
    return float(sum(s.kpi.get("impact", 0.0) for s in samples) * twin.scenario.tick / 60.0)


def _peak_loss(twin: Twin, since: float) -> float:
    samples = twin.telemetry.window(since=since)
    return max((max(s.kpi.get("user_loss", 0.0), s.kpi.get("interdc_loss", 0.0)) for s in samples), default=0.0)


def candidates(twin: Twin) -> list[tuple[str, dict[str, Any]]]:
    """Mitigations to try at this moment: hand-labelled ones, argument-free ones, and those the
    observations suggest (changes in the log, alerting links and services)."""
    sc, out = twin.scenario, []
    gt = sc.ground_truth
    for ref in ([*gt.effective, *gt.harmful] if gt else []):
        out.append((ref.tool, dict(ref.args)))
    for name, spec in ACTIONS.items():
        if not spec.params:
            out.append((name, {}))
    for change in twin.state.control.changes:
        out.append(("rollback_change", {"change": change.id}))
    alerts = twin.open_alerts()
    for a in alerts:
        if a.entity_kind == "link":
            out.append(("drain_link", {"link": a.entity}))
        if a.entity_kind == "service":
            out += [("restart_service", {"service": a.entity}), ("rollback_deploy", {"service": a.entity})]
    unique, seen = [], set()
    for tool, args in out:
        key = (tool, tuple(sorted(args.items())))
        if key in seen:
            continue
        try:
            check_action(twin.world, twin.state, tool, args)
        except Exception:  # noqa: BLE001 - a hand label naming something the sandbox lacks: skip it
            continue
        seen.add(key)
        unique.append((tool, args))
    return unique


def _key(tool: str, args: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return tool, tuple(sorted((str(k), str(v)) for k, v in args.items()))


def detection_time(scenario: Scenario, seed: int | None) -> Twin:
    """The incident run to the moment an operator would start acting: its first critical alert,
    or, for an incident no alert catches, the first tick whose SLOs are violated."""
    twin = Twin(scenario, seed=seed)
    while twin.now < scenario.duration and first_critical_alert(twin) is None:
        twin.run(until=min(scenario.duration, twin.now + scenario.tick))
    if first_critical_alert(twin) is not None:
        return twin
    twin = Twin(scenario, seed=seed)
    while twin.now < scenario.duration:
        twin.run(until=min(scenario.duration, twin.now + scenario.tick))
        last = twin.telemetry.samples.tail(1)
        if last and last[-1].kpi.get("slo_violations", 0) > 0:
            break
    return twin


class Labeller:
    """Labels mitigations of one incident (scenario + seed) on demand, each against the same
    incident left alone; a mitigation is labelled once and then remembered."""

    def __init__(self, scenario: Scenario | str, seed: int | None = None, horizon: float = 3600.0) -> None:
        sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.scenario = sc
        self.at_detection = detection_time(sc, seed)
        self.at = at = self.at_detection.now
        self.end = min(sc.duration, at + horizon)
        self.base = self.at_detection.fork()
        self.base.run(until=self.end)
        self.base_restored = restored_at(self.base, at)
        self.base_impact = _impact(self.base, at)
        self.hand: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        if sc.ground_truth:
            for ref in sc.ground_truth.effective:
                self.hand[_key(ref.tool, dict(ref.args))] = "effective"
            for ref in sc.ground_truth.harmful:
                self.hand[_key(ref.tool, dict(ref.args))] = "harmful"
        self._done: dict[tuple[str, tuple[tuple[str, str], ...]], Label] = {}

    def label(self, tool: str, args: dict[str, Any]) -> Label:
        """The label of ``tool(**args)`` applied at detection; an action the sandbox refuses
        (unknown tool, argument naming nothing) has no effect."""
        key = _key(tool, args)
        if key in self._done:
            return self._done[key]
        sc, at = self.scenario, self.at
        trial = self.at_detection.fork()
        try:
            check_action(trial.world, trial.state, tool, args)
            trial.act(tool, **args)
        except Exception:  # noqa: BLE001 - refused: it changes nothing
            lb = Label(tool, dict(args), "no effect", self.base_restored, self.base_restored,
                       self.base_impact, self.base_impact, 0.0, 0.0, self.hand.get(key, ""))
            self._done[key] = lb
            return lb
        trial.run(until=self.end)
        restored = restored_at(trial, at)
        settled = at + ACTIONS[tool].duration + SETTLE_S
        impact, loss = _impact(trial, at), _peak_loss(trial, settled)
        b_loss = _peak_loss(self.base, settled)
        b_restored, b_impact = self.base_restored, self.base_impact
        earlier = restored is not None and (b_restored is None or restored <= b_restored - sc.tick)
        worse = impact - b_impact > IMPACT_MARGIN or loss - b_loss > LOSS_MARGIN
        helps = b_impact - impact > max(IMPACT_MARGIN, 0.25 * b_impact)
        text = "effective" if earlier else "harmful" if worse else "helps" if helps else "no effect"
        lb = Label(tool, dict(args), text, restored, b_restored, impact, b_impact, loss, b_loss,
                   self.hand.get(key, ""))
        self._done[key] = lb
        return lb

    def all(self) -> list[Label]:
        """Every candidate at detection, labelled."""
        return [self.label(tool, args) for tool, args in candidates(self.at_detection)]


_LABELLERS: dict[tuple[str, int, float], Labeller] = {}


def labeller(scenario: Scenario | str, seed: int | None = None, horizon: float = 3600.0) -> Labeller:
    """The (remembered) labeller of one incident: scoring many runs of it labels each action once."""
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    seed = sc.seed if seed is None else int(seed)
    digest = hashlib.sha256(sc.model_dump_json().encode()).hexdigest()
    key = (digest, seed, float(horizon))
    if key not in _LABELLERS:
        if len(_LABELLERS) >= 32:
            _LABELLERS.pop(next(iter(_LABELLERS)))
        _LABELLERS[key] = Labeller(sc, seed, horizon)
    return _LABELLERS[key]


def derive_labels(scenario: Scenario | str, seed: int | None = None, horizon: float = 3600.0) -> list[Label]:
    """Label every candidate mitigation of one incident by running it against doing nothing."""
    return labeller(scenario, seed, horizon).all()


def agreement(labels: list[Label]) -> tuple[int, int]:
    """(hand labels the derived ones confirm, hand labels in all); "helps" confirms "effective"."""
    handed = [lb for lb in labels if lb.hand]
    same = sum(lb.hand == lb.label or (lb.hand == "effective" and lb.label == "helps") for lb in handed)
    return same, len(handed)

