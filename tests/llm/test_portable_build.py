"""The local model back-end is built portably and checks itself before a demo starts.

The crash this guards against (issue 10): a `-march=native` llama.cpp build on a CPU that lists
AMX dies with SIGILL in the batched matrix kernels, which only a prompt of more than a few
tokens reaches.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agents.llm import LlamaCppBackend, default_model_path
from twin.llama_setup import (
    LLAMA_VERSION,
    build_key,
    installed_build,
    portable_cmake_args,
    self_check,
)

AMX_AND_AVX512 = {"avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512_vnni",
                  "amx_tile", "amx_int8", "amx_bf16"}


def test_portable_options_drop_avx512_and_amx_but_keep_avx2():
    args = portable_cmake_args(AMX_AND_AVX512, "x86_64")
    assert "-DGGML_NATIVE=OFF" in args
    for on in ("AVX", "AVX2", "FMA", "F16C", "BMI2"):
        assert f"-DGGML_{on}=ON" in args
    for off in ("AVX512", "AVX512_VNNI", "AMX_TILE", "AMX_INT8", "AMX_BF16"):
        assert f"-DGGML_{off}=OFF" in args


def test_portable_options_follow_an_older_cpu():
    args = portable_cmake_args({"sse4_2", "avx"}, "x86_64")
    assert "-DGGML_AVX=ON" in args and "-DGGML_AVX2=OFF" in args and "-DGGML_FMA=OFF" in args
    assert portable_cmake_args(set(), "aarch64") == ["-DGGML_NATIVE=OFF"]


def test_cache_key_changes_with_the_options():
    a = build_key(LLAMA_VERSION, ["-DGGML_NATIVE=OFF"])
    assert a == build_key(LLAMA_VERSION, ["-DGGML_NATIVE=OFF"])
    assert a != build_key(LLAMA_VERSION, ["-DGGML_NATIVE=ON"])


def _llama_libs() -> list[Path]:
    import llama_cpp

    libs = sorted((Path(llama_cpp.__file__).parent / "lib").glob("*.so*"))
    assert libs, "llama_cpp ships no shared libraries"
    return libs


def test_installed_back_end_is_twins_portable_build():
    info = installed_build()
    assert info is not None, "llama-cpp-python was not installed by twin's build: run `twin setup-llm`"
    if not info.portable:
        pytest.skip(f"a custom build was asked for: {' '.join(info.cmake_args)}")
    assert info.version == LLAMA_VERSION and "-DGGML_NATIVE=OFF" in info.cmake_args


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
def test_installed_libraries_hold_no_amx_or_avx512_instructions():
    info = installed_build()
    if info is None or not info.portable:
        pytest.skip("not twin's portable build")
    for lib in _llama_libs():
        if lib.is_symlink():
            continue
        asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True,
                             text=True, check=True).stdout
        for needle in ("tileloadd", "tdpbssd", "tdpbf16ps", "%zmm"):
            assert needle not in asm, f"{lib.name} contains {needle}: not a portable build"


def test_self_check_runs_the_embedded_model():
    check = self_check(default_model_path())
    assert check.ok, check.reason


def test_long_prompt_goes_through_the_batched_kernels():
    backend = LlamaCppBackend(n_ctx=1024)
    text = " ".join(f"Link b2:site{i}-site{i + 1} is at {90 + i}% utilisation with {i}% loss." for i in range(25))
    out = backend.complete([{"role": "user", "content": text + " Summarise in one word."}], max_tokens=8)
    assert out.prompt_tokens > 300 and out.completion_tokens > 0


def _fake_python(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "python"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def test_a_crash_becomes_a_sentence(tmp_path):
    check = self_check(default_model_path(), python=_fake_python(tmp_path, "kill -ILL $$"))
    assert not check.ok and "SIGILL" in check.reason


def test_demo_with_a_broken_back_end_says_so_in_one_line(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF but not really a model")
    env = dict(os.environ, TWIN_LLM_MODEL=str(bad))
    proc = subprocess.run([sys.executable, "-m", "twin", "demo", "--out", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot run a tiny completion" in lines[0] and "twin setup-llm" in lines[0]
    assert "Traceback" not in proc.stderr
