"""Incidents nobody wrote: a procedural generator with computed difficulty labels.

>>> from twin.generator import generate
>>> batch = generate(4, seed=7)                 # four incidents, deterministic in (seed, index)
>>> batch.items[0].scenario.generated.band      # easy | medium | hard
>>> batch.write("gen/")                          # one YAML per incident + manifest.csv

Incident ``i`` of seed ``s`` is drawn from ``numpy.random.default_rng([s, i, attempt])`` only, so
it is the same whichever process draws it and however many are drawn. Its root-cause layer and
fault kind come round-robin (in a seeded order per block) over the configuration's (layer, kind)
pairs, so a set spreads over kinds and layers; a candidate that fails the checks of
:mod:`twin.generator.assess` is rejected and redrawn (after half the attempts on one pair, the
other pairs are tried in turn). Seeds from :data:`HELDOUT_FROM` on are the held-out split.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from twin.errors import TwinError
from twin.generator.assess import BANDS, WEIGHTS, Assessment, assess
from twin.generator.config import (GENERATED_KINDS, HELDOUT_FROM, LAYERS, GeneratorConfig, GeneratorConfigError,
                                   load_generator_config, parse_generator_config)
from twin.generator.draw import draw_draft
from twin.parallel import fork_workers
from twin.scenario import Scenario, ScenarioError, parse_scenario

__all__ = ["BANDS", "GENERATED_KINDS", "HELDOUT_FROM", "LAYERS", "WEIGHTS", "Batch", "GenerationError", "Generated",
           "GeneratorConfig", "GeneratorConfigError", "generate", "generate_one", "load_generator_config",
           "parse_generator_config", "split_of"]

MANIFEST = "manifest.csv"


class GenerationError(TwinError):
    """No acceptable incident could be drawn within the configuration's attempts."""


def split_of(seed: int) -> str:
    return "heldout" if seed >= HELDOUT_FROM else "train"


@dataclass
class Generated:
    """One accepted incident: its scenario (with ground truth and difficulty) and its file text."""

    index: int
    seed: int
    scenario: Scenario
    text: str
    rejected: list[str] = field(default_factory=list)  # reasons, one per rejected candidate

    @property
    def name(self) -> str:
        return self.scenario.name


