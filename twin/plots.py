"""PNG timelines of runs: KPIs over simulated time with the actions taken marked.

matplotlib is imported (and its non-interactive back-end selected) only when a plot is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twin.replay import RunResult
    from twin.sim.twin import Twin

__all__ = ["plot_impact", "plot_timeline"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # selected here, never at import
    import matplotlib.pyplot as plt

    return plt


def plot_timeline(name: str, reference: RunResult, runs: dict[str, RunResult], path: Path) -> Path:
    """A PNG of impact, user loss and SLO violations over time, actions marked."""
    plt = _pyplot()
    kpis = ("impact", "user_loss", "slo_violations")
    fig, axes = plt.subplots(len(kpis), 1, figsize=(9, 6.5), sharex=True)
    label_ref = reference.who
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for i, (who, run) in enumerate([(label_ref, reference), *runs.items()]):
        k = run.twin.telemetry.kpis()
        minutes = k.index.to_numpy() / 60.0
        for ax, kpi in zip(axes, kpis):
            if kpi in k:
                ax.plot(minutes, k[kpi].to_numpy(), color=colours[i % 5], label=who, lw=1.2)
        for a in run.actions:
            for ax in axes:
                ax.axvline(a["start"] / 60.0, color=colours[i % 5], ls="--" if i else ":", lw=0.8)
            axes[0].annotate(a["kind"], (a["start"] / 60.0, 1.0), xycoords=("data", "axes fraction"),
                             rotation=90, fontsize=6, va="top", color=colours[i % 5])
    for ax, kpi in zip(axes, kpis):
        ax.set_ylabel(kpi)
    axes[-1].set_xlabel("simulated minutes")
    axes[0].legend(loc="upper right", fontsize=7)
    axes[0].set_title(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_impact(twin: Twin, marks: list[tuple[float, str]], out: Path) -> Path:
    """A PNG of one twin's impact KPI over time, with labelled vertical marks (detection, fixes)."""
    plt = _pyplot()
    kpi = twin.telemetry.kpis()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(kpi.index / 60, kpi["impact"], label="impact")
    for t, label in marks:
        ax.axvline(t / 60, ls="--", color="grey")
        ax.text(t / 60, ax.get_ylim()[1] * 0.9, label, rotation=90, fontsize=7, va="top")
    ax.set_xlabel("simulated minutes")
    ax.set_ylabel("impact")
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
