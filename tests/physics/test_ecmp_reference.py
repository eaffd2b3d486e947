"""fat_tree_ecmp against a flow-by-flow reading of its rule, under random link failures."""

from __future__ import annotations

import numpy as np
import pytest

from twin.model.fabric import add_fat_tree
from twin.model.topology import TopologyBuilder
from twin.physics.routing import fat_tree_ecmp


def _reference(ft, src: int, dst: int, flow_hash: int, ok: np.ndarray) -> tuple[list[int], bool]:
    """The rule spelled out: list the alive (agg, core) choices in order, take hash mod count."""
    half = ft.half
    if src == dst:
        return [-1] * 4, True
    (sp, st), (dp, dt) = divmod(src, half), divmod(dst, half)
    choices = []
    for a in range(half):
        for i in range(half if sp != dp else 1):
            up1, dn2 = ft.tor_agg[sp, st, a], ft.tor_agg[dp, dt, a]
            if sp == dp:
                if ok[up1] and ok[dn2]:
                    choices.append([up1, -1, -1, dn2])
            else:
                up2, dn1 = ft.agg_core[sp, a, i], ft.agg_core[dp, a, i]
                if ok[up1] and ok[up2] and ok[dn1] and ok[dn2]:
                    choices.append([up1, up2, dn1, dn2])
    if not choices:
        return [-1] * 4, False
    return [int(x) for x in choices[flow_hash % len(choices)]], True


@pytest.mark.parametrize("k", [4, 6, 8])
@pytest.mark.parametrize("p_fail", [0.0, 0.05, 0.3, 0.8])
def test_ecmp_matches_the_rule_flow_by_flow(k, p_fail):
    b = TopologyBuilder()
    b.site("dc")
    ft = add_fat_tree(b, "dc", k)
    topo = b.build()
    rng = np.random.default_rng([k, int(p_fail * 100)])
    n_tors = k * ft.half
    src = rng.integers(0, n_tors, 300)
    dst = np.where(rng.random(300) < 0.2, src, rng.integers(0, n_tors, 300))
    hashes = rng.integers(0, 2**31, 300)
    ok = rng.random(topo.n_links) >= p_fail
    links, routable = fat_tree_ecmp(ft, src, dst, hashes, ok)
    for f in range(300):
        want, want_ok = _reference(ft, int(src[f]), int(dst[f]), int(hashes[f]), ok)
        assert links[f].tolist() == want and bool(routable[f]) == want_ok, f
