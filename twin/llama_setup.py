"""The local model back-end's installation: a portable llama-cpp-python build and a self-check.

llama-cpp-python compiles llama.cpp when pip installs it, and by default compiles it for the
build machine's CPU (``-march=native``). On a virtual machine whose CPU flags advertise
instructions that the hypervisor does not let a process execute (Intel AMX tiles are the common
case), that build dies with SIGILL on the first batched matrix product. This module builds it
portably instead: ``GGML_NATIVE=OFF``, no AVX-512 and no AMX, and AVX/AVX2/FMA/F16C/BMI2 kept
where the build machine has them (the x86-64-v3 level that every x86-64 server of the last ten
years runs). The wheel lands in a cache of twin's own, keyed by version, build options, Python
and platform, so a native wheel left in pip's cache by an earlier install can never be picked up
in its place, and a second install reuses the portable one in seconds.

Knobs (environment variables):

- ``TWIN_LLAMA_CMAKE_ARGS``: build options to use instead of the portable ones, e.g.
  ``-DGGML_NATIVE=ON`` for a build tuned to this very CPU (only where this CPU can run every
  instruction it lists), or ``-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF`` for an old CPU.
- ``TWIN_WHEEL_CACHE``: where built wheels are kept (default ``~/.cache/twin/wheels``); point it
  at an empty folder to force a rebuild (CI does).

This file uses the standard library only, so the Makefile can run it with a fresh virtual
environment's interpreter before twin itself is installed::

    .venv/bin/python twin/llama_setup.py          # build (or reuse) and install into that venv

``twin setup-llm`` runs the same build from an installed twin, and :func:`self_check` runs one
short completion in a child process so that a crash becomes a sentence, not a dead process.

>>> portable_cmake_args({"avx", "avx2", "fma", "f16c", "avx512f", "amx_tile"}, "x86_64")[:2]
['-DGGML_NATIVE=OFF', '-DGGML_AVX=ON']
>>> "-DGGML_AVX2=OFF" in portable_cmake_args({"avx", "sse4_2"}, "x86_64")
True
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "LLAMA_VERSION",
    "ARGS_ENV",
    "CACHE_ENV",
    "BuildInfo",
    "CheckResult",
    "build_key",
    "build_wheel",
    "cpu_flags",
    "install",
    "installed_build",
    "portable_cmake_args",
    "requested_cmake_args",
    "self_check",
    "wheel_cache",
]

#: The llama-cpp-python release twin is built and tested against (pyproject pins the same).
LLAMA_VERSION = "0.3.16"
ARGS_ENV = "TWIN_LLAMA_CMAKE_ARGS"
CACHE_ENV = "TWIN_WHEEL_CACHE"
#: Written into the installed ``llama_cpp`` package: which build this is, and from which wheel.
MARKER = "twin-build.json"

# CPU flag -> ggml option kept ON when the build machine has it (all part of x86-64-v3)
_KEPT = (("avx", "GGML_AVX"), ("avx2", "GGML_AVX2"), ("fma", "GGML_FMA"), ("f16c", "GGML_F16C"),
         ("bmi2", "GGML_BMI2"))
# never compiled in: advertised by CPUs whose hypervisors may still refuse them
_OFF = ("GGML_AVX_VNNI", "GGML_AVX512", "GGML_AVX512_VBMI", "GGML_AVX512_VNNI", "GGML_AVX512_BF16",
        "GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")


@dataclass(frozen=True)
class BuildInfo:
    """What :func:`install` put in place: the wheel, its options and their cache key."""

    version: str
    cmake_args: tuple[str, ...]
    key: str
    wheel: str
    portable: bool


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str
    seconds: float = 0.0


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags as Linux lists them (empty where there is no /proc/cpuinfo)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def portable_cmake_args(flags: set[str], machine: str | None = None) -> list[str]:
    """ggml build options that run on any CPU with the build machine's baseline features."""
    machine = (machine or platform.machine()).lower()
    args = ["-DGGML_NATIVE=OFF"]
    if machine in ("x86_64", "amd64"):
        args += [f"-D{opt}={'ON' if flag in flags else 'OFF'}" for flag, opt in _KEPT]
        args += [f"-D{opt}=OFF" for opt in _OFF]
    return args


def requested_cmake_args() -> tuple[list[str], bool]:
    """The options to build with, and whether they are twin's portable default."""
    custom = os.environ.get(ARGS_ENV, "").split()
    if custom:
        return custom, False
    return portable_cmake_args(cpu_flags()), True


def build_key(version: str, cmake_args: list[str]) -> str:
    """Cache key: one wheel per (version, options, Python ABI, platform)."""
    tag = f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"
    text = json.dumps([version, sorted(cmake_args), tag])
    return f"{version}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def wheel_cache() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "twin" / "wheels"


def _find_wheel(folder: Path) -> Path | None:
    found = sorted(folder.glob("llama_cpp_python-*.whl")) if folder.is_dir() else []
    return found[0] if found else None


