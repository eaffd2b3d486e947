"""Tests that discriminate between hypotheses: which probe to run next, and what its answer says.

For the likeliest causes of a :class:`~twin.diagnosis.Diagnosis`, each available test or observe
tool is run on each cause's belief twin (the operator's twin with that cause injected, brought
to the diagnosis' present) on the entities the causes name. Its answer is read coarsely (a loss
band, a utilisation band, which hops lose packets, which metrics moved from baseline): a
*reading*. A test whose readings differ between causes tells them apart; :func:`next_test`
picks the one with the most expected information (the entropy of its predicted reading under
the causes' weights, in bits) per simulated second the tool takes. :func:`update` reweights the
diagnosis by whether each cause predicted the reading the operator then observed; "none of
these", which predicts nothing, gets an even chance. Nothing here reads the sandbox.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twin.belief import Hypothesis, base_data, belief_twin
from twin.diagnosis import silent_entities
from twin.scenario import Scenario
from twin.tools.base import Tool
from twin.tools.registry import default_registry

if TYPE_CHECKING:
    from twin.diagnosis import Diagnosis
    from twin.sim.twin import Twin

__all__ = ["MATCH", "READINGS", "TestChoice", "next_test", "reading", "update"]

#: Chance a cause's predicted reading is the one observed when the cause is true (noise, phase).
MATCH = 0.85
#: Band edges per metric: readings compare bands, never exact values.
BANDS = {"loss": (0.01, 0.05, 0.2), "utilisation": (0.5, 0.8, 0.95), "error_rate": (0.02, 0.1, 0.5),
         "cpu": (0.5, 0.9)}
#: Metrics query_metric is tried on, per monitored kind.
QUERIED = {"link": ("loss", "utilisation"), "service": ("error_rate", "cpu"), "device": ("cpu",)}


def _band(x: float | None, metric: str) -> int | None:
    return None if x is None else bisect.bisect_right(BANDS[metric], float(x))


def _moved(ratio: float | None) -> int:
    return 0 if ratio is None else (-1 if ratio < 0.67 else 1 if ratio > 1.5 else 0)


def _lossy_hops(d: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({h["link"] for t in d["paths"] for h in t["hops"] if (h["loss"] or 0.0) >= 0.01}))


#: How each tool's answer is read (None: the answer says nothing, e.g. a silent monitor).
READINGS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "ping": lambda d: (d["reachable"], _band(d["loss"], "loss")),
    "traceroute": lambda d: (d["reachable"], _band(d["loss"], "loss"), _lossy_hops(d)),
    "check_link_counters": lambda d: None if d["loss"] is None or d["loss"]["last"] is None else (
        _band(d["loss"]["max"], "loss"), _band(d["utilisation"]["max"], "utilisation"),
        d["up"] is not None and d["up"]["min"] is not None and d["up"]["min"] < 0.5),
    "compare_baseline": lambda d: tuple(sorted((m, _moved(v["ratio"])) for m, v in d["metrics"].items()
                                               if _moved(v["ratio"]))) if d["metrics"] else None,
    "similar_alerts": lambda d: bisect.bisect_right((1, 2, 5), d["count"]),
    # the latest sample: a monitor silent now says nothing, whatever it sent before going dark
    "query_metric": lambda d: _band(d.get("last"), d["metric"]) if d["metric"] in BANDS else None,
    "show_config": lambda d: (d["drained"], tuple(d["features"])),
}


def reading(tool: str, data: Mapping[str, Any]) -> Any:
    """The coarse reading of ``tool``'s answer ``data`` (None: unreadable or uninformative)."""
    read = READINGS.get(tool)
    try:
        return read(data) if read is not None else None
    except (KeyError, TypeError):  # an answer without the fields a reading needs says nothing
        return None


