"""Small, hand-checkable reference cases for flow-model fidelity, as plain data.

No ns-3 import here: the cases are read by the ns-3 runner (``ns3_runner.py``), by the
comparison (``compare.py``) and by the tests.

Conventions
-----------
* A link is a full-duplex point-to-point link between two nodes. ``rate_mbps`` and
  ``delay_ms`` (one way) apply to both directions; so do ``queue_pkts`` and ``qdisc``
  (the queue disc sits on the transmitting device of each direction).
* ``qdisc`` is always explicit: ``'droptail'`` (one FIFO, tail drop) or ``'fq'`` (per-flow
  fair queueing; see ``QDISCS`` for the exact ns-3 disc and its settings).
* Flows are unidirectional: ``'tcp'`` is a bulk transfer (always has data to send);
  ``'udp'`` is constant bit rate at ``rate_mbps``, counted at the IP layer (1500-byte IP
  packets, i.e. 1472 bytes of UDP payload), so a 2 Mbps UDP flow puts 2 Mbps of IP packets
  on each link it crosses; packets leave the source as a Poisson process of that mean rate
  by default (``Flow.jitter``).
* Routing is shortest path (hop count); every case here is a tree or a chain, so each
  flow has exactly one path.
* Unless noted: bottlenecks 10 Mbps, every link 2 ms one way, queues 100 packets, access
  links 100 Mbps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

POISSON = -1.0  # Flow.jitter value meaning exponential gaps
PACKET_BYTES = 1500  # IP packet size for UDP flows and the TCP MSS choice (1448 + 52 headers)

QDISCS = {
    # One FIFO, tail drop, MaxSize = queue_pkts packets.
    "droptail": "ns3::FifoQueueDisc",
    # Per-flow DRR fair queueing (quantum = 1 MTU, 1024 hashed flow queues, set-associative
    # hash) sharing one buffer of queue_pkts packets. CoDel is switched off by a 1000 s
    # target (it never sees a sojourn time that long); when the shared buffer is full the
    # disc drops from the head of the longest flow queue, one packet at a time
    # (DropBatchSize=1): "longest queue drop", the closest ns-3 has to plain per-flow fair
    # queueing with tail drop.
    "fq": "ns3::FqCoDelQueueDisc",
}


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    rate_mbps: float
    delay_ms: float = 2.0
    queue_pkts: int = 100
    qdisc: str = "droptail"
    bottleneck: bool = False  # report this link's throughput (direction a -> b)

    @property
    def name(self) -> str:
        return f"{self.a}-{self.b}"


@dataclass(frozen=True)
class Flow:
    id: str
    src: str
    dst: str
    kind: str  # 'tcp' (bulk) or 'udp' (constant bit rate)
    rate_mbps: float | None = None  # udp only: IP-layer rate
    start_s: float = 0.0
    stop_s: float | None = None  # None: until the end of the run
    packet_bytes: int = PACKET_BYTES
    # udp only, how packets are spaced around the mean gap T (the mean rate is exact):
    # POISSON (default) exponential gaps; 0 strictly periodic; 0 < j < 1 uniform in
    # T*(1 +- j). Strictly periodic sources phase-lock in a full drop-tail queue (one
    # starves another); Poisson arrivals see the same loss fraction at a drop-tail queue
    # (PASTA), which is what a hand calculation assumes. See README.
    jitter: float = -1.0  # == POISSON


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    nodes: tuple[str, ...]
    links: tuple[Link, ...]
    flows: tuple[Flow, ...]
    expect: str = ""  # what a hand calculation says, for the reader
    # simulated time and warm-up; TCP over a 100-packet drop-tail queue has loss cycles
    # of several seconds, so TCP cases need minutes to average (30 s gave 6.1/3.9 for two
    # equal flows, 60 s gave 5.7/4.3)
    duration_s: float = 30.0
    warmup_s: float = 5.0

    def path(self, src: str, dst: str) -> list[Link] | None:
        """Shortest (hop-count) path from src to dst as a list of links, or None."""
        adj: dict[str, list[tuple[str, Link]]] = {n: [] for n in self.nodes}
        for ln in self.links:
            adj[ln.a].append((ln.b, ln))
            adj[ln.b].append((ln.a, ln))
        prev: dict[str, tuple[str, Link] | None] = {src: None}
        todo = deque([src])
        while todo:
            n = todo.popleft()
            if n == dst:
                break
            for m, ln in adj[n]:
                if m not in prev:
                    prev[m] = (n, ln)
                    todo.append(m)
        if dst not in prev:
            return None
        out: list[Link] = []
        n = dst
        while prev[n] is not None:
            p, ln = prev[n]  # type: ignore[misc]
            out.append(ln)
            n = p
        return out[::-1]

    @property
    def bottlenecks(self) -> list[Link]:
        return [ln for ln in self.links if ln.bottleneck]


ACCESS = 100.0
BOTTLENECK = 10.0


def _access(host: str, router: str, delay_ms: float = 2.0, qdisc: str = "droptail") -> Link:
    return Link(host, router, ACCESS, delay_ms=delay_ms, qdisc=qdisc)


def _bottleneck(a: str, b: str, qdisc: str = "droptail", queue_pkts: int = 100) -> Link:
    return Link(a, b, BOTTLENECK, queue_pkts=queue_pkts, qdisc=qdisc, bottleneck=True)


def dumbbell(
    name: str,
    description: str,
    flows: list[Flow],
    qdisc: str = "droptail",
    access_delay_ms: dict[str, float] | None = None,
    expect: str = "",
) -> Case:
    """Senders s0..sN -> r0 -> r1 -> receivers d0..dN; one 10 Mbps bottleneck r0-r1."""
    n = max(int(f.src[1:]) for f in flows) + 1
    delays = access_delay_ms or {}
    senders = [f"s{i}" for i in range(n)]
    receivers = [f"d{i}" for i in range(n)]
    links = [_bottleneck("r0", "r1", qdisc)]
    links += [_access(s, "r0", delays.get(s, 2.0), qdisc) for s in senders]
    links += [_access(d, "r1", delays.get(d, 2.0), qdisc) for d in receivers]
    return Case(name, description, tuple(senders + ["r0", "r1"] + receivers), tuple(links),
                tuple(flows), expect)


def _udp(i: int, mbps: float, src: str | None = None, dst: str | None = None) -> Flow:
    return Flow(f"udp{i}", src or f"s{i}", dst or f"d{i}", "udp", rate_mbps=mbps)


def _tcp(i: int, start: float = 0.0, src: str | None = None, dst: str | None = None) -> Flow:
    # staggered starts (0.1 s apart) avoid lock-step slow starts
    return Flow(f"tcp{i}", src or f"s{i}", dst or f"d{i}", "tcp", start_s=start + 0.1 * i)


def chain(name: str, description: str, hops: int, flows: list[Flow], qdisc: str = "droptail",
          expect: str = "") -> Case:
    """Routers r0..r{hops} in a chain of 10 Mbps bottlenecks; hosts hang off the routers.

    Flow endpoints name hosts as ``h<router>_<k>`` (e.g. ``h0_1`` is host 1 on r0); each
    host gets a 100 Mbps access link to its router.
    """
    routers = [f"r{i}" for i in range(hops + 1)]
    links = [_bottleneck(routers[i], routers[i + 1], qdisc) for i in range(hops)]
    hosts = sorted({f.src for f in flows} | {f.dst for f in flows})
    links += [_access(h, f"r{h[1:].split('_')[0]}", qdisc=qdisc) for h in hosts]
    return Case(name, description, tuple(routers + hosts), tuple(links), tuple(flows), expect)


def _parking_lot() -> Case:
    flows = [Flow("long", "h0_0", "h3_0", "tcp", start_s=0.0)]
    flows += [Flow(f"short{i}", f"h{i}_1", f"h{i + 1}_1", "tcp", start_s=0.1 * (i + 1))
              for i in range(3)]
    return chain(
        "b-parking-lot",
        "Parking lot: 3 bottleneck hops r0-r1-r2-r3; one long TCP flow across all three, "
        "one short TCP flow per hop. Drop-tail.",
        3, flows,
        expect="max-min: 5 Mbps each; TCP (RTT- and loss-biased) gives the long flow less",
    )


def _two_hop(qdisc: str) -> Case:
    flows = [
        Flow("long", "h0_0", "h2_0", "udp", rate_mbps=8.0),
        Flow("cross1", "h0_1", "h1_1", "udp", rate_mbps=8.0),
        Flow("cross2", "h1_2", "h2_2", "udp", rate_mbps=8.0),
    ]
    return chain(
        f"e-two-hop-udp-{qdisc}",
        "Two 10 Mbps hops r0-r1-r2; UDP 8 Mbps across both hops plus 8 Mbps of cross "
        f"traffic on each hop. {'Drop-tail' if qdisc == 'droptail' else 'Fair queueing'}.",
        2, flows, qdisc=qdisc,
        expect=("max-min 5/5/5; drop-tail shares in proportion to arrival: hop 1 5/5, "
                "hop 2 long arrives at 5 vs 8 -> 3.85/6.15"
                if qdisc == "droptail" else "max-min: 5/5/5"),
    )


def _rtt(qdisc: str) -> Case:
    return dumbbell(
        f"f-rtt-{qdisc}",
        "Two TCP flows on one 10 Mbps bottleneck, sender access delay 1 ms vs 40 ms "
        f"(base RTT 10 vs 88 ms). {'Drop-tail' if qdisc == 'droptail' else 'Fair queueing'}.",
        [_tcp(0), _tcp(1)], qdisc=qdisc, access_delay_ms={"s0": 1.0, "s1": 40.0},
        expect=("TCP ~1/RTT bias: short flow gets most" if qdisc == "droptail"
                else "fair queueing: close to 5/5"),
    )


def _overload(qdisc: str, jitter: float = POISSON) -> Case:
    periodic = "-periodic" if jitter == 0 else ""
    return dumbbell(
        f"d-overload-udp-{qdisc}{periodic}",
        "UDP 2, 8, 8 Mbps on one 10 Mbps bottleneck "
        f"({'drop-tail' if qdisc == 'droptail' else 'fair queueing'})"
        + (". Strictly periodic sources: shows the phase-lock artefact, not a reference."
           if jitter == 0 else "."),
        [replace(_udp(i, r), jitter=jitter) for i, r in enumerate((2.0, 8.0, 8.0))],
        qdisc=qdisc,
        expect=("drop-tail: each loses the same fraction 8/18 -> 1.11/4.44/4.44"
                if qdisc == "droptail" else "max-min: 2/4/4, small flow loses nothing"),
    )


CASES: tuple[Case, ...] = (
    dumbbell(
        "a-two-tcp",
        "Dumbbell: two TCP bulk flows share one 10 Mbps bottleneck (equal RTT). Drop-tail.",
        [_tcp(0), _tcp(1)],
        expect="5/5 on average; queue mostly full",
    ),
    _parking_lot(),
    dumbbell(
        "c-udp-capped",
        "UDP 2, 3, 4 Mbps on one 10 Mbps bottleneck: demand below capacity, no loss.",
        [_udp(0, 2.0), _udp(1, 3.0), _udp(2, 4.0)],
        expect="2/3/4 delivered, no loss, delay = propagation + transmission only",
    ),
    _overload("droptail"),
    _overload("fq"),
    _overload("droptail", jitter=0.0),
    _two_hop("droptail"),
    _two_hop("fq"),
    _rtt("droptail"),
    _rtt("fq"),
    dumbbell(
        "g-tcp-vs-udp",
        "One TCP bulk flow and one 4 Mbps UDP flow on one 10 Mbps bottleneck. Drop-tail.",
        [_tcp(0), _udp(1, 4.0)],
        expect="UDP ~4 (small loss), TCP the rest (~6)",
    ),
    dumbbell(
        "h-tcp-alone",
        "One TCP bulk flow alone on a 10 Mbps bottleneck with a 100-packet drop-tail queue.",
        [_tcp(0)],
        expect="~9.5 Mbps goodput; RTT 12 ms base + up to 120 ms queueing",
    ),
)

CASES = tuple(
    replace(c, duration_s=120.0, warmup_s=10.0) if any(f.kind == "tcp" for f in c.flows) else c
    for c in CASES
)
BY_NAME = {c.name: c for c in CASES}


def validate(case: Case) -> list[str]:
    """Problems with a case (empty list: well-formed)."""
    errs: list[str] = []
    nodes = set(case.nodes)
    if len(nodes) != len(case.nodes):
        errs.append("duplicate node names")
    seen = set()
    for ln in case.links:
        if ln.a not in nodes or ln.b not in nodes:
            errs.append(f"link {ln.name}: unknown endpoint")
        if frozenset((ln.a, ln.b)) in seen:
            errs.append(f"link {ln.name}: parallel link")
        seen.add(frozenset((ln.a, ln.b)))
        if ln.qdisc not in QDISCS:
            errs.append(f"link {ln.name}: qdisc {ln.qdisc!r} not one of {sorted(QDISCS)}")
        if ln.rate_mbps <= 0 or ln.delay_ms < 0 or ln.queue_pkts < 1:
            errs.append(f"link {ln.name}: bad rate/delay/queue")
    ids = [f.id for f in case.flows]
    if len(set(ids)) != len(ids):
        errs.append("duplicate flow ids")
    for f in case.flows:
        if f.src not in nodes or f.dst not in nodes or f.src == f.dst:
            errs.append(f"flow {f.id}: bad endpoints")
            continue
        if case.path(f.src, f.dst) is None:
            errs.append(f"flow {f.id}: {f.src} and {f.dst} not connected")
        if f.kind not in ("tcp", "udp"):
            errs.append(f"flow {f.id}: kind {f.kind!r}")
        if f.kind == "udp" and not (f.rate_mbps and f.rate_mbps > 0):
            errs.append(f"flow {f.id}: udp needs a positive rate_mbps")
        if f.kind == "tcp" and f.rate_mbps is not None:
            errs.append(f"flow {f.id}: tcp is bulk, no rate_mbps")
        if not (0.0 <= f.jitter < 1.0 or f.jitter == POISSON):
            errs.append(f"flow {f.id}: jitter must be in [0, 1) or POISSON")
        if f.stop_s is not None and f.stop_s <= f.start_s:
            errs.append(f"flow {f.id}: stop before start")
    if not case.bottlenecks:
        errs.append("no bottleneck link marked")
    return errs
