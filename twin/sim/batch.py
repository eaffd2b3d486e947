"""A batch of twins of one scenario, advanced tick by tick together: many futures of one present.

Why: the safety pre-check runs 5 candidates x 8 what-if draws of the same network, the diagnosis
engine ~100 hypotheses, a vector env many episodes. They differ in state, not in topology, and a
tick is ~500 numpy calls on small arrays, so a solo tick's cost is mostly per-call overhead.

Where a solo tick goes (``python bench/profile_tick.py --stages --cpu``, seed 1, one hour, CPU
microseconds a tick; "before" at 2570985, before the compiled kernels of ``twin.physics.jit``,
and "now" after them, run one after the other on the shared 2-core machine)::

    stage                     b2b4-casc1 us/tick   large us/tick
                               before    now       before    now
    routing builds                11       3          162      17
    network_steps                214      74          250     166
      solve (flow model)         112      14            2       1
    Twin._services               269      54          253      70
      service_step               204      21          171      30
    monitors: truth               71      30          164     111
    monitors: sampling            79      32          336     224
    monitors: alerts              52      28          103      76
    rest of the tick + timers     70      60          111      96
    total                        766     282         1380     759

A solo tick is now mostly per-call overhead around the kernels on b2b4-casc1 (each stage is a
few kernel calls and the Python that feeds them) and memory traffic on large (its arrays hold
16.7k flows and 65k path entries: a read's 31k noise draws alone are a fixed floor). In a batch
the member's own Python stays: its SimPy events (~60 us a member-tick), the services' inputs
(~20 us), health checks, the monitors' counters; the garbage collector's passes over the
twins' long-lived state are kept out of runs (``twin.sim.collect``).

The plan, in the order it pays, and where it stands:

1. **Services** (done): the services model runs once for all members on their arrays
   concatenated member-major (call edges' ``src``/``dst`` offset by the member's first
   service), as one compiled kernel (``twin.physics.services``) that loops over the members,
   each member's graph iterations its own loop stopping where it alone would stop: a member is
   its solo self by construction. The services' inputs and figures around the model are one
   kernel call each per member (``twin.sim.service_tick``).
2. **Network** (done, but for the flow model): ``network_steps`` stacks the jobs' flows, arcs,
   groups and nodes with offsets; members whose tables differ have different routings, whose
   index arrays are stacked (and kept while the members keep their routings). A twin alone is
   the one-job case, and a tick split by a mid-tick FIB install stacks its parts the same way.
   Stacking pays while the arrays stay in cache: chunks of at most ``STACKED_ENTRIES`` path
   entries (b2b4-casc1 has 1.9k, large 65k: large's members go one per call).
3. **Flow model** (done): ``network_steps`` poses every job's hot-flow problem and solves
   them all in one call of the compiled flow model (``twin.physics.flows.solve_packed``),
   which loops over the problems and solves each as it would alone (its own settling loops,
   tolerance tests and max-min water-filling, fair queueing included), so a member's solution
   is its solo one bit for bit with no stacked variant of the model. The offered load and hot
   arcs, posing each member's problem and taking its solution back, and the path and group
   metrics after the flow model, are kernels too (``_offered_load``, ``_pose``, ``_take``,
   ``_path_metrics``) over the members' stacked arrays. Chunks still pay: on b2b4-casc1 one
   call for 40 members costs ~53 us a member, chunks of ~17 ~30 us (the arrays leave the cache).
4. **Monitors** (done, but for the per-member bookkeeping): ``Monitors.sample_many`` computes
   the exact values of all members in one pass (``_truth_many``; KPI sums are row sums of
   C-ordered (B, n) arrays, which a test shows give each row the bits of its 1-D sum; a
   fancy-indexed ``x[:, idx]`` is not C-ordered and does not, so it is taken with ``take``),
   then each member reads its counters and draws its noise (into its row of a stacked array)
   and its lost samples from its own generator in its own order, and the noise maths runs
   once for all (``_observe_many``). ``evaluate_many`` tests each rule group once for all
   members whose sample is not quiet; pending/open/calm state and opened/cleared alerts stay
   per member. What remains per member there: the counters' bookkeeping (``_read``, ``_lose``)
   and the alert state's dictionaries.
5. **Per-member Python**: the services' inputs (OOM kills, hogs) and the control-plane steps
   stay per member by design; routing builds are shared between members whose tables and
   configs match (``RoutingPool``, keyed by content).

In a vector env the batch pays in the kernels and little else. On b2b4-casc1, 64 members
against 64 single envs over the same 1,920 env-steps (cProfile), the network took 0.35 s against
0.52 s (restacking aside) and the monitors 0.46 s against 0.72 s; the per-member Python (SimPy
wake-ups, control-plane steps, the services' inputs, tools, observations) is the same in both,
and members change routing every few steps, so a chunk is restacked most rounds (``_stacked``:
one ``repeat`` per field, 276 us for 50 members). The native vector env runs at about
SyncVectorEnv's rate. A tick over one struct of arrays, with the control plane as array steps
over the batch axis, is what would change that.

What stays per member: the SimPy environment, every control-plane process (TE, IGP, health,
DNS, autoscaler, changes, faults, operator actions) and the random streams. The driver brings
each member's environment to the head of its tick's wake-up (processing every earlier event,
and those due at the same time but scheduled before it, in the member's own order), runs the
ticks of all members together, then lets each member's tick process take its precomputed
result. So member ``i`` of a batch records bit-identical telemetry, events and alerts to the
same twin run alone with the same seed and actions (``tests/sim/test_batch.py`` checks it).

Members need not be at one time: :meth:`TwinBatch.advance` takes a target per member (a vector
env's tool calls last different times, ``twin.envs.vector``). Each round, every member due to
tick before its target takes its own next tick; the network and services models run once for
the round (the services model reads the time only per call edge, so each edge gets its
member's), and so do the monitors (one time per member: its sampling phase, timestamps and
alert times).

>>> from twin import Twin
>>> batch = Twin("sockshop-cpu-hog", seed=1).fork_batch(3)
>>> batch.run(until=600)
>>> [m.now for m in batch.members]
[600.0, 600.0, 600.0]
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from twin.errors import SimulationError
from twin.sim.collect import fewer_collections
from twin.sim.network import NetworkParams, NetworkResult, network_steps
from twin.physics.services import Carried, Clients, ServiceResult, Services, service_step


#: How a batch advances its members: ``twin.sim.twin.run_together`` (members, target or one
#: target per member, network, services). Passed in by ``Twin.fork_batch`` so that this module
#: need not import the twin's.
Driver = Callable[[list, "float | list[float]", Callable, Callable], None]

__all__ = ["TwinBatch"]

#: Path entries (flow x arc) the network physics stacks in one call at most: past a few tens of
#: thousands the arrays leave the caches and a stacked call costs more per member than solo
#: calls (``large`` has 65k entries: its members run one per call).
STACKED_ENTRIES = 32768

#: A services result's array fields, in order (``carried`` comes last), and the carried state's.
_RESULT_FIELDS = tuple(f for f in ServiceResult.__dataclass_fields__ if f != "carried")
_CARRIED_FIELDS = tuple(Carried.__dataclass_fields__)


class TwinBatch:
    """Twins of one scenario (same world) at one instant, run forward together.

    Made by ``Twin.fork_batch(n)``. ``members[i]`` is a :class:`~twin.sim.twin.Twin`: act on it, read its telemetry, fork it.
    Run the batch with :meth:`run`; running a member alone also works (it then leaves the
    batch's instant, and the batch refuses to run until the members agree again).
    """

    def __init__(self, members: list, driver: Driver) -> None:
        if not members:
            raise SimulationError("a batch needs at least one member (members=[])")
        first = members[0]
        for i, m in enumerate(members):
            if m.world is not first.world:
                raise SimulationError(f"members[{i}] has another world: a batch shares one scenario's world")
        self.members = list(members)
        self._driver = driver
        self._network_kept: dict = {}
        self._clients_kept: tuple[tuple[Clients, ...], Clients] | None = None

    def __len__(self) -> int:
        return len(self.members)

    @property
    def now(self) -> float:
        return self.members[0].now

    def run(self, until: float | str) -> None:
        """Advance every member to ``until`` (seconds or a duration like ``"30m"``)."""
        from twin.units import parse_duration

        target = parse_duration(until) if isinstance(until, str) else float(until)
        nows = {m.now for m in self.members}
        if len(nows) > 1:
            raise SimulationError(f"members are at different times {sorted(nows)}: run them alone to one time first")
        if target < self.now:
            raise SimulationError(f"until={target} is in the past (now={self.now})")
        with fewer_collections():
            self._driver(self.members, target, self._network, self._services)

    def advance(self, targets: list[float]) -> None:
        """Advance member ``i`` to ``targets[i]``, whatever time each is at now (a vector env's
        members drift apart: tool calls last different times). At each tick time the members
        due to tick then and bound beyond it tick together."""
        if len(targets) != len(self.members):
            raise SimulationError(f"{len(targets)} targets for {len(self.members)} members: give one each")
        with fewer_collections():
            self._driver(self.members, list(targets), self._network, self._services)

    def _network(self, jobs: list, params: NetworkParams) -> list[NetworkResult]:
        """The members' network physics, stacked in chunks of at most ``STACKED_ENTRIES`` path
        entries (stacked index arrays kept between ticks, per chunk)."""
        world, out, lo = self.members[0].world, [], 0
        kept = self._network_kept
        while lo < len(jobs):
            hi, size = lo + 1, jobs[lo].routing.flow_of.size
            while hi < len(jobs) and size + jobs[hi].routing.flow_of.size <= STACKED_ENTRIES:
                size += jobs[hi].routing.flow_of.size
                hi += 1
            # per chunk of states (members that tick apart make other chunks); network_steps checks
            # by identity that what it kept there still fits the jobs
            key = tuple(id(j.state) for j in jobs[lo:hi])
            if key not in kept and len(kept) >= 64:
                kept.clear()
            out += network_steps(world, jobs[lo:hi], params, kept=kept.setdefault(key, {}))
            lo = hi
        return out

    def _services(self, inputs: list, now: float | list[float], dt: float) -> list[ServiceResult]:
        """The services model once for all members; each member's slice of the result.
        ``now``: one time for all, or each member's (members apart in time tick together: the
        model reads the time only elementwise, per call edge, so each edge gets its member's)."""
        b = len(inputs)
        if b == 1:
            return [service_step(*inputs[0].args, now if np.ndim(now) == 0 else now[0], dt)]
        svcs, clients, carried = [i.args[0] for i in inputs], [i.args[1] for i in inputs], [i.args[2] for i in inputs]
        n, m = svcs[0].entry_rps.shape[0], clients[0].src.shape[0]
        at = now if np.ndim(now) == 0 else np.repeat(np.asarray(now, dtype=float), m)
        stacked = service_step(
            Services(*(np.concatenate([getattr(s, f) for s in svcs]) for f in Services.__dataclass_fields__)),
            self._stacked_clients(tuple(clients), n),
            Carried(*(np.concatenate([getattr(c, f) for c in carried]) for f in Carried.__dataclass_fields__)),
            np.concatenate([i.args[3] for i in inputs]), np.concatenate([i.args[4] for i in inputs]),
            inputs[0].args[5], at, dt, members=b,
        )
        return _member_results(stacked, b)

    def _stacked_clients(self, clients: tuple[Clients, ...], n: int) -> Clients:
        """The members' client policies as one (kept while every member keeps its own)."""
        kept = self._clients_kept
        if kept is not None and len(kept[0]) == len(clients) and all(a is b for a, b in zip(kept[0], clients)):
            return kept[1]
        first = clients[0]
        for c in clients[1:]:  # what selects the model's code paths must agree
            if c.derived.breakers != first.derived.breakers or c.derived.limited != first.derived.limited:
                raise SimulationError("members disagree on circuit breakers or concurrency limits")
        offsets = np.repeat(np.arange(len(clients)) * n, first.src.shape[0])
        fields = {f: np.concatenate([getattr(c, f) for c in clients]) for f in Clients.__dataclass_fields__}
        fields["src"] = fields["src"] + offsets
        fields["dst"] = fields["dst"] + offsets
        stacked = Clients(**fields)
        self._clients_kept = (clients, stacked)
        return stacked


def _member_results(res: ServiceResult, b: int) -> list[ServiceResult]:
    """Each member's part (views) of a stacked services result: every field seen once as a
    (members, services or edges) array, of which member ``i`` takes row ``i``."""
    rows = [getattr(res, f).reshape(b, -1) for f in _RESULT_FIELDS]
    carried = [getattr(res.carried, f).reshape(b, -1) for f in _CARRIED_FIELDS]
    return [ServiceResult(*[r[i] for r in rows], Carried(*[c[i] for c in carried])) for i in range(b)]