@dataclass(frozen=True)
class TestChoice:
    """The test to run next: its expected information (bits), how long it takes, and what each
    cause predicts it will read."""

    tool: str
    args: dict[str, Any]
    bits: float
    duration_s: float
    predictions: list[tuple[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.tool}({', '.join(f'{k}={v}' for k, v in self.args.items())})"


def _entities(t: Twin, hyps: Iterable[Hypothesis]) -> set[str]:
    """Names the causes blame, with the devices their features run on and their config names."""
    w = t.world
    devices = set(w.device_names)
    out: set[str] = set()
    for h in hyps:
        out |= h.entities
        for part in h.parts:
            for node in w.features.get(str(part.params.get("feature", "")), []):
                out.add(w.topology.nodes[int(node)])
            out |= {tok for line in part.params.get("config", []) for tok in str(line).split() if tok in devices}
    return out


def _candidates(t: Twin, d: Diagnosis, tools: Iterable[Tool], names: set[str], base: Mapping[str, Any]):
    # a monitor the evidence shows silent will read nothing: not worth a probe
    dark = silent_entities(d.evidence)
    monitored = {n: k for k, ns in t.telemetry.entities.items() for n in ns if n not in dark}
    devices = set(t.world.device_names)
    pairs = sorted({(str(x["src"]), str(x["dst"]), str(x.get("class", "user")))
                    for x in base.get("traffic", {}).get("demands", [])})
    alerts = sorted(set(d.evidence.alerts["name"])) if len(d.evidence.alerts) else []
    for tool in tools:
        if tool.name not in READINGS:
            continue
        if tool.target_kind == "site":
            for src, dst, cls in pairs:
                yield tool, {"src_site": src, "dst_site": dst, "traffic_class": cls}
        elif tool.name == "query_metric":
            for name in sorted(n for n in names if n in monitored):
                for metric in QUERIED.get(monitored[name], ()):
                    yield tool, {"entity": name, "metric": metric}
        elif tool.target_kind == "alert":
            for name in alerts:
                yield tool, {"alert": name}
        elif tool.target_kind == "device":
            for name in sorted(names & devices):
                yield tool, {"device": name}
        elif tool.target_kind in ("link", "entity") and tool.target:
            kinds = ("link",) if tool.target_kind == "link" else ("link", "device", "service")
            for name in sorted(n for n in names if monitored.get(n) in kinds):
                yield tool, {tool.target: name}


def _tools(tools: Iterable[Tool | str] | None) -> list[Tool]:
    reg = default_registry()
    if tools is None:
        return [t for t in reg if t.kind in ("test", "observe")]
    return [t if isinstance(t, Tool) else reg.get(t) for t in tools]


def _plain(base: Scenario | Mapping[str, Any] | None, d: Diagnosis) -> dict[str, Any]:
    if base is None:
        return dict(d.base)
    return base_data(base) if isinstance(base, Scenario) else dict(base)


def _twins(d: Diagnosis, base: dict[str, Any], hyps: Iterable[Hypothesis]) -> dict[str, Twin]:
    out = {}
    for h in hyps:
        t = belief_twin(base, h, d.evidence.at, d.evidence.actions)
        if t is not None:
            out[h.label] = t
    return out


def _read(tool: Tool, t: Twin, args: dict[str, Any], dark: set[str]) -> Any:
    """What ``tool`` would read on the belief twin ``t``, where monitors ``dark`` in the evidence
    are dark too (the belief twin does not know the outage; the operator does)."""
    try:
        data, _ = tool.func(t, dict(args))
    except (KeyError, ValueError, IndexError):  # not applicable on this network: reads nothing
        return None
    if isinstance(data.get("entities"), list):
        rows = [e for e in data["entities"] if e.get("entity") not in dark]
        data = {**data, "entities": rows, "count": len(rows)}
    return reading(tool.name, data)


def next_test(diagnosis: Diagnosis, tools: Iterable[Tool | str] | None = None,
              base: Scenario | Mapping[str, Any] | None = None, k: int = 3) -> TestChoice | None:
    """The (tool, args) that best tells the ``k`` likeliest causes apart per simulated second,
    or None when no available test would read differently under any two of them."""
    weighted = diagnosis.weights(k=k, min_p=0.0)
    if len(weighted) < 2:
        return None
    data = _plain(base, diagnosis)
    twins = _twins(diagnosis, data, (h for h, _ in weighted))
    weighted = [(h, p) for h, p in weighted if h.label in twins]
    if len(weighted) < 2:
        return None
    any_twin = twins[weighted[0][0].label]
    dark = silent_entities(diagnosis.evidence)
    names = _entities(any_twin, (h for h, _ in weighted))
    best: TestChoice | None = None
    for tool, args in _candidates(any_twin, diagnosis, _tools(tools), names, data):
        preds = [(h.label, _read(tool, twins[h.label], args, dark)) for h, _ in weighted]
        mass: dict[str, float] = {}
        for (_, r), (_, p) in zip(preds, weighted):
            mass[repr(r)] = mass.get(repr(r), 0.0) + p
        bits = -sum(p * math.log2(p) for p in mass.values() if p > 0)
        if bits <= 1e-9:
            continue
        choice = TestChoice(tool.name, args, bits, float(tool.duration_s), preds)
        if best is None or bits / choice.duration_s > best.bits / best.duration_s + 1e-12:
            best = choice
    return best


def update(diagnosis: Diagnosis, tool: Tool | str, args: Mapping[str, Any], observed: Mapping[str, Any],
           base: Scenario | Mapping[str, Any] | None = None, min_p: float = 1e-3) -> Diagnosis:
    """Reweight ``diagnosis`` by the answer ``observed`` that ``tool(args)`` gave the operator:
    a cause (with at least ``min_p``) whose belief twin reads the same keeps :data:`MATCH` of its
    weight, one that reads otherwise keeps the rest; an unreadable answer changes nothing."""
    t = _tools([tool])[0]
    seen = reading(t.name, observed)
    if seen is None:
        return diagnosis
    data = _plain(base, diagnosis)
    live = [s.hypothesis for s in diagnosis.ranked if s.hypothesis is not None and s.probability >= min_p]
    twins = _twins(diagnosis, data, live)
    dark = silent_entities(diagnosis.evidence)
    scaled = []
    for s in diagnosis.ranked:
        if s.hypothesis is None:
            like = 0.5
        else:
            twin = twins.get(s.hypothesis.label)
            like = MATCH if twin is not None and _read(t, twin, dict(args), dark) == seen else 1.0 - MATCH
        scaled.append((s, s.probability * like))
    total = sum(w for _, w in scaled) or 1.0
    ranked = sorted((dataclasses.replace(s, probability=w / total) for s, w in scaled), key=lambda s: -s.probability)
    return dataclasses.replace(diagnosis, ranked=ranked)
