import numpy as np
import pytest

from twin.model.fabric import add_fat_tree
from twin.model.topology import TopologyBuilder
from twin.physics.flows import Flows, Links, solve
from twin.physics.routing import hashed_split
from twin.physics.routing import fat_tree_ecmp, quantised_split


def test_quantised_split_sums_to_one_in_quanta():
    split = quantised_split(np.array([3.0, 1.0, 1.0]), 0.125)
    assert split.sum() == pytest.approx(1.0)
    assert np.allclose(split * 8, np.round(split * 8))
    assert split.tolist() == [0.625, 0.25, 0.125]


def test_loss_is_overflow_share_and_dead_link_drops_all():
    links = Links.uniform(3, capacity=100.0, delay_ms=1.0, buffer_ms=40.0, packet_ms=0.012)
    links = Links(np.array([100.0, 100.0, 0.0]), links.delay_ms, links.buffer_ms, links.packet_ms, links.fair,
                  links.aqm_ms, links.base_loss)
    sol = solve(links, Flows.make([0, 1, 2], [0, 1, 2], demand=np.array([50.0, 200.0, 10.0])))
    assert sol.arc_loss == pytest.approx([0.0, 0.5, 1.0])


def test_queueing_grows_with_load_and_stops_at_a_full_buffer():
    links = Links.uniform(3, capacity=100.0, delay_ms=10.0, buffer_ms=40.0, packet_ms=0.12)
    sol = solve(links, Flows.make([0, 1, 2], [0, 1, 2], demand=np.array([10.0, 90.0, 200.0])))
    assert sol.arc_queue_ms[0] < sol.arc_queue_ms[1] < sol.arc_queue_ms[2]
    assert sol.arc_queue_ms[2] == pytest.approx(40.0)
    assert sol.latency_ms[2] == pytest.approx(10.0 + 0.12 + 40.0)


def test_hashed_split_is_uneven_but_close_and_exact_without_hashing():
    ideal = np.array([0.5, 0.25, 0.25])
    assert hashed_split(ideal, 0.125, 0, salt=1).tolist() == ideal.tolist()
    shares = hashed_split(ideal, 0.125, 256, salt=1)
    assert shares.sum() == pytest.approx(1.0)
    assert not np.allclose(shares, ideal) and np.allclose(shares, ideal, atol=0.15)


def fat_tree(k=4):
    b = TopologyBuilder()
    b.site("dc")
    ft = add_fat_tree(b, "dc", k)
    return b.build(), ft


def test_fat_tree_sizes():
    topo, ft = fat_tree(4)
    kinds = topo.node_kind
    assert kinds.count("spine") == 4 and kinds.count("agg") == 8 and kinds.count("tor") == 8
    assert kinds.count("host") == 16
    assert topo.n_links == 16 + 16 + 16  # tor-agg, agg-core, host-tor


def test_ecmp_spreads_over_all_paths_and_avoids_dead_links():
    topo, ft = fat_tree(4)
    n = 400
    src = np.zeros(n, dtype=np.int64)  # pod 0 tor 0
    dst = np.full(n, 2, dtype=np.int64)  # pod 1 tor 0
    ok = np.ones(topo.n_links, dtype=bool)
    links, routable = fat_tree_ecmp(ft, src, dst, np.arange(n), ok)
    assert routable.all()
    used_cores = {int(l) for l in links[:, 1]}
    assert len(used_cores) == 4  # (k/2)^2 paths, each hash lands on one
    dead = int(ft.tor_agg[0, 0, 0])
    ok[dead] = False
    links2, routable2 = fat_tree_ecmp(ft, src, dst, np.arange(n), ok)
    assert routable2.all() and dead not in links2
    # only flows that used the dead link moved
    moved = (links != links2).any(axis=1)
    assert moved.sum() <= (links[:, 0] == dead).sum() + n // 2


def test_ecmp_intra_pod_uses_no_core():
    topo, ft = fat_tree(4)
    links, routable = fat_tree_ecmp(ft, np.array([0]), np.array([1]), np.array([7]), np.ones(topo.n_links, bool))
    assert routable[0] and links[0, 1] == -1 and links[0, 2] == -1 and links[0, 0] >= 0


def test_quantised_split_as_with_clip_whatever_the_sign_of_zero():
    """quantised_split floors weights at 0 with np.maximum: the splits np.clip gave, -0.0 and NaN included."""
    rng = np.random.default_rng(3)

    def with_clip(weights, quantum):  # the rounding as it was, on np.clip
        w = np.clip(np.asarray(weights, dtype=float), 0.0, None)
        if w.sum() <= 0:
            w = np.ones_like(w)
        units = int(round(1.0 / quantum))
        exact = w / w.sum() * units
        base = np.floor(exact).astype(int)
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:units - base.sum()]] += 1
        return base / units

    for _ in range(500):
        w = rng.choice([0.0, -0.0, -1.0, 0.5, 1.0, 2.0, 3.0], size=int(rng.integers(1, 6))) * rng.random()
        for quantum in (0.125, 0.25, 1 / 3):
            assert quantised_split(w, quantum).tobytes() == with_clip(w, quantum).tobytes(), (w, quantum)
