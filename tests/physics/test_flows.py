"""The flow model: loss where packets drop (once), elastic TCP sharing, queues from buffers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.physics.flows import Flows, Links, sawtooth, solve

PKT = 1500 * 8 / 1e6  # one packet in Mbit


def links(caps, delays, fair=False, aqm=0.0, buf_pkts=100):
    caps = np.asarray(caps, float)
    n = caps.shape[0]
    return Links(caps, np.asarray(delays, float), buf_pkts * PKT / caps * 1000, PKT / caps * 1000,
                 np.full(n, fair), np.full(n, aqm), np.zeros(n))


def test_overloaded_droptail_charges_every_flow_the_same_fraction_once():
    sol = solve(links([10.0], [2.0]), Flows.make([0, 1, 2], [0, 0, 0], demand=np.array([2.0, 8.0, 8.0])))
    assert sol.delivered == pytest.approx([2 * 10 / 18, 8 * 10 / 18, 8 * 10 / 18])
    assert sol.arc_carried[0] == pytest.approx(10.0)


def test_fair_queueing_protects_the_small_flow():
    sol = solve(links([10.0], [2.0], fair=True), Flows.make([0, 1, 2], [0, 0, 0], demand=np.array([2.0, 8.0, 8.0])))
    assert sol.delivered == pytest.approx([2.0, 4.0, 4.0])
    assert sol.loss[0] == pytest.approx(0.0)


def test_a_two_hop_flow_loses_at_each_overflow_only_what_arrives_there():
    # flow 0 crosses links 0 then 1; flows 1 and 2 one link each; all send 8 on 10-unit links
    sol = solve(links([10.0, 10.0], [2.0, 2.0]), Flows.make([0, 0, 1, 2], [0, 1, 0, 1], demand=np.full(3, 8.0)))
    assert sol.delivered[1] == pytest.approx(5.0)  # link 0: 16 offered on 10
    # link 1 sees flow 0 after link 0's drop (5), not its sending rate (8)
    assert sol.arc_arrival[1] == pytest.approx(13.0)
    assert sol.delivered[0] == pytest.approx(5.0 * 10 / 13)


def test_demand_below_capacity_is_delivered_without_loss():
    sol = solve(links([10.0], [2.0]), Flows.make([0, 1, 2], [0, 0, 0], demand=np.array([2.0, 3.0, 4.0]), burstiness=0))
    assert sol.delivered == pytest.approx([2.0, 3.0, 4.0])
    assert sol.arc_queue_ms[0] == pytest.approx(0.0)  # constant-rate arrivals do not queue


def test_tcp_fills_a_link_with_little_loss_and_a_standing_queue():
    lk = links([100.0, 10.0, 100.0], [2.0, 2.0, 2.0])
    sol = solve(lk, Flows.make([0, 0, 0], [0, 1, 2], demand=np.array([np.inf]), elastic=True, packet=PKT))
    assert sol.delivered[0] == pytest.approx(10.0, rel=0.01)
    assert sol.loss[0] < 0.025
    assert 60 < sol.arc_queue_ms[1] <= 120  # 100 packets at 10 Mbit/s is 120 ms of buffer


def test_tcp_backs_off_where_udp_would_lose_half():
    # the same 20 units offered on 10: inelastic loses half, elastic fills the link instead
    lk = links([10.0], [2.0])
    udp = solve(lk, Flows.make([0, 1], [0, 0], demand=np.array([10.0, 10.0])))
    tcp = solve(lk, Flows.make([0, 1], [0, 0], demand=np.full(2, np.inf), elastic=True, packet=PKT))
    assert udp.loss == pytest.approx([0.5, 0.5])
    assert tcp.delivered.sum() == pytest.approx(10.0, rel=0.01) and tcp.loss.max() < 0.025


def test_short_rtt_tcp_wins_on_drop_tail_and_less_so_under_fair_queueing():
    caps, delays = [100, 10, 100, 100, 100], [1, 2, 2, 40, 2]
    flows = Flows.make([0, 0, 0, 1, 1, 1], [0, 1, 2, 3, 1, 4], demand=np.full(2, np.inf), elastic=True, packet=PKT)
    dt = solve(links(caps, delays), flows)
    fq = solve(links(caps, delays, fair=True, aqm=5.0), flows)
    assert dt.delivered[0] > dt.delivered[1] and fq.delivered[0] > fq.delivered[1]
    assert dt.delivered[0] / dt.delivered[1] > fq.delivered[0] / fq.delivered[1]


def test_sawtooth_utilisation_and_queue():
    u, q = sawtooth(np.array([100.0, 10.0, 0.0]), np.array([10.0, 10.0, 10.0]))
    assert u[0] == pytest.approx(1.0) and u[1] == pytest.approx(1.0) and u[2] == pytest.approx(0.75)
    assert q[0] == pytest.approx((3 * 100 - 10) / 4)


@st.composite
def networks(draw):
    n_links = draw(st.integers(1, 5))
    caps = draw(st.lists(st.floats(0.5, 50.0), min_size=n_links, max_size=n_links))
    n_flows = draw(st.integers(1, 6))
    paths = [draw(st.lists(st.integers(0, n_links - 1), min_size=1, max_size=n_links, unique=True))
             for _ in range(n_flows)]
    demand = draw(st.lists(st.one_of(st.floats(0.0, 40.0), st.just(np.inf)), min_size=n_flows, max_size=n_flows))
    elastic = draw(st.lists(st.booleans(), min_size=n_flows, max_size=n_flows))
    demand = [d if e or np.isfinite(d) else 5.0 for d, e in zip(demand, elastic)]
    fair = draw(st.booleans())
    loss = draw(st.lists(st.floats(0.0, 0.3), min_size=n_links, max_size=n_links))
    return caps, paths, demand, elastic, fair, loss


@settings(max_examples=150, deadline=None)
@given(networks())
def test_counters_and_flows_come_from_the_same_numbers(net):
    caps, paths, demand, elastic, fair, loss = net
    lk = links(caps, [1.0] * len(caps), fair=fair)
    lk = Links(lk.capacity, lk.delay_ms, lk.buffer_ms, lk.packet_ms, lk.fair, lk.aqm_ms, np.array(loss))
    f_of = np.array([f for f, p in enumerate(paths) for _ in p])
    a_of = np.array([a for p in paths for a in p])
    sol = solve(lk, Flows.make(f_of, a_of, demand=np.array(demand), elastic=np.array(elastic), packet=PKT))
    # per link: never above capacity; per flow: delivered <= sent
    assert np.all(sol.arc_carried <= np.asarray(caps) * (1 + 1e-6) + 1e-9)
    assert np.all(sol.delivered <= sol.sent * (1 + 1e-9) + 1e-12)
    # loss counted once per dropped packet: what links drop is what flows lose
    dropped_by_links = float((sol.arc_arrival - sol.arc_carried).sum())
    lost_by_flows = float((sol.sent - sol.delivered).sum())
    assert dropped_by_links == pytest.approx(lost_by_flows, rel=1e-6, abs=1e-9)
