"""Tokens/s, tokens per episode and wall time per episode for the default model on b2b4-casc1.

    python bench/bench_llm.py [--episodes 2] [--model PATH]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--model", default=None)
    ap.add_argument("--scenario", default="b2b4-casc1")
    args = ap.parse_args()

    from agents.llm import LlamaCppBackend, LLMAgent
    from twin.episode import run_episode

    backend = LlamaCppBackend(model_path=args.model)
    t0 = time.perf_counter()
    backend.llm  # load once, timed separately
    load_s = time.perf_counter() - t0
    rows = []
    for seed in range(args.episodes):
        agent = LLMAgent(backend=backend, trace_dir=None)
        w0 = time.perf_counter()
        ep = run_episode(args.scenario, agent, seed=seed)
        wall = time.perf_counter() - w0
        tr = agent.trace
        rows.append((seed, wall, tr.prompt_tokens, tr.completion_tokens, tr.llm_wall_s, ep.mitigated, ep.ttm))
    print(f"model {backend.model_path.name}, load {load_s:.2f} s, threads {backend.n_threads}")
    print("seed  wall_s  prompt_tok  completion_tok  llm_s  tok/s(total)  gen_tok/s  mitigated  ttm_s")
    for seed, wall, pt, ct, llm_s, mit, ttm in rows:
        print(f"{seed:4d}  {wall:6.1f}  {pt:10d}  {ct:14d}  {llm_s:5.1f}  {(pt + ct) / max(llm_s, 1e-9):12.1f}  "
              f"{ct / max(llm_s, 1e-9):9.1f}  {str(mit):9s}  {ttm}")
    n = len(rows)
    print(f"mean: {sum(r[1] for r in rows) / n:.1f} s wall/episode, {sum(r[2] + r[3] for r in rows) / n:.0f} tokens/episode, "
          f"LLM share of wall time {sum(r[4] for r in rows) / max(sum(r[1] for r in rows), 1e-9):.0%}")


if __name__ == "__main__":
    main()
