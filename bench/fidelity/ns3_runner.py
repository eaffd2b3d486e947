"""Run one fidelity case (``cases.Case``) in ns-3 and measure it.

Needs the PyPI ``ns3`` package (cppyy bindings, ``from ns import ns``; about 8 s to import).
ns-3 keeps global state (node list, address generator, attribute defaults), so run each case
in a fresh process: ``run_ns3.py`` does that.

Set-up, per case
----------------
* every node gets the internet stack; every link is a ``PointToPointHelper`` link with the
  case's DataRate and Delay; the device's own transmit queue is one packet
  (``DropTailQueue<Packet>::MaxSize = 1p``) so the queue disc is the real queue;
* the case's queue disc is installed on both devices of every link *before* addresses are
  assigned (``Ipv4AddressHelper::Assign`` would otherwise install ns-3's default
  FqCoDel), and its TypeId name is read back to check it took effect;
* routes from ``Ipv4GlobalRoutingHelper.PopulateRoutingTables``;
* TCP flows: ``BulkSendHelper`` (unlimited bytes) to a ``PacketSink``; the TCP variant is
  explicit (``TCP_VARIANT``), MSS 1448 so that data segments are 1500-byte IP packets with
  the timestamp option, and 4 MB socket buffers so the window, not the buffer, limits TCP;
* UDP flows: constant bit rate, 1472-byte payloads (1500-byte IP packets), application rate
  scaled so that the IP-layer rate is the case's ``rate_mbps``. With ``Flow.jitter == POISSON``
  (the default) a small JIT-compiled C++ source sends with exponential gaps of mean T (a
  Poisson process), with ``0 < jitter < 1`` gaps uniform in ``T * (1 +- jitter)``; with
  ``jitter == 0`` it is ``OnOffHelper`` always on (constant on-time, zero off-time),
  strictly periodic. Strictly periodic sources
  phase-lock in a full drop-tail queue (one flow wins every freed slot, another is starved:
  Floyd & Jacobson's "traffic phase effects"), which no real network or flow model shows;
  random gaps break the lock;
* ``FlowMonitor`` on all nodes.

Measurement: the simulation runs to ``warmup_s``, every counter is read, it runs on to
``duration_s`` and the counters are read again; every figure is the difference over that
window.
"""

from __future__ import annotations

import time
from typing import Any

try:  # package import (tests) or script import (run_ns3.py puts the repo root on sys.path)
    from bench.fidelity.cases import QDISCS, Case
except ImportError:  # pragma: no cover
    from cases import QDISCS, Case  # type: ignore[no-redef]

TCP_VARIANT = "ns3::TcpNewReno"
TCP_MSS = 1448  # + 20 TCP + 12 timestamp option + 20 IP = 1500
UDP_PAYLOAD = 1472  # + 8 UDP + 20 IP = 1500
SOCKET_BUF = 4 * 1024 * 1024
DEVICE_QUEUE = "1p"
BASE_PORT = 9000

# FqCoDel turned into plain per-flow fair queueing with a shared buffer (see cases.QDISCS)
FQ_SETTINGS = {
    "Target": "1000s",
    "Interval": "10000s",
    "DropBatchSize": "1",
    "EnableSetAssociativeHash": "true",
    "Flows": "1024",
}


def ns3_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("ns") is not None and _import_ns() is not None
    except Exception:
        return False


def _import_ns():
    from ns import ns  # noqa: PLC0415 - slow import, only when a case actually runs

    return ns


def ns3_version() -> str:
    try:
        from importlib.metadata import version

        return version("ns3")
    except Exception:  # pragma: no cover
        return "unknown"


_CBR_SRC = r"""
namespace fidelity {
// Constant mean bit rate with random gaps, mean exactly T: T * (1 + j * U(-1, 1)) for
// 0 < j < 1, exponential (Poisson arrivals) for j < 0.
struct Cbr {
  ns3::Ptr<ns3::Socket> sock; uint32_t size; double interval; double jitter; double stop;
  ns3::Ptr<ns3::UniformRandomVariable> u;
};
void CbrSend(Cbr* c) {
  if (ns3::Simulator::Now().GetSeconds() >= c->stop) return;
  c->sock->Send(ns3::Create<ns3::Packet>(c->size));
  // jitter < 0: exponential gaps (Poisson arrivals) with mean T
  double gap = c->jitter < 0 ? -c->interval * std::log(1.0 - c->u->GetValue())
                             : c->interval * (1.0 + c->jitter * (2.0 * c->u->GetValue() - 1.0));
  ns3::Simulator::Schedule(ns3::Seconds(gap), &CbrSend, c);
}
void StartCbr(ns3::Ptr<ns3::Node> node, ns3::Address remote, uint32_t size, double rate_bps,
              double jitter, double start, double stop) {
  Cbr* c = new Cbr;  // lives as long as the simulation (one case per process)
  c->sock = ns3::Socket::CreateSocket(node, ns3::UdpSocketFactory::GetTypeId());
  c->sock->Bind();
  c->sock->Connect(remote);
  c->size = size; c->interval = size * 8.0 / rate_bps; c->jitter = jitter; c->stop = stop;
  c->u = ns3::CreateObject<ns3::UniformRandomVariable>();
  ns3::Simulator::Schedule(ns3::Seconds(start + c->interval * c->u->GetValue()), &CbrSend, c);
}
}
"""


