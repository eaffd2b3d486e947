"""The agent-facing toolbox: observations, tests and mitigations from one registry.

>>> from twin import Twin
>>> from twin.tools import Toolbox
>>> box = Toolbox(Twin("b2b4-casc1", seed=0))
>>> [t.name for t in box.tools][:3]
['list_alerts', 'query_metric', 'recent_changes']
"""

from twin.tools.base import Tool, ToolResult
from twin.tools.registry import ToolRegistry, default_registry, tool
from twin.tools.toolbox import Toolbox

__all__ = ["Tool", "ToolRegistry", "ToolResult", "Toolbox", "default_registry", "tool"]