def build_wheel(version: str, cmake_args: list[str], python: str = sys.executable) -> Path:
    """Build (or find in twin's cache) the llama-cpp-python wheel for these options."""
    folder = wheel_cache() / build_key(version, cmake_args)
    cached = _find_wheel(folder)
    if cached is not None:
        print(f"twin: reusing llama-cpp-python {version} built with {' '.join(cmake_args)} ({cached})")
        return cached
    print(f"twin: building llama-cpp-python {version} with {' '.join(cmake_args)} "
          "(compiles llama.cpp: several minutes on 2 cores)", flush=True)
    env = dict(os.environ, CMAKE_ARGS=" ".join(cmake_args), FORCE_CMAKE="1")
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        # --no-cache-dir: neither read nor write pip's wheel cache, where a native build may sit
        cmd = [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
               "--no-binary", "llama-cpp-python", "-w", tmp, f"llama-cpp-python=={version}"]
        subprocess.run(cmd, env=env, check=True)
        built = _find_wheel(Path(tmp))
        if built is None:
            raise SystemExit(f"twin: pip wheel produced no llama-cpp-python wheel in {tmp}")
        staged = Path(tmp) / "done"
        staged.mkdir()
        built.rename(staged / built.name)
        (staged / "build.json").write_text(json.dumps({"version": version, "cmake_args": cmake_args}))
        if folder.exists():  # a concurrent build finished first: keep theirs
            shutil.rmtree(staged)
        else:
            staged.rename(folder)
    wheel = _find_wheel(folder)
    assert wheel is not None
    return wheel


def _site_llama_dir(python: str) -> Path | None:
    code = "import importlib.util as u; s = u.find_spec('llama_cpp'); print(s.submodule_search_locations[0] if s else '')"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False).stdout.strip()
    return Path(out) if out else None


def install(python: str = sys.executable) -> BuildInfo:
    """Build or reuse the wheel, install it into ``python``'s environment and mark it."""
    cmake_args, portable = requested_cmake_args()
    wheel = build_wheel(LLAMA_VERSION, cmake_args, python)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
                    "--force-reinstall", str(wheel)], check=True)
    info = BuildInfo(LLAMA_VERSION, tuple(cmake_args), build_key(LLAMA_VERSION, cmake_args), str(wheel), portable)
    where = _site_llama_dir(python)
    if where is not None:
        (where / MARKER).write_text(json.dumps(asdict(info), indent=1))
    return info


def installed_build() -> BuildInfo | None:
    """The marker of the llama-cpp-python build in this environment, if twin built it."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    marker = Path(spec.submodule_search_locations[0]) / MARKER
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    data["cmake_args"] = tuple(data["cmake_args"])
    return BuildInfo(**data)


# a prompt long enough (about 150 tokens) to go through the batched matrix kernels, where a
# CPU-specific build crashes; a handful of tokens takes the vector path and proves nothing
_CHECK = textwrap.dedent("""
    import sys, time
    from llama_cpp import Llama
    t0 = time.perf_counter()
    llm = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=2, n_batch=256, seed=0, verbose=False)
    prompt = " ".join(["The traffic engineering controller moved the inter-datacenter traffic"
                       " from the B4 plane onto B2, and the B2 links began to drop packets."] * 6)
    out = llm(prompt, max_tokens=4, temperature=0.0)
    n = out["usage"]["prompt_tokens"]
    assert n >= 64, n
    print(f"ok {n} {time.perf_counter() - t0:.2f}")
""")


def self_check(model_path: str | os.PathLike, timeout: float = 180.0, python: str = sys.executable) -> CheckResult:
    """Load the model and run one short completion in a child process; explain any failure."""
    try:
        proc = subprocess.run([python, "-c", _CHECK, str(model_path)], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"a 4-token completion took over {timeout:.0f} s")
    if proc.returncode == 0 and proc.stdout.startswith("ok"):
        return CheckResult(True, "ok", float(proc.stdout.split()[2]))
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        why = {"SIGILL": "killed by SIGILL: llama.cpp was compiled for instructions this CPU or VM does not allow",
               "SIGSEGV": "killed by SIGSEGV inside llama.cpp"}.get(sig, f"killed by {sig}")
        return CheckResult(False, why)
    last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
    if "No module named 'llama_cpp'" in proc.stderr:
        return CheckResult(False, "llama-cpp-python is not installed")
    return CheckResult(False, f"exit status {proc.returncode}: {last[:200]}")


FIX = ("fix: run `twin setup-llm` (rebuilds llama-cpp-python portably, several minutes; "
       f"{ARGS_ENV} overrides its build options), or set TWIN_LLM_MODEL to another GGUF model")


def main() -> None:
    info = install()
    kind = "portable" if info.portable else f"custom ({ARGS_ENV})"
    print(f"twin: llama-cpp-python {info.version} installed, {kind} build: {' '.join(info.cmake_args)}")


if __name__ == "__main__":
    main()
