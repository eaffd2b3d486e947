"""The operator's twin (a belief twin): the network as the operator knows it, brought to the
incident's present, with one hypothesis about what broke injected.

The sandbox holds the injected faults and the ground truth; nobody in production knows them.
What the operator does know is the network model (topology, traffic, monitors, configs as
designed), the change log and the actions they took themselves. :func:`operator_scenario`
strips a scenario down to that; :func:`belief_twin` builds a twin from it, injects a
:class:`Hypothesis` (a typed fault from the catalogue on named entities, from a start time),
replays the operator's own actions at the times they were started, and runs it to ``until``.
Its draws come from :data:`OPERATOR_SEED`, not from the sandbox's seed.

>>> h = Hypothesis("link_down", {"link": "b4:us-east-us-central"}, 600.0)
>>> h.label
'link_down b4:us-east-us-central @ 10m'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twin.errors import TwinError
from twin.scenario import Scenario, parse_scenario
from twin.units import format_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["MAGNITUDES", "OPERATOR_SEED", "Action", "Hypothesis", "base_data", "batch_pays", "belief_twin", "belief_twins",
           "operator_scenario"]

#: Seed of the operator's simulations (the operator does not know the sandbox's draws).
OPERATOR_SEED = 1234
#: Parameters that size a cause rather than name it: marginalised (summed over) in a posterior.
MAGNITUDES = frozenset({"clusters", "loss", "factor", "share", "count", "error_rate", "mb_per_min", "capacity_left",
                        "threshold_gbps"})

#: An operator action as the operator remembers it: (started at, action kind, arguments).
Action = tuple[float, str, Mapping[str, Any]]


@dataclass(frozen=True)
class Hypothesis:
    """A typed fault from the catalogue, on named entities, from ``at`` (seconds).

    ``also`` holds further faults of a compound hypothesis (two causes at once), each a
    Hypothesis of its own."""

    kind: str
    params: dict[str, Any]
    at: float
    also: tuple[Hypothesis, ...] = ()

    @property
    def parts(self) -> tuple[Hypothesis, ...]:
        return (Hypothesis(self.kind, self.params, self.at), *self.also)

    @property
    def cause(self) -> tuple[Any, ...]:
        """What the hypothesis blames, without how much: hypotheses that differ only in size
        are one cause whose size is a nuisance parameter."""
        own = (self.kind, self.at, tuple(sorted((k, str(v)) for k, v in self.params.items() if k not in MAGNITUDES)))
        return own + tuple(h.cause for h in self.also)

    @property
    def label(self) -> str:
        shown = " ".join(f"{v}" if k in ("link", "service", "plane", "device", "change", "feature") else f"{k}={v}"
                         for k, v in self.params.items() if k not in ("target", "description", "config"))
        own = f"{self.kind} {shown} @ {format_duration(self.at)}".replace("  ", " ")
        return " + ".join([own, *(h.label for h in self.also)])

    @property
    def entities(self) -> set[str]:
        """Names the hypothesis blames (links, services, planes, devices, changes, features, classes, sites)."""
        out: set[str] = set()
        for h in self.parts:
            for k, v in h.params.items():
                if k in MAGNITUDES or k in ("description", "config", "inconsistency", "crashloop", "version"):
                    continue
                if isinstance(v, (list, tuple)):
                    out.update(str(x) for x in v)
                elif isinstance(v, str):
                    out.add(v)
        return out

    def specs(self) -> list[dict[str, Any]]:
        """The fault specs to inject, one per part."""
        return [{"id": f"hypothesis-{i}", "kind": h.kind, "at": float(h.at), "params": dict(h.params)}
                for i, h in enumerate(self.parts)]


def operator_scenario(sc: Scenario) -> Scenario:
    """The scenario as the operator knows it: no faults, no ground truth, and no description
    (the scenario's one-line summary is written with hindsight)."""
    data = sc.model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    data["faults"] = []
    data.pop("ground_truth", None)
    data.pop("generated", None)  # a generated incident's difficulty is computed with hindsight
    data["description"] = "the network model as its operators know it"
    return parse_scenario(data, f"{sc.name} (operator's view)")


def base_data(sc: Scenario) -> dict[str, Any]:
    """The operator's scenario as plain data, ready for :func:`belief_twin` (cheap to reuse)."""
    return operator_scenario(sc).model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)


