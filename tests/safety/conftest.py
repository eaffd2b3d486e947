import pytest

from twin import Twin, load_scenario


@pytest.fixture(scope="module")
def casc12():
    """b2b4-casc1 at the height of the incident (12 minutes in)."""
    t = Twin(load_scenario("b2b4-casc1"))
    t.run(until="12m")
    return t