def _cbr(ns):
    """The JIT-compiled jittered CBR source (cppyy), compiled once per process."""
    import cppyy

    if not hasattr(cppyy.gbl, "fidelity"):
        cppyy.cppdef(_CBR_SRC)
    return cppyy.gbl.fidelity


def _set_qdisc_defaults(ns, qdisc: str, queue_pkts: int) -> None:
    type_name = QDISCS[qdisc]
    short = type_name.split("::")[-1]
    ns.Config.SetDefault(f"ns3::{short}::MaxSize", ns.StringValue(f"{queue_pkts}p"))
    if qdisc == "fq":
        for k, v in FQ_SETTINGS.items():
            ns.Config.SetDefault(f"ns3::{short}::{k}", ns.StringValue(v))


def _counters(ns, monitor, sinks, qdiscs) -> dict[str, Any]:
    monitor.CheckForLostPackets()
    flows = {}
    for kv in monitor.GetFlowStats():
        fid, st = kv.first, kv.second
        flows[int(fid)] = {
            "tx_pkts": int(st.txPackets),
            "rx_pkts": int(st.rxPackets),
            "tx_bytes": int(st.txBytes),
            "rx_bytes": int(st.rxBytes),
            "delay_sum_s": st.delaySum.GetSeconds(),
            "dropped_pkts": int(sum(int(x) for x in st.packetsDropped)),
            "lost_pkts": int(st.lostPackets),
        }
    sink_rx = {fid: int(s.GetTotalRx()) for fid, s in sinks.items()}
    q = {}
    for key, disc in qdiscs.items():
        s = disc.GetStats()
        q[key] = {
            "sent_bytes": int(s.nTotalSentBytes),
            "sent_pkts": int(s.nTotalSentPackets),
            "dropped_pkts": int(s.nTotalDroppedPackets),
            "received_pkts": int(s.nTotalReceivedPackets),
        }
    return {"flows": flows, "sink_rx": sink_rx, "qdisc": q}


