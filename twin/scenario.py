"""Scenario schema and loader.

A scenario is a YAML file: the topology (a generated or explicit WAN with planes, fat-tree
fabrics at sites), the services and their placement, traffic, control-plane settings, SLOs,
the fault schedule with cascade conditions, and ground truth (read only by scoring code).
Loading checks the schema (pydantic) and then referential integrity, and every problem is
reported as ``FILE: field.path: what is wrong (allowed values)``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
)

from twin.errors import ScenarioError
from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import fault_kinds
from twin.units import parse_duration
from twin.validation import validation_problem
from twin.yamlfile import read_yaml

__all__ = [
    "Scenario",
    "load_scenario",
    "scenario_paths",
    "SCENARIO_DIR",
    "FaultSpec",
    "scenario_schema",
    "parse_scenario",
]

SCENARIO_DIR = Path(__file__).resolve().parent / "data" / "scenarios"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Duration = Annotated[float, Field(ge=0)]


def _duration(v: Any) -> float:
    return parse_duration(v)


class _Timed(_Strict):
    @field_validator("*", mode="before")
    @classmethod
    def _durations(cls, v: Any, info: Any) -> Any:
        name = info.field_name or ""
        if name in cls.DURATIONS and v is not None:
            return _duration(v)
        return v

    DURATIONS: ClassVar[frozenset[str]] = frozenset()


class SiteSpec(_Strict):
    name: str
    region: str = ""
    lat: float | None = None
    lon: float | None = None


class LinkSpec(_Strict):
    a: str
    b: str
    capacity_gbps: float = Field(gt=0)
    delay_ms: float = Field(default=5.0, ge=0)
    metric: float | None = Field(default=None, gt=0)


class PlaneSpec(_Strict):
    name: str
    role: Literal["user", "interdc", "both"] = "both"
    links: list[LinkSpec] = Field(default_factory=list)


class WanGeneratorSpec(_Strict):
    sites: int = Field(ge=2, le=200)
    planes: list[str] = Field(default_factory=lambda: ["b2", "b4"])
    degree: int = Field(default=3, ge=1)
    capacity_gbps: float = Field(default=400.0, gt=0)
    delay_ms_per_hop: float = Field(default=15.0, ge=0)


class FabricSpec(_Strict):
    site: str
    k: int = Field(default=4, ge=2, le=64)
    oversubscription: float = Field(default=1.0, ge=1.0)
    link_gbps: float = Field(default=100.0, gt=0)
    flows_per_tor: int = Field(default=4, ge=0)
    utilisation: float = Field(default=0.25, ge=0, le=2)

    @field_validator("k")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"must be even (a k-ary fat-tree), got {v}")
        return v


class TopologySpec(_Strict):
    sites: list[SiteSpec] = Field(default_factory=list)
    planes: list[PlaneSpec] = Field(default_factory=list)
    generator: WanGeneratorSpec | None = None
    fabrics: list[FabricSpec] = Field(default_factory=list)


class ClientSpec(_Timed):
    """The client policy of the call edges it matches (``caller`` and/or ``callee``; a missing one
    matches any): fields left out keep the call graph's own (see :class:`twin.model.callgraph.Call`).
    ``retry_budget`` is retries per request (0.1: 10%), or ``unlimited``; ``breaker_threshold``
    is the failure ratio over ``breaker_window`` that opens a circuit breaker for
    ``breaker_cooldown``; ``max_inflight`` caps concurrent attempts (excess rejected fast)."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"breaker_window", "breaker_cooldown"})
    caller: str | None = None
    callee: str | None = None
    timeout_ms: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0, le=10)
    backoff_ms: float | None = Field(default=None, ge=0)
    retry_budget: float | None = Field(default=None, ge=0)
    breaker_threshold: float | None = Field(default=None, gt=0, le=1)
    breaker_window: Duration | None = Field(default=None, gt=0)
    breaker_cooldown: Duration | None = None
    max_inflight: float | None = Field(default=None, gt=0)

    @field_validator("retry_budget", mode="before")
    @classmethod
    def _unlimited(cls, v: Any) -> Any:
        if v == "unlimited":
            return float("inf")
        if isinstance(v, str):
            raise ValueError(f"expected a number >= 0 or 'unlimited', got {v!r}")
        return v

    def overrides(self) -> dict[str, float]:
        """The Call fields this spec sets, in the call graph's names and units."""
        names = {"breaker_window": "breaker_window_s", "breaker_cooldown": "breaker_cooldown_s"}
        out: dict[str, float] = {}
        for key in ("timeout_ms", "retries", "backoff_ms", "retry_budget", "breaker_threshold", "breaker_window",
                    "breaker_cooldown", "max_inflight"):
            value = getattr(self, key)
            if value is not None:
                out[names.get(key, key)] = float(value)
        return out


