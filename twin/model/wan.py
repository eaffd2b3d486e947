"""WAN generators: sites joined by links on several planes, and gravity-model demands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.model.topology import TopologyBuilder, router_name

if TYPE_CHECKING:
    from twin.scenario import GravitySpec, WanGeneratorSpec

__all__ = ["generate_wan", "gravity_demands", "SITE_NAMES"]

#: Metro codes for generated sites; beyond these, sites are numbered.
SITE_NAMES = (
    "iad", "ord", "dfw", "sjc", "sea", "atl", "lhr", "fra", "ams", "nrt", "sin", "syd",
    "gru", "bom", "hkg", "mad", "waw", "jnb", "yyz", "den",
)


def generate_wan(builder: TopologyBuilder, spec: "WanGeneratorSpec", rng: np.random.Generator) -> None:
    """A ring of ``spec.sites`` sites plus random chords up to ``spec.degree``, on every plane.

    Every plane spans the same sites (clusters attach to all planes) but draws its own
    chords, so planes differ as B2 and B4 do. Delay grows with ring distance.
    """
    n = spec.sites
    names = [SITE_NAMES[i] if i < len(SITE_NAMES) else f"s{i:02d}" for i in range(n)]
    for name in names:
        builder.site(name)
    for plane in spec.planes:
        builder.plane(plane)
        for name in names:
            builder.node(router_name(plane, name), "router", name, plane)
        edges = {(i, (i + 1) % n) if i < (i + 1) % n else ((i + 1) % n, i) for i in range(n)} if n > 2 else {(0, 1)}
        target = max(len(edges), n * spec.degree // 2)
        tries = 0
        while len(edges) < min(target, n * (n - 1) // 2) and tries < 50 * n:
            a, b = sorted(int(x) for x in rng.choice(n, 2, replace=False))
            edges.add((a, b))
            tries += 1
        for a, b in sorted(edges):
            hops = min(b - a, n - (b - a))
            delay = spec.delay_ms_per_hop * hops
            builder.link(f"{plane}:{names[a]}-{names[b]}", router_name(plane, names[a]), router_name(plane, names[b]),
                         spec.capacity_gbps, delay, max(delay, 1.0), plane)


def gravity_demands(sites: list[str], spec: "GravitySpec", rng: np.random.Generator) -> list[tuple[str, str, int, float, str]]:
    """Demands between every ordered site pair by a gravity model with lognormal site masses."""
    n = len(sites)
    mass = rng.lognormal(0.0, 0.5, n)
    out: list[tuple[str, str, int, float, str]] = []
    weight = np.outer(mass, mass)
    np.fill_diagonal(weight, 0.0)
    if weight.sum() <= 0:
        return out
    weight /= weight.sum()
    for cls, total in ((0, spec.user_gbps), (1, spec.interdc_gbps)):
        if total <= 0:
            continue
        for i in range(n):
            for j in range(n):
                if i != j:
                    out.append((sites[i], sites[j], cls, float(total * weight[i, j]), ""))
    return out