def run_case(case: Case, duration_s: float = 30.0, warmup_s: float = 5.0, seed: int = 1,
             tcp_variant: str = TCP_VARIANT) -> dict[str, Any]:
    """Simulate ``case`` for ``duration_s`` and measure over [warmup_s, duration_s].

    Returns a JSON-able dict: ``flows[flow_id]`` with ``throughput_mbps`` (IP bytes
    received over the window, headers included: what a flow model's rate means),
    ``goodput_mbps`` (application bytes received), ``loss`` (packets dropped in the network
    over packets sent, in the window), ``rtt_ms`` (TCP: mean data one-way delay + mean ACK
    one-way delay) and ``delay_ms`` (mean one-way delay of the data packets); ``links[name]``
    with ``throughput_mbps`` (IP bytes sent by the queue disc, direction a -> b), loss and
    the installed queue disc's TypeId name; plus the run parameters.
    """
    t0 = time.monotonic()
    ns = _import_ns()
    ns.RngSeedManager.SetSeed(seed)
    ns.RngSeedManager.SetRun(1)

    ns.Config.SetDefault("ns3::TcpL4Protocol::SocketType", ns.StringValue(tcp_variant))
    ns.Config.SetDefault("ns3::TcpSocket::SegmentSize", ns.UintegerValue(TCP_MSS))
    ns.Config.SetDefault("ns3::TcpSocket::SndBufSize", ns.UintegerValue(SOCKET_BUF))
    ns.Config.SetDefault("ns3::TcpSocket::RcvBufSize", ns.UintegerValue(SOCKET_BUF))
    ns.Config.SetDefault("ns3::DropTailQueue<Packet>::MaxSize", ns.StringValue(DEVICE_QUEUE))

    nodes = {}
    for name in case.nodes:
        n = ns.CreateObject[ns.Node]()
        nodes[name] = n
    stack = ns.InternetStackHelper()
    for n in nodes.values():
        stack.Install(n)

    addr = ns.Ipv4AddressHelper()
    iface_addr: dict[str, str] = {}
    qdiscs = {}
    installed: dict[str, str] = {}
    for i, ln in enumerate(case.links):
        p2p = ns.PointToPointHelper()
        p2p.SetDeviceAttribute("DataRate", ns.StringValue(f"{ln.rate_mbps}Mbps"))
        p2p.SetChannelAttribute("Delay", ns.StringValue(f"{ln.delay_ms}ms"))
        devs = p2p.Install(nodes[ln.a], nodes[ln.b])
        # the queue disc must be there before Assign(), which installs FqCoDel otherwise
        _set_qdisc_defaults(ns, ln.qdisc, ln.queue_pkts)
        tch = ns.TrafficControlHelper()  # one per link: the root disc can be set once
        tch.SetRootQueueDisc(QDISCS[ln.qdisc])
        qdc = tch.Install(devs)
        for side, node_name in ((0, ln.a), (1, ln.b)):
            disc = qdc.Get(side)
            tc = nodes[node_name].GetObject[ns.TrafficControlLayer]()
            root = tc.GetRootQueueDiscOnDevice(devs.Get(side))
            got = root.GetInstanceTypeId().GetName()
            if got != QDISCS[ln.qdisc]:
                raise RuntimeError(f"{case.name} {ln.name}: queue disc {got}, "
                                   f"wanted {QDISCS[ln.qdisc]}")
            size = str(disc.GetMaxSize())
            if size != f"{ln.queue_pkts}p":
                raise RuntimeError(f"{case.name} {ln.name}: queue size {size}")
            direction = f"{ln.a}->{ln.b}" if side == 0 else f"{ln.b}->{ln.a}"
            qdiscs[direction] = disc
            installed[direction] = f"{got} MaxSize={size}"
        addr.SetBase(ns.Ipv4Address(f"10.{i // 250}.{i % 250}.0"), ns.Ipv4Mask("255.255.255.0"))
        ifs = addr.Assign(devs)
        for side, node_name in ((0, ln.a), (1, ln.b)):
            iface_addr.setdefault(node_name, str(ifs.GetAddress(side)))
        # after Assign the root disc must still be ours (no default one added on top)
        for side, node_name in ((0, ln.a), (1, ln.b)):
            tc = nodes[node_name].GetObject[ns.TrafficControlLayer]()
            got = tc.GetRootQueueDiscOnDevice(devs.Get(side)).GetInstanceTypeId().GetName()
            assert got == QDISCS[ln.qdisc], (case.name, ln.name, got)

    ns.Ipv4GlobalRoutingHelper.PopulateRoutingTables()

    sinks = {}
    ports = {}
    for k, f in enumerate(case.flows):
        port = BASE_PORT + k
        ports[f.id] = port
        factory = "ns3::TcpSocketFactory" if f.kind == "tcp" else "ns3::UdpSocketFactory"
        sink_helper = ns.PacketSinkHelper(
            factory, ns.InetSocketAddress(ns.Ipv4Address.GetAny(), port).ConvertTo())
        sink_apps = sink_helper.Install(nodes[f.dst])
        sink_apps.Start(ns.Seconds(0.0))
        sinks[f.id] = ns.DynamicCast[ns.PacketSink](sink_apps.Get(0))
        remote = ns.InetSocketAddress(ns.Ipv4Address(iface_addr[f.dst]), port).ConvertTo()
        if f.kind == "tcp":
            src = ns.BulkSendHelper(factory, remote)
            src.SetAttribute("MaxBytes", ns.UintegerValue(0))
            src.SetAttribute("SendSize", ns.UintegerValue(TCP_MSS))
        elif f.jitter != 0:
            app_rate = f.rate_mbps * 1e6 * UDP_PAYLOAD / f.packet_bytes
            stop = f.stop_s if f.stop_s is not None else duration_s + 1.0
            _cbr(ns).StartCbr(nodes[f.src], remote, UDP_PAYLOAD, app_rate, f.jitter,
                              f.start_s, stop)
            continue
        else:
            # strictly periodic: OnOff always on (phase-locks under drop-tail, see README)
            src = ns.OnOffHelper(factory, remote)
            src.SetAttribute("OnTime", ns.StringValue("ns3::ConstantRandomVariable[Constant=1]"))
            src.SetAttribute("OffTime", ns.StringValue("ns3::ConstantRandomVariable[Constant=0]"))
            app_rate = f.rate_mbps * 1e6 * UDP_PAYLOAD / f.packet_bytes
            src.SetAttribute("DataRate", ns.DataRateValue(ns.DataRate(int(round(app_rate)))))
            src.SetAttribute("PacketSize", ns.UintegerValue(UDP_PAYLOAD))
        apps = src.Install(nodes[f.src])
        apps.Start(ns.Seconds(f.start_s))
        apps.Stop(ns.Seconds(f.stop_s if f.stop_s is not None else duration_s + 1.0))

    fm_helper = ns.FlowMonitorHelper()
    monitor = fm_helper.InstallAll()

    ns.Simulator.Stop(ns.Seconds(warmup_s))
    ns.Simulator.Run()
    before = _counters(ns, monitor, sinks, qdiscs)
    ns.Simulator.Stop(ns.Seconds(duration_s - warmup_s))
    ns.Simulator.Run()
    after = _counters(ns, monitor, sinks, qdiscs)

    classifier = ns.DynamicCast[ns.Ipv4FlowClassifier](fm_helper.GetClassifier())
    tuples = {}
    for fid in after["flows"]:
        t = classifier.FindFlow(fid)
        tuples[fid] = (str(t.sourceAddress), str(t.destinationAddress), int(t.protocol),
                       int(t.sourcePort), int(t.destinationPort))
    ns.Simulator.Destroy()

    window = duration_s - warmup_s

    def diff(fid: int) -> dict[str, float]:
        a = after["flows"][fid]
        b = before["flows"].get(fid, {k: 0 for k in a})
        return {k: a[k] - b[k] for k in a}

    flows_out: dict[str, dict[str, Any]] = {}
    for f in case.flows:
        port = ports[f.id]
        data = [fid for fid, t in tuples.items() if t[4] == port and t[1] == iface_addr[f.dst]]
        acks = [fid for fid, t in tuples.items() if t[3] == port and t[0] == iface_addr[f.dst]]
        if len(data) != 1:
            raise RuntimeError(f"{case.name} {f.id}: {len(data)} FlowMonitor flows for data")
        d = diff(data[0])
        rx_app = after["sink_rx"][f.id] - before["sink_rx"][f.id]
        delay_ms = 1e3 * d["delay_sum_s"] / d["rx_pkts"] if d["rx_pkts"] else None
        rec: dict[str, Any] = {
            "kind": f.kind,
            "offered_mbps": f.rate_mbps,
            "throughput_mbps": d["rx_bytes"] * 8 / window / 1e6,
            "goodput_mbps": rx_app * 8 / window / 1e6,
            "sent_mbps": d["tx_bytes"] * 8 / window / 1e6,
            "loss": d["dropped_pkts"] / d["tx_pkts"] if d["tx_pkts"] else 0.0,
            "tx_pkts": d["tx_pkts"],
            "rx_pkts": d["rx_pkts"],
            "dropped_pkts": d["dropped_pkts"],
            "delay_ms": delay_ms,
            "rtt_ms": None,
        }
        if f.kind == "tcp" and acks and delay_ms is not None:
            a = diff(acks[0])
            if a["rx_pkts"]:
                rec["ack_delay_ms"] = 1e3 * a["delay_sum_s"] / a["rx_pkts"]
                rec["rtt_ms"] = delay_ms + rec["ack_delay_ms"]
        flows_out[f.id] = rec

    links_out: dict[str, dict[str, Any]] = {}
    for ln in case.bottlenecks:
        key = f"{ln.a}->{ln.b}"
        a, b = after["qdisc"][key], before["qdisc"][key]
        rcv = a["received_pkts"] - b["received_pkts"]
        links_out[ln.name] = {
            "direction": key,
            "rate_mbps": ln.rate_mbps,
            "throughput_mbps": (a["sent_bytes"] - b["sent_bytes"]) * 8 / window / 1e6,
            "loss": (a["dropped_pkts"] - b["dropped_pkts"]) / rcv if rcv else 0.0,
            "qdisc": installed[key],
        }

    return {
        "case": case.name,
        "flows": flows_out,
        "links": links_out,
        "qdiscs_installed": sorted(set(installed.values())),
        "params": {
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "seed": seed,
            "tcp_variant": tcp_variant,
        },
        "wall_s": round(time.monotonic() - t0, 2),
    }


if __name__ == "__main__":  # pragma: no cover - quick manual check: python ns3_runner.py CASE
    import json
    import sys

    from cases import BY_NAME  # type: ignore[no-redef]

    print(json.dumps(run_case(BY_NAME[sys.argv[1]], *map(float, sys.argv[2:4])), indent=1))