class ServicesSpec(_Strict):
    callgraph: str | dict[str, Any] | None = None
    generate: int | None = Field(default=None, ge=2, le=500)
    placement: dict[str, str] = Field(default_factory=dict)
    default_site: str | None = None
    entry_rps: dict[str, float] = Field(default_factory=dict)
    clients: list[ClientSpec] = Field(default_factory=list)  # client policies, applied in order
    queue_limit: dict[str, int] = Field(default_factory=dict)  # service -> requests queued per replica


class DemandSpec(_Strict):
    src: str
    dst: str
    traffic_class: Literal["user", "interdc"] = Field(alias="class")
    gbps: float = Field(ge=0)
    pattern: str | None = None


class GravitySpec(_Strict):
    user_gbps: float = Field(default=0.0, ge=0)
    interdc_gbps: float = Field(default=0.0, ge=0)


class DiurnalSpec(_Strict):
    amplitude: float = Field(default=0.15, ge=0, lt=1)
    peak_hour: float = Field(default=14.0, ge=0, lt=24)
    start_hour: float = Field(default=10.0, ge=0, lt=24)


class RetrySpec(_Timed):
    """Clients of a traffic class retry what the path loses (:mod:`twin.physics.clients`).

    ``max``: retries per request after the first attempt; ``budget``: extra attempts per
    original request at most (a client-side retry budget; none: only ``max`` caps them);
    ``backoff``: mean delay before a retry lands.
    """

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"backoff"})
    max: int = Field(default=3, ge=0, le=10)
    budget: float | None = Field(default=None, ge=0)
    backoff: Duration = 0.0


class ClassKindSpec(_Strict):
    """How one traffic class behaves under congestion (the flow model, :mod:`twin.physics.flows`).

    ``elastic: false`` (the default) is an aggregate that sends its demand whatever happens and
    loses the excess where a queue overflows: what a class's counters show when it is many
    short, rate-bound exchanges, and what keeps the historical scenarios' loss figures.
    ``elastic: true`` is TCP-like bulk traffic: it backs off under loss, shares by RTT (it is
    RTT-sensitive), and a saturated link shows a standing queue and little loss instead.

    ``deferrable: true`` is work that can wait (bulk replication, backups): traffic of the class
    that the operator sheds at the edge is deferred by its senders, not lost. It does not count
    against the loss SLO; it counts in the impact at a fraction of lost traffic's weight
    (``twin.sim.monitors.DEFERRED_WEIGHT``). Loss in the network still counts in full.
    """

    elastic: bool = False
    deferrable: bool = False
    connections: float = Field(default=1000.0, ge=1)  # TCP connections in one (site pair, class) aggregate
    burstiness: float = Field(default=1.0, ge=0)  # arrivals' squared coefficient of variation (0: constant rate)
    retries: RetrySpec | None = None  # clients that retry lost attempts (none: they do not)


class TrafficSpec(_Strict):
    demands: list[DemandSpec] = Field(default_factory=list)
    gravity: GravitySpec | None = None
    diurnal: DiurnalSpec = Field(default_factory=DiurnalSpec)
    noise: float = Field(default=0.02, ge=0, le=0.5)
    planes: dict[str, str] = Field(default_factory=lambda: {"user": "b2", "interdc": "b4"})
    kinds: dict[Literal["user", "interdc"], ClassKindSpec] = Field(default_factory=dict)
    fabric: ClassKindSpec = Field(default_factory=ClassKindSpec)  # background traffic inside fabrics

    @field_validator("fabric")
    @classmethod
    def _fabric_does_not_retry(cls, v: ClassKindSpec) -> ClassKindSpec:
        if v.retries is not None:
            raise ValueError("retries are modelled for WAN traffic classes only (allowed in traffic.kinds.user, traffic.kinds.interdc)")
        return v


