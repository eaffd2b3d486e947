"""twin as a wheel: installed non-editable into a fresh venv outside the checkout, it still has
its built-in scenarios, replays, runbooks and notes, and the demo runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from twin.llama_setup import installed_build
from twin.replay import REPLAY_DIR
from twin.scenario import SCENARIO_DIR

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(bin folder of a fresh venv holding only the twin wheel and its dependencies, a work folder)."""
    llama = installed_build()
    assert llama is not None, "llama-cpp-python not built by twin (make / twin setup-llm)"
    base = tmp_path_factory.mktemp("wheel")
    src, dist, env_dir, work = base / "src", base / "dist", base / "venv", base / "work"
    work.mkdir()
    # build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout
    junk = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "out", "*.egg-info", "__pycache__",
                                  ".pytest_cache", ".hypothesis")
    shutil.copytree(ROOT, src, symlinks=True, ignore=junk)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src)], cwd=base)
    wheels = list(dist.glob("twin-*.whl"))
    assert len(wheels) == 1
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    # the portable llama-cpp-python wheel that the Makefile built, then twin and the rest from PyPI
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", llama.wheel, str(wheels[0])], cwd=base)
    return bin_dir, work


def test_installed_twin_lists_every_built_in_scenario(installed):
    bin_dir, work = installed
    out = _run([str(bin_dir / "twin"), "scenarios"], cwd=work).stdout
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    assert len(names) >= 15
    for name in names:
        assert name in out, f"{name} missing from `twin scenarios` of the installed wheel"


def test_installed_twin_uses_its_own_package_data(installed):
    bin_dir, work = installed
    code = ("import twin.scenario as s, twin.replay as r, agents.runbook as rb, agents.llm.knowledge as k;"
            "print(s.SCENARIO_DIR, r.REPLAY_DIR, rb.RUNBOOK_DIR, k.KNOWLEDGE_DIR, sep='\\n')")
    dirs = [Path(line) for line in _run([str(bin_dir / "python"), "-c", code], cwd=work).stdout.split()]
    for d in dirs:
        assert d.is_dir() and any(d.iterdir()), d
        assert ROOT not in d.parents, f"{d} points back into the checkout"
    assert len(list(dirs[1].glob("*.yaml"))) == len(list(REPLAY_DIR.glob("*.yaml")))


def test_installed_twin_runs_a_scenario_and_the_demo(installed):
    bin_dir, work = installed
    run = _run([str(bin_dir / "twin"), "run", "b2b4-casc1", "--until", "15m", "--out", str(work / "run")], cwd=work)
    assert "chg-4421" in run.stdout and "PacketLoss" in run.stdout
    demo = _run([str(bin_dir / "twin"), "demo", "--out", str(work / "demo")], cwd=work)
    assert "Time to mitigate: helper" in demo.stdout and "not mitigated" not in demo.stdout