@dataclass
class Batch:
    seed: int
    config: GeneratorConfig
    items: list[Generated]

    @property
    def rejections(self) -> Counter[str]:
        return Counter(r for g in self.items for r in g.rejected)

    @property
    def attempts(self) -> int:
        return len(self.items) + sum(len(g.rejected) for g in self.items)

    def manifest(self) -> str:
        cols = ["name", "split", "layer", "kind", "kinds", "difficulty", "band", *WEIGHTS,
                "cascade_depth_events", "observability", "red_herring_changes", "causes", "working_mitigations",
                "trap_harm_rel", "trap", "rejected"]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for g in self.items:
            gen = g.scenario.generated
            assert gen is not None
            w.writerow([g.name, gen.split, gen.layer, gen.kind, " ".join(gen.kinds), f"{gen.difficulty:.4f}", gen.band,
                        *[f"{gen.features[k]:.3f}" for k in WEIGHTS],
                        *[f"{gen.raw[k]:g}" for k in ("cascade_depth", "observability", "red_herrings", "faults",
                                                      "working_mitigations", "trap_harm")],
                        gen.trap, len(g.rejected)])
        return buf.getvalue()

    def write(self, out: str | Path) -> list[Path]:
        """One ``<name>.yaml`` per incident and ``manifest.csv``; byte-identical for a seed."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for g in self.items:
            p = out / f"{g.name}.yaml"
            p.write_text(g.text)
            paths.append(p)
        (out / MANIFEST).write_text(self.manifest())
        return paths


def _combo_order(seed: int, block: int, combos: list[tuple[str, str]]) -> list[tuple[str, str]]:
    perm = np.random.default_rng([seed, block, 0xC0]).permutation(len(combos))
    return [combos[int(i)] for i in perm]


def _truth(sc_data: dict[str, Any], a: Assessment, entities: list[str], kind: str) -> dict[str, Any]:
    effective = [lb for lb in a.labels if lb.label == "effective"] or a.plan
    ref = [{"tool": lb.tool, "args": dict(lb.args)} for lb in effective]
    harmful = [{"tool": lb.tool, "args": dict(lb.args)} for lb in a.labels if lb.label == "harmful"]
    return {"root_cause": {"fault": "f1", "component": entities[0],
                           "summary": f"{kind} on {entities[0]}" + (f", with a second cause on {entities[1]}"
                                                                      if len(entities) > 1 else ""),
                           "keywords": [kind, *entities]},
            "effective": ref, "harmful": harmful}


def _dump(data: dict[str, Any], seed: int, index: int) -> str:
    head = (f"# Generated by `twin generate` (seed {seed}, incident {index}); regenerate rather than edit.\n"
            "# ground_truth and generated (difficulty) were computed by simulation on this scenario.\n")
    return head + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True)


def generate_one(seed: int, index: int, config: GeneratorConfig | None = None) -> Generated:
    """Incident ``index`` of generator seed ``seed`` (raises :class:`GenerationError` when every
    attempt is rejected)."""
    cfg = config or GeneratorConfig()
    combos = cfg.combos()
    order = _combo_order(seed, index // len(combos), combos)
    start = index % len(combos)
    rejected: list[str] = []
    lo, hi = cfg.difficulty
    for attempt in range(cfg.max_attempts):
        half = max(1, cfg.max_attempts // 2)  # then one attempt per pair, round the rest
        layer, kind = order[start % len(order)] if attempt < half else order[(start + 1 + attempt - half) % len(order)]
        rng = np.random.default_rng([seed, index, attempt])
        name = f"gen-{seed}-{index:04d}"
        draft = draw_draft(rng, cfg, name, layer, kind)
        try:
            sc = parse_scenario(draft.data, name)
        except ScenarioError as exc:  # a draw the schema refuses is a generator bug: say which
            raise GenerationError(f"incident {index} of seed {seed}, attempt {attempt}: {exc}") from None
        a = assess(draft, sc)
        if a.ok and not (lo <= a.difficulty <= hi):
            a = Assessment(False, f"difficulty outside [{lo}, {hi}]")
        if not a.ok:
            rejected.append(f"{layer}/{kind}: {a.reason}")
            continue
        data = dict(draft.data)
        data["description"] = f"generated incident {index} of seed {seed}"
        data["ground_truth"] = _truth(data, a, draft.entities, kind)
        data["generated"] = {"seed": seed, "index": index, "split": split_of(seed), "layer": layer, "kind": kind,
                             "kinds": [f["kind"] for f in data["faults"]], "difficulty": a.difficulty,
                             "band": a.band, "features": a.features, "raw": a.raw, "trap": a.trap,
                             "together": bool(a.plan), "attempts": attempt + 1}
        text = _dump(data, seed, index)
        return _from_text(seed, index, text, rejected)
    raise GenerationError(f"incident {index} of seed {seed}: all {cfg.max_attempts} candidates were rejected "
                          f"(last: {rejected[-1] if rejected else '-'}); widen the configuration "
                          f"(difficulty {list(cfg.difficulty)}, kinds {cfg.kinds}, layers {cfg.layers})")


_JOB: dict[str, Any] = {}


def _work(index: int) -> tuple[int, str, list[str]]:
    g = generate_one(_JOB["seed"], index, _JOB["config"])  # scenario models do not pickle: send the text
    return g.index, g.text, g.rejected


def _from_text(seed: int, index: int, text: str, rejected: list[str]) -> Generated:
    return Generated(index, seed, parse_scenario(yaml.safe_load(text), f"gen-{seed}-{index:04d}"), text, rejected)


def generate(n: int, seed: int = 0, config: GeneratorConfig | None = None, workers: int | None = None,
             progress: Callable[[Generated], Any] | None = None) -> Batch:
    """``n`` accepted incidents of generator seed ``seed`` (in a forked pool of ``workers``
    processes; the result does not depend on how many)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    cfg = config or GeneratorConfig()
    n_workers = min(fork_workers(workers, "TWIN_GENERATE_WORKERS"), max(n, 1))
    items: list[Generated] = []
    if n_workers <= 1:
        for i in range(n):
            items.append(generate_one(seed, i, cfg))
            if progress is not None:
                progress(items[-1])
        return Batch(seed, cfg, items)
    _JOB.update(seed=seed, config=cfg)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(n_workers) as pool:
        for index, text, rejected in pool.imap(_work, range(n), chunksize=1):
            g = _from_text(seed, index, text, rejected)
            items.append(g)
            if progress is not None:
                progress(g)
    return Batch(seed, cfg, items)