class DampingSpec(_Timed):
    """Link flap damping (RFC 2439 style, as interface/IGP dampening applies it): each flap adds
    ``penalty``; the penalty halves every ``half_life``; above ``suppress`` the link is kept out
    of the routing tables until it decays below ``reuse`` (never longer than ``max_suppress``).
    Off by default, as in routers' shipped configurations."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"half_life", "max_suppress"})
    enabled: bool = False
    penalty: float = Field(default=1000.0, gt=0)
    suppress: float = Field(default=2000.0, gt=0)
    reuse: float = Field(default=750.0, gt=0)
    half_life: Duration = Field(default=900.0, gt=0)
    max_suppress: Duration = Field(default=3600.0, gt=0)

    @field_validator("reuse")
    @classmethod
    def _below_suppress(cls, v: float, info: Any) -> float:
        if v >= info.data.get("suppress", float("inf")):
            raise ValueError(f"must be below suppress ({info.data.get('suppress')}), got {v}")
        return v


class RoutingSpec(_Timed):
    """The IGP's timers: a link failure or recovery is detected after ``detect`` (hello/dead or
    BFD), an SPF runs ``spf`` later and its result is in the forwarding tables ``fib`` after
    that; until then forwarding uses the old tables. Under churn the SPF throttle doubles its
    wait up to ``spf_max``. ``jitter``: each delay varies by up to this fraction (seeded).
    ``spf_cost`` (0: free) makes recomputation load routers' CPUs; an overloaded router misses
    hellos and its adjacencies drop, which triggers more SPFs (a router-address change, which
    makes every router re-form its adjacencies, can start such waves)."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"detect", "spf", "fib", "spf_max", "adjacency", "spf_cost",
                                                     "load_window"})
    detect: Duration = 3.0
    spf: Duration = 1.0
    fib: Duration = 2.0
    spf_max: Duration = 10.0
    jitter: float = Field(default=0.0, ge=0, le=1)
    damping: DampingSpec = Field(default_factory=DampingSpec)
    # recompute load: each SPF costs every router of the plane ``spf_cost`` of control-plane CPU;
    # averaged over ``load_window``, a load above 1 makes routers miss hellos (adjacencies drop)
    adjacency: Duration = 5.0  # to re-form an adjacency after a reset (hellos, database exchange)
    spf_cost: Duration = 0.0
    load_window: Duration = Field(default=60.0, gt=0)


class PolicyTermSpec(_Strict):
    term: str
    match: Literal["site-local", "any"] = "site-local"
    local_pref: int = Field(default=100, ge=0)
    active: bool = True


def _check_prefix(v: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Network(str(v), strict=False))
    except ValueError:
        raise ValueError(f"not an IPv4 prefix (e.g. 172.16.1.0/24): {v!r}") from None


class DeviceConfigSpec(_Strict):
    """A WAN router's configuration where it differs from the default (``network.configs``)."""

    ospf_cost: dict[str, int] = Field(default_factory=dict)  # link name -> cost
    acl_deny: list[str] = Field(default_factory=list)
    prefix_deny: list[str] = Field(default_factory=list)
    bgp_shutdown: list[str] = Field(default_factory=list)
    static_routes: dict[str, str] = Field(default_factory=dict)  # prefix -> next-hop router
    policy: list[PolicyTermSpec] = Field(default_factory=list)

    @field_validator("acl_deny", "prefix_deny")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        return [_check_prefix(p) for p in v]

    @field_validator("static_routes")
    @classmethod
    def _static(cls, v: dict[str, str]) -> dict[str, str]:
        return {_check_prefix(p): hop for p, hop in v.items()}

    @field_validator("ospf_cost")
    @classmethod
    def _costs(cls, v: dict[str, int]) -> dict[str, int]:
        for link, cost in v.items():
            if not 1 <= cost <= 65535:
                raise ValueError(f"{link}: cost must be 1-65535, got {cost}")
        return v


