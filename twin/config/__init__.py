"""Device configurations for the twin's WAN routers (Cisco IOS) and verification of changes.

>>> from twin import Twin
>>> from twin.config import verify
>>> t = Twin("b2b4-casc1"); t.run(until="5m")
>>> verify("igp_cost b2:us-east-us-central 500", t).batfish_status  # doctest: +SKIP
'Batfish: not configured'
"""

from twin.config.change import ConfigChange, apply_change, config_diff, parse_change, render_change
from twin.config.render import RouterConfig, addressing, render_all, render_router, wan_routers
from twin.config.verify import VerifyResult, embedded_check, verify

__all__ = [
           "ConfigChange",
           "RouterConfig",
           "VerifyResult",
           "addressing",
           "apply_change",
           "config_diff",
           "embedded_check",
           "parse_change",
           "render_all",
           "render_change",
           "render_router",
           "verify",
           "wan_routers",
]
