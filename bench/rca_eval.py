"""RCA evaluation on twin's exports: BARO and a z-score ranking, top-1 and Avg@5 per scenario.

Exports every shipped scenario that has a ground truth (``twin export``: what monitors saw, with
noise, sampling and gaps) and ranks its metric columns by three methods:

- ``baro``: BARO (Pham et al., FSE 2024) as its paper describes it: a multivariate Bayesian
  online change-point detector (Adams & MacKay's BOCPD, Normal-Gamma model per standardised
  column, log-likelihoods summed over columns) finds the anomaly time; each column is then
  robust-scaled by the median and inter-quartile range of the normal period before it, and
  columns are ranked by their largest scaled value after it (RCAEval's ``baro`` scoring);
- ``baro@inject``: the same scoring given the root-cause fault's start as the anomaly time,
  which is how RCAEval's benchmark calls ``baro`` (``inject_time``);
- ``zscore``: each column's largest |z| after the fault's start against the pre-fault mean and
  standard deviation.

RCAEval 1.8.1 (PyPI) itself is not called: it declares no dependencies, but on Python 3.11
``RCAEval.e2e`` eagerly imports its RCD/MMRCD/TORAI modules (matplotlib, networkx,
causal-learn), and its ``default`` extra pins torch and ~150 packages; BARO's ranking is a few
lines, re-implemented here.

A column is a hit when it belongs to the root-cause component (the entities the root-cause fault
names: ``root_cause.columns`` of the export). A scenario whose root cause is only an event (a
change with no entity of its own) counts as a miss for every method. Top-k is the share of
scenarios whose first hit ranks within k; Avg@5 is the mean of top-1 .. top-5.

    python bench/rca_eval.py [--seeds 1] [--out runs/rca-eval]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from twin.scenario import load_scenario, scenario_paths
from twin.telemetry.export import export_telemetry

MAX_RUN = 200  # BOCPD run lengths kept (longer runs are merged into the last)


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Lost samples held at the last value (a TSDB query's look-back), then constant columns dropped."""
    df = df.ffill().bfill()
    df = df.loc[:, df.notna().all()]
    return df.loc[:, (df != df.iloc[0]).any()]


def bocpd_change(x: np.ndarray, hazard: float = 1 / 100, warmup: int = 4) -> int:
    """Index of the first change point a multivariate BOCPD finds in ``x`` (time x columns).

    Columns are standardised on the first ``warmup`` rows; each follows a Normal-Gamma model
    (independent columns); the run-length posterior is updated online and a change is the first
    time after ``warmup`` that the most probable run length falls back to (near) zero.
    """
    t_n, d = x.shape
    mu0 = x[:warmup].mean(axis=0)
    sd0 = x[:warmup].std(axis=0)
    sd0 = np.where(sd0 > 1e-9, sd0, np.maximum(np.abs(mu0) * 0.01, 1e-3))
    z = np.clip((x - mu0) / sd0, -50, 50)
    kappa0, alpha0, beta0 = 1.0, 1.0, 1.0
    log_r = np.array([0.0])
    mu, kappa = np.zeros((1, d)), np.full((1, d), kappa0)
    alpha, beta = np.full((1, d), alpha0), np.full((1, d), beta0)
    gammaln = np.frompyfunc(math.lgamma, 1, 1)

    lh, l1h = np.log(hazard), np.log1p(-hazard)
    prev_map = 0
    for t in range(t_n):
        v = z[t]
        # Student-t predictive per run length, summed over columns
        scale2 = beta * (kappa + 1) / (alpha * kappa)
        nu = 2 * alpha
        a = alpha[:, :1]  # the same for every column of a run length
        norm = (gammaln(a + 0.5) - gammaln(a)).astype(float)
        lp = (norm - 0.5 * np.log(np.pi * nu * scale2)
              - (nu + 1) / 2 * np.log1p((v - mu) ** 2 / (nu * scale2))).sum(axis=1)
        grow = log_r + lp + l1h
        cp = np.logaddexp.reduce(log_r + lp + lh)
        log_r = np.concatenate([[cp], grow])
        log_r -= np.logaddexp.reduce(log_r)
        mu_n = (kappa * mu + v) / (kappa + 1)
        beta_n = beta + kappa * (v - mu) ** 2 / (2 * (kappa + 1))
        mu = np.vstack([np.full((1, d), 0.0), mu_n])
        kappa = np.vstack([np.full((1, d), kappa0), kappa + 1])
        alpha = np.vstack([np.full((1, d), alpha0), alpha + 0.5])
        beta = np.vstack([np.full((1, d), beta0), beta_n])
        if log_r.size > MAX_RUN:
            log_r = np.concatenate([log_r[: MAX_RUN - 1], [np.logaddexp.reduce(log_r[MAX_RUN - 1:])]])
            mu, kappa, alpha, beta = mu[:MAX_RUN], kappa[:MAX_RUN], alpha[:MAX_RUN], beta[:MAX_RUN]
        run = int(np.argmax(log_r))
        if t > warmup and run < 2 and prev_map > 3:
            return t - run
        prev_map = run
    return t_n // 2