class NetworkSpec(_Strict):
    """Queues and packets: what the flow model needs beyond capacities and delays; the IGP's
    timers (``routing``) and routers' configurations (``configs``, by router name)."""

    buffer_ms: float = Field(default=40.0, gt=0)  # buffer of every port, in ms at line rate
    queue: Literal["droptail", "fq"] = "droptail"  # FIFO with tail drop, or per-flow fair queueing
    aqm_ms: float = Field(default=0.0, ge=0)  # fair queueing's AQM target delay (0: none)
    header_overhead: float = Field(default=0.03, ge=0, lt=0.5)  # share of each packet that is headers
    packet_bytes: float = Field(default=1500.0, gt=0)
    hash_connections: int = Field(default=256, ge=0)  # connections hashed onto WAN tunnels (0: exact splits)
    routing: RoutingSpec = Field(default_factory=RoutingSpec)
    configs: dict[str, DeviceConfigSpec] = Field(default_factory=dict)


class TESpec(_Timed):
    """The TE controller: how often it recomputes, and how it infers a plane's health.

    It places each class on its plane unless its view says that plane failed: no usable link
    left in it, or (``inconsistent_prefixes: plane_failed``) at least ``inconsistent_clusters``
    clusters announcing the plane with inconsistent prefix sets, a heuristic a controller may
    use to detect a plane that is being torn down. It then fails the class over to a plane it
    believes up. Operators can override its view per plane.
    """

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"period", "reaction"})
    period: Duration = 60.0
    reaction: Duration = 10.0
    tunnels: int = Field(default=3, ge=1, le=16)
    quantum: float = Field(default=0.125, gt=0, le=1)
    inconsistent_prefixes: Literal["ignore", "plane_failed"] = "ignore"
    inconsistent_clusters: int = Field(default=2, ge=1)


class HealthSpec(_Timed):
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"period"})
    period: Duration = 10.0
    failures: int = Field(default=2, ge=1)


class AutoscalerSpec(_Timed):
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"period", "provision"})
    enabled: bool = True
    period: Duration = 30.0
    target_cpu: float = Field(default=0.75, gt=0, le=1)
    provision: Duration = 60.0


class DnsSpec(_Timed):
    """DNS servers at edge POPs that health-check the data centers and withdraw their anycast
    announcement after ``failures`` failed checks in a row (:mod:`twin.sim.dns`)."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"period"})
    servers: list[str] = Field(min_length=1)  # sites (edge POPs) with DNS servers
    data_centers: list[str] = Field(min_length=1)  # sites they health-check
    period: Duration = Field(default=10.0, gt=0)
    failures: int = Field(default=3, ge=1)  # failed checks in a row before withdrawing
    recoveries: int = Field(default=1, ge=1)  # passed checks in a row before announcing again
    min_reachable: int = Field(default=1, ge=1)  # data centers a check must reach to pass
    classes: list[Literal["user", "interdc"]] = Field(default_factory=lambda: ["user"])  # traffic that needs names


class ControlSpec(_Strict):
    te: TESpec = Field(default_factory=TESpec)
    health: HealthSpec = Field(default_factory=HealthSpec)
    autoscaler: AutoscalerSpec = Field(default_factory=AutoscalerSpec)
    dns: DnsSpec | None = None
    features: dict[str, list[str]] = Field(default_factory=dict)


class SLOSpec(_Strict):
    p99_ms: float = Field(default=300.0, gt=0)
    error_rate: float = Field(default=0.01, gt=0, le=1)
    link_loss: float = Field(default=0.01, gt=0, le=1)
    user_loss: float = Field(default=0.01, gt=0, le=1)
    services: dict[str, dict[str, float]] = Field(default_factory=dict)


class ConditionSpec(_Timed):
    """A cascade condition: the fault fires only once this holds (checked every tick)."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"within"})
    fault_active: str | None = None
    metric: str | None = None
    entity: str | None = None
    above: float | None = None
    below: float | None = None
    within: Duration | None = None


