"""Operator actions (mitigations) on a twin: what they change and how long they take.

An action starts now and lands after its duration, like a drain that waits for traffic to
move. Actions change state only; whether they help shows in telemetry. Each is a function of
an :class:`ActionContext` (world, state, time) and its arguments that changes the state and
asks the Twin for the rest through :class:`~twin.sim.effects.Effects`. An action that removes
a fault's cause (rolling back the change a fault rode in on, disabling a defective feature)
asks the Twin to end that fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable


from twin.errors import SimulationError, known_list
from twin.faults.trigger import active_faults, fault_change
from twin.model.world import CLASSES, World
from twin.physics.configs import parse_edit, record_edit, split_edit
from twin.sim.effects import Effects
from twin.sim.igp import config_changed
from twin.sim.releases import rollback
from twin.sim.state import ChangeRecord, TwinState

__all__ = ["ActionContext", "ActionSpec", "ACTIONS", "start_action", "complete_action", "check_action",
           "entity_names"]


@dataclass(frozen=True)
class ActionContext:
    """What an action sees: the world, the state it changes, the time, and the sandbox's faults
    (only to end a fault whose cause the action removed; agents never reach this)."""

    world: World
    state: TwinState
    now: float
    faults: Mapping[str, Any]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    description: str
    params: dict[str, str]  # param -> entity kind (link, device, change, feature, plane, class, service, site, number)
    duration: float  # simulated seconds until it lands
    apply: Callable[[ActionContext, dict[str, Any], Effects], str]
    optional: tuple[str, ...] = ()


def _link(ctx: ActionContext, name: str) -> int:
    return ctx.world.topology.link_index[name]


def _node(ctx: ActionContext, name: str) -> int:
    return ctx.world.topology.node_index[name]


def _svc(ctx: ActionContext, name: str) -> int:
    return ctx.world.callgraph.index()[name]


def _faults_where(ctx: ActionContext, pred: Callable[[Any], bool]) -> list[str]:
    return [spec.id for spec in active_faults(ctx.faults.values(), ctx.state, pred)]


def _drain_link(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.network.link_drained[_link(ctx, a["link"])] = True
    fx.topology_changed()
    return f"drained link {a['link']}"


def _undrain_link(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.network.link_drained[_link(ctx, a["link"])] = False
    fx.topology_changed()
    return f"undrained link {a['link']}"


def _drain_device(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.network.node_drained[_node(ctx, a["device"])] = True
    fx.topology_changed()
    return f"drained device {a['device']}"


def _undrain_device(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.network.node_drained[_node(ctx, a["device"])] = False
    fx.topology_changed()
    return f"undrained device {a['device']}"


def _push_config(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    kind, args = split_edit(a["change"])
    args = parse_edit(ctx.world.topology, kind, args, st.network.configs)
    label = " ".join([kind, *(str(v) for v in args.values())])
    change_id = f"op-{len(st.control.changes) + 1}"
    before = st.network.config_before.setdefault(change_id, {})
    routers = record_edit(st.network.configs, before, ctx.world.topology, kind, args)
    fx.change(ChangeRecord(change_id, ctx.now, "config_push", ",".join(routers), f"operator: {label}"))
    st.network.routing, st.network.config_version = None, st.network.config_version + 1  # recompute from the new config
    fx.topology_changed()
    fx.extend(config_changed(ctx.world, st, ctx.now, before))
    return f"pushed config change {change_id}: {label}"


def _rollback_change(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    for rec in st.control.changes:
        if rec.id == a["change"]:
            rec.status = "rolled_back"
    restored = st.network.config_before.pop(a["change"], {})
    if restored:  # the routers get the configuration the change replaced; forwarding follows
        current = {name: st.network.configs[name] for name in restored}
        st.network.configs.update(restored)
        st.network.routing, st.network.config_version = None, st.network.config_version + 1
        fx.topology_changed()
        fx.extend(config_changed(ctx.world, st, ctx.now, current))
    # whatever else the change set (a deploy's release, a push's prefix views, a maintenance
    # command's links) is undone with it: the kind that made the change says how
    for fid in _faults_where(ctx, lambda f: fault_change(st, f.id) == a["change"]):
        fx.mitigate(fid, f"change {a['change']} rolled back")
    return f"rolled back change {a['change']}"


def _disable_feature(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    st.control.features_enabled[a["feature"]] = False
    for node in ctx.world.features.get(a["feature"], []):
        st.network.node_blackhole[node] = False
    # a latent defect lives in the feature's code: the tick's physics skips disabled features
    fx.topology_changed()
    return f"disabled {a['feature']} on {len(ctx.world.features.get(a['feature'], []))} devices"


def _freeze_te(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    st.control.te_mode = "frozen"
    good = st.control.known_good or dict(ctx.world.class_plane)
    moved = {c: p for c, p in good.items() if st.control.te_class_plane.get(c) != p}
    st.control.te_class_plane = dict(good)
    st.control.te_plane_up = {p: True for p in ctx.world.topology.planes}
    st.network.routing = None
    return "froze the TE controller and restored its last known-good placement" + (
        f" ({', '.join(f'{c} -> {p}' for c, p in moved.items())})" if moved else "")


def _unfreeze_te(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.control.te_mode = "normal"
    fx.kick_te(now=True)
    return "unfroze the TE controller"


def _override_te(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.control.te_override[a["plane"]] = True
    fx.kick_te(now=True)
    return f"TE controller told to treat {a['plane']} as up"


def _shift_traffic(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    st.control.te_shift[a["traffic_class"]] = a["plane"]
    if st.control.te_mode == "frozen":
        st.control.te_class_plane[a["traffic_class"]] = a["plane"]
        st.network.routing = None
    fx.kick_te(now=True)
    return f"shifted {a['traffic_class']} traffic to {a['plane']}"


def _restart_control_jobs(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    st.network.site_capacity.pop(a["site"], None)
    return f"restarted network control-plane jobs at {a['site']}"


def _halt_automation(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    ctx.state.control.automation_halted = True
    # load that automation itself drives (a scaling activity's connections) stops with it: the
    # network step reads the flag
    return "halted maintenance and scaling automation"


def _scale_service(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st, i = ctx.state, _svc(ctx, a["service"])
    target = float(a["replicas"])
    if target > st.services.replicas[i]:
        st.services.replicas_up[i] = min(st.services.replicas_up[i], st.services.replicas[i]) + (target - st.services.replicas[i])
    else:
        st.services.replicas_up[i] = min(st.services.replicas_up[i], target)
    st.services.replicas[i] = target
    return f"scaled {a['service']} to {int(target)} replicas"


def _restart_service(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st, i = ctx.state, _svc(ctx, a["service"])
    st.services.memory_mb[i] = 0.3 * ctx.world.callgraph.services[i].memory_limit_mb
    # fresh processes: a runaway process in the old ones (a CPU hog) dies with them
    st.services.cpu_hog[i] = st.services.cpu_hog_growth[i] = st.services.cpu_hog_cap[i] = 0.0
    st.services.backlog[i] = 0.0  # restarted replicas drop the requests they had queued
    return f"restarted the replicas of {a['service']}"


def _rollback_deploy(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st, i = ctx.state, _svc(ctx, a["service"])
    gone = rollback(st, i)
    if gone is None:
        return f"{a['service']} already runs its first release: nothing to roll back"
    for rec in st.control.changes:
        if rec.id == gone.change:
            rec.status = "rolled_back"
    st.services.memory_mb[i] = 0.3 * ctx.world.callgraph.services[i].memory_limit_mb  # fresh processes
    return f"rolled {a['service']} back from {gone.label} to {st.services.releases[i][-1].label}"


def _rate_limit(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st, i = ctx.state, _svc(ctx, a["service"])
    st.services.entry_limit[i] = float(a["rps"])
    return f"rate-limited {a['service']} to {a['rps']:.0f} requests/s"


def _set_retry_budget(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st, i = ctx.state, _svc(ctx, a["service"])
    into = ctx.world.call_dst == i
    st.services.retry_budget[into] = float(a["budget"])
    return (f"set the retry budget of {int(into.sum())} client(s) of {a['service']} to {float(a['budget']):.0%} "
            "of requests")


def _shed_traffic(ctx: ActionContext, a: dict[str, Any], fx: Effects) -> str:
    st = ctx.state
    st.network.class_limit[CLASSES.index(a["traffic_class"])] = 1.0 - float(a["fraction"])
    if float(a["fraction"]) == 0:
        return f"stopped shedding {a['traffic_class']} traffic"
    return f"shedding {float(a['fraction']):.0%} of {a['traffic_class']} traffic"


ACTIONS: dict[str, ActionSpec] = {s.name: s for s in [
    ActionSpec("drain_link", "Drain a link: routing stops using it", {"link": "link"}, 120.0, _drain_link),
    ActionSpec("undrain_link", "Return a drained link to service", {"link": "link"}, 120.0, _undrain_link),
    ActionSpec("drain_device", "Drain a router or switch: routing avoids it", {"device": "device"}, 180.0, _drain_device),
    ActionSpec("undrain_device", "Return a drained device to service", {"device": "device"}, 180.0, _undrain_device),
    ActionSpec("rollback_change", "Roll back a configuration change from the change log", {"change": "change"}, 300.0,
               _rollback_change),
    ActionSpec("push_config", "Push a router configuration change (e.g. 'igp_cost LINK 500', 'acl_block DEVICE PREFIX')",
               {"change": "config"}, 120.0, _push_config),
    ActionSpec("disable_feature", "Disable a protocol feature on every device running it", {"feature": "feature"}, 300.0,
               _disable_feature),
    ActionSpec("freeze_te", "Big red button: freeze the TE controller and restore its last known-good routing", {}, 60.0,
               _freeze_te),
    ActionSpec("unfreeze_te", "Let the TE controller act again", {}, 30.0, _unfreeze_te),
    ActionSpec("override_te", "Tell the TE controller a plane is healthy whatever it infers", {"plane": "plane"}, 60.0,
               _override_te),
    ActionSpec("shift_traffic", "Move a traffic class onto a plane", {"traffic_class": "class", "plane": "plane"}, 120.0,
               _shift_traffic),
    ActionSpec("restart_control_jobs", "Restart network control-plane jobs at a site and rebuild their config",
               {"site": "site"}, 600.0, _restart_control_jobs),
    ActionSpec("halt_automation", "Stop maintenance and scaling automation", {}, 60.0, _halt_automation),
    ActionSpec("scale_service", "Set a service's replica count", {"service": "service", "replicas": "count"}, 60.0,
               _scale_service),
    ActionSpec("restart_service", "Restart a service's replicas", {"service": "service"}, 60.0, _restart_service),
    ActionSpec("rollback_deploy", "Roll back a service's last deploy", {"service": "service"}, 180.0, _rollback_deploy),
    ActionSpec("rate_limit", "Cap requests/s admitted at a service", {"service": "service", "rps": "number"}, 30.0,
               _rate_limit),
    ActionSpec("set_retry_budget", "Set the retry budget (retries as a fraction of requests) of a service's clients",
               {"service": "service", "budget": "fraction"}, 60.0, _set_retry_budget),
    ActionSpec("shed_traffic", "Shed a fraction of a traffic class at the edge (0 stops shedding)",
               {"traffic_class": "class", "fraction": "fraction"}, 60.0, _shed_traffic),
]}


def entity_names(world: World, state: TwinState, kind: str) -> list[str]:
    """The names an action parameter of ``kind`` may take in this world and state."""
    w = world
    topo = w.topology
    return {
        "link": lambda: list(topo.links),
        "device": lambda: list(w.device_names),
        "change": lambda: [c.id for c in state.control.changes],
        "feature": lambda: list(w.features),
        "plane": lambda: list(topo.planes),
        "class": lambda: list(CLASSES),
        "service": lambda: list(w.services),
        "site": lambda: list(topo.sites),
    }.get(kind, lambda: [])()


def check_action(world: World, state: TwinState, kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """Validate an action's name and arguments; raise SimulationError naming what is wrong."""
    if kind not in ACTIONS:
        raise SimulationError(f"unknown action {kind!r} (allowed: {', '.join(ACTIONS)})")
    spec = ACTIONS[kind]
    for name in args:
        if name not in spec.params:
            raise SimulationError(f"{kind}: unknown argument {name!r} (allowed: {', '.join(spec.params) or 'none'})")
    clean: dict[str, Any] = {}
    for name, ekind in spec.params.items():
        if name not in args:
            raise SimulationError(f"{kind}: missing argument {name!r}")
        value = args[name]
        if ekind == "config":
            try:
                edit, edit_args = split_edit(value)
                edit_args = parse_edit(world.topology, edit, edit_args, state.network.configs)
            except ValueError as exc:
                raise SimulationError(f"{kind}: {exc}") from None
            value = " ".join([edit, *(str(v) for v in edit_args.values())])
        elif ekind in ("number", "count", "fraction"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SimulationError(f"{kind}: {name} must be a number, got {value!r}")
            if value < 0 or (ekind == "fraction" and value > 1) or (ekind == "count" and value < 1):
                raise SimulationError(f"{kind}: {name} out of range, got {value!r}")
        else:
            known = entity_names(world, state, ekind)
            if value not in known:
                raise SimulationError(f"{kind}: unknown {ekind} {value!r} (known: {known_list(known, 15) or 'none'})")
        clean[name] = value
    return clean


def _who(args: dict[str, Any]) -> str:
    return ",".join(str(v) for v in args.values()) or "-"


def start_action(world: World, state: TwinState, now: float, kind: str, args: dict[str, Any]) -> tuple[int, Effects]:
    """Record an operator action in flight; it lands (``complete_action``) after its duration."""
    clean = check_action(world, state, kind, args)
    action_id = len(state.actions)
    spec = ACTIONS[kind]
    state.actions.append({"id": action_id, "kind": kind, "args": clean, "start": now, "lands": now + spec.duration,
                          "status": "in_flight", "result": ""})
    fx = Effects()
    fx.log("action", _who(clean), f"operator starts {kind} {clean}", action=kind)
    fx.wake(f"action:{action_id}", now + spec.duration)
    return action_id, fx


def complete_action(ctx: ActionContext, action_id: int) -> tuple[None, Effects]:
    """The action lands: its change is made; it never runs again."""
    record = ctx.state.actions[action_id]
    fx = Effects()
    result = ACTIONS[record["kind"]].apply(ctx, record["args"], fx)
    record["status"], record["result"] = "done", result
    fx.log("action", _who(record["args"]), f"action done: {result}", action=record["kind"])
    return None, fx
