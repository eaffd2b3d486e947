"""A config change trialled by the pre-check is applied to the routers' config state in the
forks, so its effect is computed (no ``config_only`` no-op): blocking a prefix that carries
traffic comes out worse than doing nothing, a cost change that moves nothing does not."""

from __future__ import annotations

import sys
from pathlib import Path

from twin.safety import precheck

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
from wan_fixture import square  # noqa: E402


def test_precheck_applies_the_change_to_config_state():
    t = square()
    t.run(until=60)
    block = precheck(t, "acl_block wan-b 172.16.1.0/24", horizon="10m", draws=2, rng=0)
    assert block.mitigation["tool"] == "push_config"
    assert block.verdict == "harmful", block.explanation
    assert block.figures["impact_minutes"].mean > block.baseline["impact_minutes"].mean
    cost = precheck(t, "igp_cost wan:a-b 500", horizon="10m", draws=2, rng=0)
    assert cost.verdict != "harmful", cost.explanation
    assert t.state.network.configs["wan-b"].acl_deny == []  # the twin it was given is untouched
