"""Every future of one pre-check decision, simulated as one batch of twins.

A decision trials candidates on what-if draws (:mod:`twin.safety.precheck`): for each (candidate,
draw) a future in which the candidate lands, and the futures of doing nothing it is compared
with. Under one draw these futures are one future until they part: doing nothing and every
candidate agree up to the candidate's action, doing nothing with and without the draw's failure
agree up to the failure. So each draw keeps one *trunk* (a fork of the present, reseeded and
scaled by the draw, doing nothing and failing nothing), and a future forks from its trunk when
it parts from it (a fork continues exactly as the twin it was forked from would have). A
candidate with no twin action (a config-only change) stays on the trunk until its failure.

All the live twins are advanced together as a :class:`~twin.sim.batch.TwinBatch` from one
parting time to the next (a batch needs its members at one time); between runs each member
that parts at that time is forked, acted on or failed. The N-1 checks (a fork of each
candidate's future failing the busiest WAN link for one tick) run as one more batch.

Between runs each live future's own samples but its latest are slimmed to what the figures read
(:func:`~twin.safety.figures.slim_sample`: KPIs and the WAN links' rows). On ``large`` a sample
holds ~250 kB, nearly all fabric links; a ranking kept ~9,000 of them (5.3 GB peak RSS), and
faulting that memory in cost the forked workers 1-5 s of system time. Slim: 1.3 GB, page faults
600k -> 190k, ranking 5.4-6.0 -> 4.7 s in one process and 3.1-5.7 -> 2.6-2.7 s with the pool.

Each (candidate, draw) gets the figures, failure and N-1 answer that simulating its futures one
by one gives (``tests/safety/test_batched_precheck.py`` compares with reports recorded before).

Where the time of ``rank`` (b2b4-casc1 at 12m, 5 candidates x 8 draws x 30 min, in-process,
cProfile) went::

    one future at a time: 57 futures, 10,300 solo ticks        13.5 s (8.3 s unprofiled)
      network 4.3, services 3.9, monitors 3.6, SimPy and the rest 1.7
    one batch: 60 twins, 9,674 member-ticks in 21 runs          4.9 s (3.5-4.0 s unprofiled)
      network 1.2, monitors 1.2, services 0.4 + per-member inputs/outputs 0.7,
      SimPy wake-ups 0.4, forks 0.24, N-1 batch 0.23

What is left is the batched tick itself (~0.3 ms a member-tick on b2b4-casc1). Where a member's
network does not stack (``large``), the futures keep their trunks and parting times but run
one by one (:func:`twin.belief.batch_pays`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.belief import batch_pays
from twin.errors import SafetyError
from twin.safety.figures import read_figures, slim_sample, wan_links, wan_rows
from twin.safety.mitigation import Mitigation
from twin.sim.actions import ACTIONS
from twin.sim.batch import TwinBatch
from twin.sim.collect import fewer_collections
from twin.sim.twin import Twin, run_together

__all__ = ["FAIL_AFTER_S", "SERVICE_TOOLS", "Trial", "landing_time", "run_jobs", "run_trials", "split_draws"]

#: A draw's failure comes this long after the mitigation lands.
FAIL_AFTER_S = 60.0
#: Tools whose failure is a replica of the service they act on (else a busy WAN link fails).
SERVICE_TOOLS = ("scale_service", "restart_service", "rollback_deploy", "rate_limit")


@dataclass(frozen=True)
class Trial:
    """One future to simulate: ``mitigation`` under draw ``draw`` (an index into the draws), from
    present ``present`` (an index into :func:`run_trials`' presents); ``None`` is doing nothing,
    with its failure chosen on its own future."""

    mitigation: Mitigation | None
    draw: int
    present: int = 0

    @property
    def trunk(self) -> tuple[int, int]:
        """The trunk this future parts from: its present's fork under its draw."""
        return (self.present, self.draw)


def landing_time(t0: float, m: Mitigation | None, delay: float) -> float:
    """When ``m``, started ``delay`` seconds after ``t0``, has landed (a minute for a change with no twin action)."""
    return t0 + delay + (ACTIONS[m.tool].duration if m is not None and m.tool in ACTIONS else 60.0)


# -- one what-if: the draw's start, its failure, the N-1 check ------------------------------------
def _start(twin: Twin, draw: Any) -> Twin:
    fork = twin.fork()
    fork.reseed(draw.seed)
    st = fork.state
    if draw.demand != 1.0:
        st.network.class_factor = st.network.class_factor * draw.demand
        st.services.entry_factor = st.services.entry_factor * draw.demand
    return fork


def _choose_failure(fork: Twin, m: Mitigation | None, draw: Any) -> str | None:
    if m is not None and m.tool in SERVICE_TOOLS and "service" in m.args:
        return f"service:{m.args['service']}"
    latest = fork.telemetry.latest()
    wan = np.flatnonzero(wan_links(fork) & (fork.state.network.link_down == 0) & ~fork.state.network.link_drained)
    thr = np.nan_to_num(latest.truth.link[wan, 3]) if latest is not None else np.zeros(wan.size)
    top = wan[np.argsort(-thr, kind="stable")[:3]]
    if top.size == 0:
        return None  # no WAN link left to fail
    return f"link:{fork.world.topology.links[int(top[int(draw.pick * top.size)])]}"


def _apply_failure(fork: Twin, failure: str) -> None:
    kind, _, name = failure.partition(":")
    st = fork.state
    if kind == "link":
        st.network.link_down[fork.world.topology.link_index[name]] += 1
        fork.topology_changed()
    else:  # one replica crashes and restarts a minute later
        i = fork.world.callgraph.index()[name]
        if st.services.replicas_up[i] >= 1:
            st.services.replicas_up[i] -= 1
            st.services.replicas_ready_at.append((fork.now + 60.0, int(i), 1.0, False))
    fork.log("precheck", name, f"what-if: {name} fails")


def _n1_fork(fork: Twin) -> Twin | None:
    """The N-1 check: a fork of ``fork`` with its busiest WAN link failed, to run one tick (None: no WAN link up, the check passes)."""
    latest = fork.telemetry.latest()
    wan = np.flatnonzero(wan_links(fork) & (fork.state.network.link_down == 0))
    if latest is None or wan.size == 0:
        return None
    i = int(wan[np.argmax(np.nan_to_num(latest.truth.link[wan, 0]))])
    g = fork.fork()
    g.state.network.link_down[i] += 1
    g.topology_changed()
    return g


def _n1_read(g: Twin) -> bool:
    """After the N-1 fork's tick: does class loss stay under the SLO?"""
    kpi = g.telemetry.latest().kpi
    slo = g.scenario.slo.user_loss
    return bool(kpi.get("user_loss", 0.0) <= slo and kpi.get("interdc_loss", 0.0) <= slo)


# -- every future of a decision ---------------------------------------------------------------
@fewer_collections()
def run_trials(twin: Twin | Sequence[Twin], draws: Sequence, trials: Sequence[Trial], end: float, settle: float,
               batched: bool | None = None) -> list[tuple]:
    """Simulate ``trials`` on futures of ``twin`` (at its present) up to ``end``.

    Returns, per trial, ``(candidate figures, doing-nothing figures, failure, n1_ok, landing)``
    (:func:`twin.safety.precheck.draw_summary` reads it); a trial of ``None`` gets its own
    figures twice. ``twin`` may be several presents at one time and of one world (the operator's
    twins under several hypotheses, :func:`twin.belief.belief_twins`), ``Trial.present`` naming
    each trial's: every present's trunks and futures then run in the one batch. ``draws``: :class:`~twin.safety.precheck.Draw` s, indexed by ``Trial.draw``.
    ``batched``: advance the futures as one batch, or one by one (the same results); default
    :func:`twin.belief.batch_pays`.
    """
    presents = [twin] if isinstance(twin, Twin) else list(twin)
    t0 = presents[0].now
    for p, other in enumerate(presents):
        if other.now != t0:
            raise SafetyError(f"presents[{p}] is at {other.now:g} s, presents[0] at {t0:g} s: presents share one time")
        if other.world is not presents[0].world:
            raise SafetyError(f"presents[{p}] has another world than presents[0]: presents share one world "
                              "(build them with twin.belief.belief_twins)")
    for t in trials:
        if not 0 <= t.present < len(presents):
            raise SafetyError(f"Trial.present must index the {len(presents)} presents (0-{len(presents) - 1}), "
                              f"got {t.present}")
    plan = _Plan(presents, draws, sorted({t.trunk for t in trials}), batched)
    # what parts from the trunk, and when: (time, order, trial); actions before failures at one time
    moments: list[tuple[float, int, int]] = []
    for i, t in enumerate(trials):
        draw = draws[t.draw]
        landing = landing_time(t0, t.mitigation, draw.delay)
        plan.landing[i] = landing
        start = min(t0 + draw.delay, end)
        if t.mitigation is not None and start < end and t.mitigation.tool in ACTIONS:
            moments.append((start, 0, i))
        t_fail = landing + FAIL_AFTER_S
        if draw.fail and t_fail < end:
            moments.append((t_fail, 1, i))
    moments.sort()
    # a trunk that no future ends on (each of its trials fails) leaves the batch after its last fork
    failing = {i for _, what, i in moments if what == 1}
    ends_on = {t.trunk for i, t in enumerate(trials) if i not in failing}
    plan.retire = {trials[i].trunk: at for at, _, i in moments if trials[i].trunk not in ends_on}
    for k, (at, what, i) in enumerate(moments):
        if k == 0 or at != moments[k - 1][0]:
            plan.run(at)
        t, draw = trials[i], draws[trials[i].draw]
        trunk = plan.trunks[t.trunk]
        if what == 0:
            plan.own[i] = plan.add(trunk.fork())
            plan.own[i].act(t.mitigation.tool, **dict(t.mitigation.args))
            continue
        mine = plan.own.get(i)
        if mine is None:  # on the trunk until now
            mine = plan.own[i] = plan.add(trunk.fork())
        failure = _choose_failure(mine, t.mitigation, draw)
        plan.failure[i] = failure
        if failure is not None:
            _apply_failure(mine, failure)
        if t.mitigation is None:
            continue  # doing nothing is its own baseline
        key = (t.trunk, failure, at if failure else 0.0)
        if failure is not None and key not in plan.baselines:
            plan.baselines[key] = base = plan.add(trunk.fork())
            _apply_failure(base, failure)
        elif failure is None:  # doing nothing there may still find a link to fail
            base = plan.add(trunk.fork())
            chosen = _choose_failure(base, None, draw)
            if chosen is not None:
                _apply_failure(base, chosen)
            plan.unfailed[i] = base
    plan.run(end)

    out: list[tuple] = []
    for i, t in enumerate(trials):
        draw, landing = draws[t.draw], plan.landing[i]
        mine = plan.own.get(i, plan.trunks[t.trunk])
        n0, c0 = plan.counts[t.trunk]
        fc = read_figures(mine, n0, t0, landing, settle, draw.seed, c0)
        if t.mitigation is None:
            out.append((fc, fc, plan.failure.get(i), None, landing))
            continue
        base = plan.baseline(i, t, trials)
        fb = read_figures(base, n0, t0, landing, settle, draw.seed, c0)
        out.append((fc, fb, plan.failure.get(i), None, landing))
    n1 = _n1_many([plan.own.get(i, plan.trunks[t.trunk]) for i, t in enumerate(trials)],
                  [i if i in plan.own else t.trunk for i, t in enumerate(trials)], plan.batched)
    return [(fc, fb, failure, ok, landing) for (fc, fb, failure, _, landing), ok in zip(out, n1)]


class _Plan:
    """The live futures of one decision: a trunk per (present, draw), the forks that parted from it."""

    def __init__(self, presents: list[Twin], draws: Sequence, used: list[tuple[int, int]], batched: bool | None) -> None:
        self.batched = batched if batched is not None else batch_pays(presents[0])
        self.trunks = {(p, d): _start(presents[p], draws[d]) for p, d in used}
        self.counts = {d: (len(t.telemetry.samples), len(t.telemetry.closed_alerts)) for d, t in self.trunks.items()}
        self.live: list[Twin] = list(self.trunks.values())
        self.own: dict[int, Twin] = {}  # trial -> its future, once it parted from the trunk
        self.failure: dict[int, str | None] = {}
        self.landing: dict[int, float] = {}
        self.baselines: dict[tuple[tuple[int, int], str | None, float], Twin] = {}
        self.unfailed: dict[int, Twin] = {}  # trial whose candidate had nothing to fail -> doing nothing's own try
        self.retire: dict[tuple[int, int], float] = {}  # trunk -> the last time it is forked, where no future ends on it

    def add(self, fork: Twin) -> Twin:
        self.live.append(fork)
        return fork

    def run(self, until: float) -> None:
        gone = [self.trunks[d] for d, last in self.retire.items() if last < until]
        self.live = [m for m in self.live if not any(m is g for g in gone)]
        if not self.live or until <= self.live[0].now:
            return
        if self.batched:
            TwinBatch(self.live, run_together).run(until)
        for m in self.live:
            if not self.batched:
                m.run(until=until)
            self.slim(m)

    def slim(self, m: Twin) -> None:
        """Keep of ``m``'s own samples, but its latest (fault triggers, the failure choice and
        the N-1 check read that one whole), what the figures read (:func:`slim_sample`)."""
        rows, _ = wan_rows(m.world)
        m.telemetry.samples.rewrite_own(lambda s: slim_sample(s, rows))

    def baseline(self, i: int, t: Trial, trials: Sequence[Trial]) -> Twin:
        """Doing nothing for trial ``i``. Where the candidate found nothing to fail, doing nothing
        is shared with every trial of the trunk keyed the same (no failure): it is the first such
        trial's (in trial order) future, as a cache filled trial by trial would hold."""
        failure = self.failure.get(i)
        if failure is not None:
            return self.baselines[(t.trunk, failure, self._fail_time(i))]
        for j, u in enumerate(trials):
            if u.trunk == t.trunk and u.mitigation is not None and self.failure.get(j) is None:
                return self.unfailed.get(j, self.trunks[t.trunk])
        return self.trunks[t.trunk]  # pragma: no cover - trial i itself matches

    def _fail_time(self, i: int) -> float:
        return self.landing[i] + FAIL_AFTER_S


def _n1_many(futures: list[Twin], keys: list, batched: bool) -> list[bool]:
    """The N-1 check of each future (once per distinct ``keys`` entry), the one-tick runs batched
    or one by one."""
    checks: dict = {}
    for f, key in zip(futures, keys):
        if key not in checks:
            checks[key] = _n1_fork(f)
    runs = [g for g in checks.values() if g is not None]
    if runs and batched:
        TwinBatch(runs, run_together).run(runs[0].now + runs[0].scenario.tick)
    for g in runs if not batched else ():
        g.run(until=g.now + g.scenario.tick)
    return [True if checks[key] is None else _n1_read(checks[key]) for key in keys]


#: The jobs a pool's workers run (inherited by forking; set only while a pool runs).
_JOBS: list[tuple] | None = None


def _job(k: int) -> list[tuple]:
    jobs = _JOBS
    assert jobs is not None, "worker started without jobs"
    return run_trials(*jobs[k])


def run_jobs(jobs: list[tuple], workers: int, progress: Callable[[int], None] | None = None) -> list[list[tuple]]:
    """:func:`run_trials` on each job's arguments ``(twin or presents, draws, trials, end, settle)``; with
    ``workers > 1`` in a pool of processes forked from this one (each inherits the twins
    copy-on-write; only figures travel back). ``progress`` gets each job's trial count."""
    global _JOBS
    if workers <= 1 or len(jobs) < 2:
        out = []
        for job in jobs:
            out.append(run_trials(*job))
            if progress:
                progress(len(job[2]))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    _JOBS = jobs
    try:
        results: dict[int, list[tuple]] = {}
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_job, k): k for k in range(len(jobs))}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(len(jobs[futures[fut]][2]))
        return [results[k] for k in range(len(jobs))]
    finally:
        _JOBS = None


def split_draws(draws: Sequence, parts: int) -> list[list[int]]:
    """Draw indices dealt into at most ``parts`` groups, the draws with a failure (whose
    doing-nothing futures fork again) dealt first so that the groups carry alike work."""
    parts = max(1, min(parts, len(draws)))
    order = sorted(range(len(draws)), key=lambda d: not draws[d].fail)
    return [sorted(order[k::parts]) for k in range(parts)]
