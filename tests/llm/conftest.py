import json

import pytest

from twin import Twin


@pytest.fixture
def box():
    from twin.tools import Toolbox

    t = Twin("b2b4-casc1", seed=0)
    t.run(until=720)
    return Toolbox(t)


def scripted(*outputs):
    from agents.llm import ScriptedBackend

    return ScriptedBackend([o if isinstance(o, str) else json.dumps(o) for o in outputs])
