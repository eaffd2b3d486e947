"""Safety pre-check: trial a mitigation on forks of the twin, with quantified risk, before production.

>>> from twin import Twin
>>> from twin.safety import precheck
>>> t = Twin("b2b4-casc1"); t.run(until="12m")
>>> precheck(t, "freeze_te", draws=2).verdict
'safe'
"""

from twin.errors import PolicyError, SafetyError
from twin.safety.mitigation import Mitigation, describe, parse_mitigation
from twin.safety.operator import OperatorReport, operator_precheck, operator_rank
from twin.safety.policy import DEFAULT_POLICY, OperatorPolicy, Policy, load_policy
from twin.safety.precheck import Draw, plan_draws, precheck, rank
from twin.safety.report import Report, Spread

__all__ = [
           "DEFAULT_POLICY",
           "Draw",
           "Mitigation",
           "OperatorPolicy",
           "OperatorReport",
           "Policy",
           "PolicyError",
           "Report",
           "SafetyError",
           "Spread",
           "describe",
           "load_policy",
           "operator_precheck",
           "operator_rank",
           "parse_mitigation",
           "plan_draws",
           "precheck",
           "rank",
]
