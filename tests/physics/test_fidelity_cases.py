"""The ns-3 fidelity cases (bench/fidelity) are well-formed; case c checked in ns-3 if present."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench.fidelity.cases import BY_NAME, CASES, QDISCS, validate

REFERENCE = Path(__file__).resolve().parents[2] / "bench" / "fidelity" / "ns3_reference.json"


def _ns3_importable() -> bool:
    """Cheap check (importing ns-3 takes ~8 s): the PyPI ns3 distribution and its module."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("ns3")
    except PackageNotFoundError:
        return False
    return importlib.util.find_spec("ns") is not None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_well_formed(case):
    assert validate(case) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_flow_has_a_path_through_a_bottleneck(case):
    for f in case.flows:
        path = case.path(f.src, f.dst)
        assert path, f"{f.id}: {f.src} -> {f.dst} not connected"
        assert path[0].a == f.src or path[0].b == f.src
        assert path[-1].a == f.dst or path[-1].b == f.dst
        assert any(ln.bottleneck for ln in path), f"{f.id} crosses no bottleneck"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_queue_discipline_explicit(case):
    for ln in case.links:
        assert ln.qdisc in QDISCS
    # a case is about one discipline: every link uses the same one
    assert len({ln.qdisc for ln in case.links}) == 1


def test_required_cases_present():
    for prefix in ("a-", "b-", "c-", "d-", "e-", "f-", "g-", "h-"):
        assert any(n.startswith(prefix) for n in BY_NAME), prefix
    for n in ("d-overload-udp-droptail", "d-overload-udp-fq", "f-rtt-droptail", "f-rtt-fq"):
        assert n in BY_NAME


def test_validate_catches_disconnected_and_bad_qdisc():
    from dataclasses import replace

    c = BY_NAME["c-udp-capped"]
    cut = replace(c, links=tuple(ln for ln in c.links if not ln.bottleneck))
    assert any("not connected" in e for e in validate(cut))
    bad = replace(c, links=tuple(replace(ln, qdisc="red") for ln in c.links))
    assert any("qdisc" in e for e in validate(bad))


def test_reference_covers_every_case():
    ref = json.loads(REFERENCE.read_text())
    assert set(ref["cases"]) == set(BY_NAME)
    assert ref["meta"]["tcp_variant"]
    for name, r in ref["cases"].items():
        assert set(r["flows"]) == {f.id for f in BY_NAME[name].flows}
        wanted = {QDISCS[ln.qdisc] for ln in BY_NAME[name].links}
        assert {q.split()[0] for q in r["qdiscs_installed"]} == wanted


def test_compare_skeleton_only_placeholder_is_twin_side():
    from bench.fidelity import compare

    with pytest.raises(NotImplementedError):
        compare.twin_side(BY_NAME["h-tcp-alone"])
    lines, _ = compare.compare(["c-udp-capped"], json.loads(REFERENCE.read_text()))
    assert any("udp0" in ln for ln in lines)


@pytest.mark.skipif(not _ns3_importable(), reason="ns-3 (PyPI ns3) not importable")
def test_case_c_in_ns3_delivers_udp_rates():
    from bench.fidelity.ns3_runner import run_case

    from dataclasses import replace

    # strictly periodic sources: no Poisson sampling noise (a 10 s Poisson window is +-2.4%
    # for the 2 Mbps flow), so this checks the rate calibration and the measurement window
    case = BY_NAME["c-udp-capped"]
    case = replace(case, flows=tuple(replace(f, jitter=0.0) for f in case.flows))
    r = run_case(case, duration_s=12.0, warmup_s=2.0)
    for f in case.flows:
        got = r["flows"][f.id]
        assert got["throughput_mbps"] == pytest.approx(f.rate_mbps, rel=0.02), f.id
        assert got["loss"] < 0.001