def belief_twin(base: Scenario | Mapping[str, Any], hypothesis: Hypothesis | None, until: float,
                actions: Sequence[Action] = (), seed: int = OPERATOR_SEED) -> Twin | None:
    """The operator's twin under ``hypothesis`` (None: nothing broke), with the operator's own
    ``actions`` replayed, run to ``until``. None when the hypothesis cannot be expressed on this
    network (an entity it names does not exist, a parameter is out of range)."""
    t = _unrun(dict(base_data(base) if isinstance(base, Scenario) else base), hypothesis, seed, None)
    if t is not None:
        _replay([t], until, actions, batched=False)
    return t


def belief_twins(base: Scenario | Mapping[str, Any], hypotheses: Sequence[Hypothesis | None], until: float,
                 actions: Sequence[Action] = (), seed: int = OPERATOR_SEED,
                 batched: bool | None = None) -> list[Twin | None]:
    """:func:`belief_twin` of each hypothesis (the same twins), run together as one batch.

    Hypotheses change only the faults, and a world is built from the network model alone
    (topology, traffic, services, features, seed), so the twins share the first one's world
    (a batch runs twins of one world). ``batched``: run them as a batch or one by one (the same
    twins); default :func:`batch_pays`.
    """
    data = dict(base_data(base) if isinstance(base, Scenario) else base)
    twins: list[Twin | None] = []
    world = None
    for h in hypotheses:
        t = _unrun(data, h, seed, world)
        if t is not None:
            world = t.world
        twins.append(t)
    live = [t for t in twins if t is not None]
    if live:
        _replay(live, until, actions, batch_pays(live[0]) if batched is None else batched)
    return twins


def batch_pays(twin: Twin) -> bool:
    """Whether running futures of ``twin``'s world as a batch beats running them one by one:
    while the network physics stacks members (a member's path entries fit the batch's
    ``STACKED_ENTRIES``). Past that (``large``: 65k entries) a member's tick measured 1.9-2.0 ms
    in a batch against 1.4 ms alone (the stacked monitors' truth costs more than one member's)."""
    from twin.sim.batch import STACKED_ENTRIES

    routing = twin.state.network.routing or twin.fork().routing()  # a fork's: the twin given stays as it is
    return routing.flow_of.size <= STACKED_ENTRIES


def _unrun(data: dict[str, Any], hypothesis: Hypothesis | None, seed: int, world: Any) -> Twin | None:
    """The operator's twin under ``hypothesis`` at time 0 (None: it cannot be expressed); on
    ``world`` where given (the world this data builds: see :func:`belief_twins`)."""
    from twin.sim.twin import Twin

    data = dict(data)
    data["faults"] = hypothesis.specs() if hypothesis is not None else []
    data.pop("ground_truth", None)
    data.pop("generated", None)
    try:
        sc = parse_scenario(data, f"{data.get('name', 'scenario')} + {hypothesis.label if hypothesis else 'nothing'}")
        if world is not None:
            sc._world = world  # noqa: SLF001 - build_world's own cache slot: what it would build from this data
        return Twin(sc, seed=seed)
    except TwinError:
        return None


def _replay(twins: list[Twin], until: float, actions: Sequence[Action], batched: bool) -> None:
    """Run ``twins`` (at one time) to ``until``, starting the operator's ``actions`` on each at their times."""
    from twin.sim.batch import TwinBatch
    from twin.sim.twin import run_together

    def run(to: float) -> None:
        if batched and len(twins) > 1:
            if to > twins[0].now:
                TwinBatch(twins, run_together).run(to)
        else:
            for t in twins:
                t.run(until=to)

    for at, kind, args in sorted(actions, key=lambda a: a[0]):
        if at > until:
            break
        run(float(at))
        for t in twins:
            try:
                t.act(kind, **dict(args))
            except TwinError:
                continue  # an action the model cannot take on this network is a no-op there
    run(until)