def baro_rank(df: pd.DataFrame, anomaly_time: float | None = None, step: float = 0.0) -> tuple[list[str], float]:
    """BARO: columns by their largest robust-scaled value after the anomaly time (BOCPD's when
    ``anomaly_time`` is None, run on rows ``step`` seconds apart: the slowest monitors' interval,
    so a group's held value between its samples is not read as a change); returns the ranking
    and the anomaly time used."""
    data = _clean(df)
    times = data.index.to_numpy(dtype=float)
    if anomaly_time is None:
        coarse = data[np.isclose(np.mod(times - times[0] + 1e-6, step), 0, atol=1e-3)] if step else data
        anomaly_time = float(coarse.index[bocpd_change(coarse.to_numpy(dtype=float))])
    normal, anomal = data[times < anomaly_time], data[times >= anomaly_time]
    if len(normal) < 2 or len(anomal) == 0:
        return list(data.columns), anomaly_time
    med = normal.median()
    iqr = normal.quantile(0.75) - normal.quantile(0.25)
    iqr = iqr.where(iqr > 0, 1.0)  # sklearn's RobustScaler: a zero range scales by 1
    score = ((anomal - med) / iqr).max()
    return list(score.sort_values(ascending=False, kind="stable").index), anomaly_time


def zscore_rank(df: pd.DataFrame, start: float) -> list[str]:
    """Columns by their largest |z| after ``start`` against the period before it."""
    data = _clean(df)
    times = data.index.to_numpy(dtype=float)
    normal, anomal = data[times < start], data[times >= start]
    sd = normal.std().where(lambda s: s > 1e-12, 1e-12)
    score = ((anomal - normal.mean()) / sd).abs().max()
    return list(score.sort_values(ascending=False, kind="stable").index)


def first_hit(ranking: list[str], hits: set[str]) -> int | None:
    return next((i + 1 for i, c in enumerate(ranking) if c in hits), None)


def evaluate(seeds: int, out: Path | None) -> pd.DataFrame:
    rows = []
    names = [n for n, p in scenario_paths().items() if load_scenario(p).ground_truth is not None]
    for name in names:
        sc = load_scenario(name)
        for seed in range(sc.seed, sc.seed + seeds):
            folder = (out / f"{name}-{seed}") if out else Path(tempfile.mkdtemp(prefix=f"rca-{name}-"))
            data, rc = export_telemetry(name, folder, seed)
            df = pd.read_csv(data, index_col="time")
            cause = json.loads(rc.read_text())["root_cause"]
            hits, start = set(cause["columns"]), float(cause["start"])
            m = sc.monitoring
            step = max(max(g.interval for g in (m.link, m.device, m.service)), sc.tick)
            baro, detected = baro_rank(df, step=step)
            baro_inj, _ = baro_rank(df, start)
            rows.append({"scenario": name, "seed": seed, "columns": df.shape[1], "root_cause": cause["column"],
                         "event_only": not hits, "start": start, "baro_detected_at": detected,
                         "baro": first_hit(baro, hits), "baro@inject": first_hit(baro_inj, hits),
                         "zscore": first_hit(zscore_rank(df, start), hits)})
    return pd.DataFrame(rows)


def summary(res: pd.DataFrame, methods: tuple[str, ...] = ("baro", "baro@inject", "zscore")) -> pd.DataFrame:
    out = {}
    for subset, frame in (("all", res), ("with a root-cause column", res[~res["event_only"]])):
        for m in methods:
            ranks = frame[m].to_numpy(dtype=float)
            top = [float(np.nan_to_num(ranks <= k).mean()) if len(ranks) else 0.0 for k in range(1, 6)]
            out[(subset, m)] = {"n": len(frame), "top1": top[0], "top3": top[2], "avg@5": float(np.mean(top))}
    return pd.DataFrame(out).T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=1, help="seeds per scenario, from the scenario's own")
    ap.add_argument("--out", type=Path, default=None, help="keep the exports here (default: a temporary folder)")
    args = ap.parse_args()
    res = evaluate(args.seeds, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(res.to_string(index=False))
        print()
        print(summary(res).to_string(float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