class FaultSpec(_Strict):
    """A scheduled fault. ``params`` are its kind's own (``FaultKind.Params``): the schema a
    scenario is checked against (:func:`scenario_schema`, used by :func:`parse_scenario`) has
    one variant of this model per registered kind, so validate through those, not this class."""

    id: str
    kind: str
    at: Duration = 0.0
    duration: Duration | None = None
    when: ConditionSpec | None = None
    params: FaultParams = Field(default_factory=FaultParams)
    note: str = ""

    # not _Timed's validator on every field: ``kind`` must stay a plain tag for the union
    @field_validator("at", "duration", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return _duration(v) if v is not None else v


class ChangeSpec(_Timed):
    """A change in the change log: a config push or a deploy, benign unless a fault rides on it."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"at"})
    id: str
    at: Duration
    kind: Literal["config_push", "deploy", "maintenance"] = "config_push"
    target: str
    description: str = ""


class MitigationRef(_Strict):
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class RootCauseSpec(_Strict):
    fault: str
    component: str = ""
    summary: str = ""
    keywords: list[str] = Field(default_factory=list)


class GroundTruthSpec(_Strict):
    root_cause: RootCauseSpec
    effective: list[MitigationRef] = Field(default_factory=list)
    harmful: list[MitigationRef] = Field(default_factory=list)
    wrong_guesses: list[str] = Field(default_factory=list)


class AlertRuleSpec(_Timed):
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"for_", "clear_for"})
    name: str
    entity_kind: Literal["link", "service", "device"]
    metric: str
    above: float | None = None
    below: float | None = None
    for_: Duration = Field(default=30.0, alias="for")
    severity: Literal["info", "warning", "critical"] = "warning"
    clear: float | None = None  # hysteresis: the alert clears only past this (default: a 10% margin)
    clear_for: Duration | None = None  # ... held this long (default 30 s)

    @field_validator("clear")
    @classmethod
    def _clear_side(cls, v: float | None, info: Any) -> float | None:
        above, below = info.data.get("above"), info.data.get("below")
        if v is not None and above is not None and v > above:
            raise ValueError(f"clear={v} must be at or below above={above} (an alert above a threshold clears below it)")
        if v is not None and below is not None and v < below:
            raise ValueError(f"clear={v} must be at or above below={below} (an alert below a threshold clears above it)")
        return v


class MonitorGroupSpec(_Timed):
    """How one group of monitors samples: every ``interval``, visible ``delay`` later, gauges
    read with relative ``noise`` and counter rates with the relative ``jitter`` of a read's
    timestamp (standard deviations), losing each sample with probability ``loss``.
    ``export_path`` names links the samples cross on their way to the collector: a sample is
    also lost with the packet loss those links have at that moment (monitoring that goes dark
    when its export path is congested); ``export_via`` names a plane the samples cross instead,
    whichever of its links routing picks: lost at the plane's drop ratio
    (:mod:`twin.sim.export_path`)."""

    DURATIONS: ClassVar[frozenset[str]] = frozenset({"interval", "delay"})
    interval: Duration = Field(default=10.0, gt=0)
    delay: Duration = 0.0
    noise: float = Field(default=0.01, ge=0, le=0.5)
    jitter: float = Field(default=0.002, ge=0, le=0.5)
    loss: float = Field(default=0.0, ge=0, le=1)
    export_path: list[str] = Field(default_factory=list)
    export_via: str | None = None


class MonitoringSpec(_Strict):
    """What monitors measure and when (``monitoring:``). Defaults: interface counters every 30 s,
    device counters every 30 s, service metrics every 10 s; a 10 s export delay on counters and
    5 s on service metrics; ``error_floor`` and ``loss_floor`` are the background error and
    drop rates real systems always show (timeouts, CRC errors), measured as noise around them."""

    link: MonitorGroupSpec = Field(default_factory=lambda: MonitorGroupSpec(interval=30.0, delay=10.0, noise=0.01))
    device: MonitorGroupSpec = Field(default_factory=lambda: MonitorGroupSpec(interval=30.0, delay=10.0, noise=0.02))
    service: MonitorGroupSpec = Field(default_factory=lambda: MonitorGroupSpec(interval=10.0, delay=5.0, noise=0.03))
    error_floor: float = Field(default=5e-4, ge=0, le=0.1)
    loss_floor: float = Field(default=2e-5, ge=0, le=0.1)


class GeneratedSpec(_Strict):
    """How a generated incident was drawn and how hard it is (``twin.generator``; computed by
    simulation, sandbox side: the operator's view drops it with the ground truth)."""

    seed: int
    index: int = Field(ge=0)
    split: Literal["train", "heldout"]
    layer: str
    kind: str
    kinds: list[str] = Field(default_factory=list)
    difficulty: float = Field(ge=0, le=1)
    band: Literal["easy", "medium", "hard"]
    features: dict[str, float] = Field(default_factory=dict)
    raw: dict[str, float] = Field(default_factory=dict)
    trap: str = ""
    together: bool = False  # no single mitigation ends it: ground_truth.effective lists one per cause, applied together
    attempts: int = Field(default=1, ge=1)


class Scenario(_Timed):
    DURATIONS: ClassVar[frozenset[str]] = frozenset({"duration", "tick", "settle"})
    name: str
    description: str
    category: Literal["historical", "novel", "synthetic"] = "synthetic"
    source: str = ""
    assumed: list[str] = Field(default_factory=list)
    duration: Duration = 3600.0
    tick: Duration = Field(default=10.0, gt=0)
    settle: Duration = 120.0
    seed: int = 0
    topology: TopologySpec
    services: ServicesSpec = Field(default_factory=ServicesSpec)
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    control: ControlSpec = Field(default_factory=ControlSpec)
    slo: SLOSpec = Field(default_factory=SLOSpec)
    faults: list[FaultSpec] = Field(default_factory=list)
    changes: list[ChangeSpec] = Field(default_factory=list)
    alerts: list[AlertRuleSpec] = Field(default_factory=list)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    ground_truth: GroundTruthSpec | None = None
    generated: GeneratedSpec | None = None
    path: str = Field(default="", exclude=True)
    _world: Any = PrivateAttr(default=None)


def _fault_variant(kind: FaultKind) -> type[FaultSpec]:
    """The FaultSpec of one kind: ``kind`` is its name, ``params`` its own model."""
    try:
        kind.Params()
        params: Any = Field(default_factory=kind.Params)
    except ValidationError:  # some param is required: then so is ``params``
        params = ...
    return create_model(f"FaultSpec_{kind.name}", __base__=FaultSpec, __module__=__name__,
                        kind=(Literal[kind.name], ...), params=(kind.Params, params))


@functools.lru_cache(maxsize=8)
def _schema(kinds: tuple[FaultKind, ...]) -> type[Scenario]:
    variants = tuple(_fault_variant(k) for k in kinds)
    item: Any = variants[0]
    if len(variants) > 1:
        item = Annotated[Union[variants], Field(discriminator="kind")]
    return create_model("Scenario", __base__=Scenario, __module__=__name__,
                        faults=(list[item], Field(default_factory=list)))


def scenario_schema() -> type[Scenario]:
    """The Scenario model a file is checked against: ``faults[]`` is a union, on ``kind``, of
    every registered fault kind's FaultSpec (built-in and plug-in kinds alike)."""
    return _schema(tuple(fault_kinds().values()))


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as plain data (as read from YAML)."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "", f"expected a mapping at the top level, got {type(data).__name__}")
    schema = scenario_schema()
    try:
        scenario = schema.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, *validation_problem(exc, schema, union_noun="fault kind")) from None
    scenario.path = source
    from twin.references import check_references  # builds the world: only once the schema passed

    check_references(scenario)
    return scenario


def scenario_paths() -> dict[str, Path]:
    """Built-in scenarios by name (file stem) in ``scenarios/``."""
    if not SCENARIO_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load and validate a scenario from a YAML path or a built-in name.

    Raises :class:`ScenarioError` naming the file, field path and allowed values.
    """
    data, candidate = read_yaml(path_or_name, ScenarioError, "scenario", scenario_paths())
    return parse_scenario(data, str(candidate))
