"""A b2b4-casc1 twin mid-incident, shared (tests fork it so they never disturb one another)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def twin_12m(b2b4):
    from twin import Twin

    t = Twin(b2b4, seed=0)
    t.run(until="12m")
    return t
