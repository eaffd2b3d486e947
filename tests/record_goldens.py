"""Re-record the golden reports the pre-check and diagnosis tests compare against.

Run it only when a change moves the model's numbers on purpose (say which change in the commit):
``python tests/record_goldens.py``. It keeps each file's inputs (times, candidates, draws, k) and
writes what the current code reports for them. The goldens are regression oracles: the claim that
batching changes nothing is checked without them, by the batched-against-one-by-one tests beside
them (``test_futures_one_by_one_equal_the_batch``, ``test_belief_twins_are_the_belief_twins``...).
Also prints the single-env trajectory digests for ``tests/envs/test_trajectory_digest.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twin import Twin, load_scenario  # noqa: E402
from twin.belief import operator_scenario  # noqa: E402
from twin.diagnosis import diagnose, diagnose_evidence, evidence  # noqa: E402
from twin.safety import rank  # noqa: E402
from twin.safety.operator import operator_rank  # noqa: E402

sys.path.insert(0, str(HERE / "safety"))
sys.path.insert(0, str(HERE / "envs"))
from test_batched_precheck import _plain, _portable  # noqa: E402
from test_trajectory_digest import DIGESTS, trajectory_digest  # noqa: E402

SAFETY, SIM = HERE / "safety" / "data", HERE / "sim" / "data"


def _write(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    print("wrote", path.relative_to(HERE.parent))


def _operator_reports(sc, case: dict, **extra) -> list[dict]:
    t = Twin(sc)
    t.run(until=case["at"])
    d = diagnose(sc, case["at"], twin=t)
    reports = operator_rank(operator_scenario(sc), d.evidence, d, case["candidates"], horizon=1800,
                            draws=case["draws"], k=case["k"], workers=1, **extra)
    got = [_portable(json.loads(json.dumps(r.to_dict(), default=str))) for r in reports]
    for r in got:
        r.pop("elapsed_s", None)
    return got


def main() -> None:
    path = SAFETY / "rank_golden.json"
    cases = json.loads(path.read_text())
    for name, case in cases.items():
        t = Twin(load_scenario(name))
        t.run(until=case["at"])
        case["reports"] = _plain(rank(t, case["candidates"], horizon=1800, draws=case["draws"], workers=1))
    _write(path, cases)

    path = SAFETY / "operator_rank_golden.json"
    case = json.loads(path.read_text())
    case["reports"] = _operator_reports(load_scenario("b2b4-casc1"), case)
    _write(path, case)

    path = SAFETY / "operator_rank_hypotheses_golden.json"
    case = json.loads(path.read_text())
    case["reports"] = _operator_reports(load_scenario(case["scenario"]), case, min_p=case["min_p"])
    _write(path, case)

    path = SIM / "diagnosis_golden.json"
    cases = json.loads(path.read_text())
    for name, case in cases.items():
        sc = load_scenario(name)
        t = Twin(sc)
        t.run(until=case["at"])
        d = diagnose_evidence(evidence(t), operator_scenario(sc), workers=1)
        case.update(simulated=d.simulated, rejected=list(d.rejected),
                    ranked=[[s.label, s.misfit, s.probability, s.explained, s.missed, s.invented] for s in d.ranked])
    _write(path, cases)

    for key in DIGESTS:
        print(f"    {key!r}: \"{trajectory_digest(*key)}\",")


if __name__ == "__main__":
    main()
