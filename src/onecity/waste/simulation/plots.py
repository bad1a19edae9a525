"""Charts of a collection simulation (`results.SimReport`) as PNG and SVG files: truck
km per day, overflow hours per day, and the totals side by side, one colour per policy.

matplotlib's object API (`Figure`, no pyplot): no display, no global figure state and no
network; files are rendered by the Agg (PNG) and SVG backends, and their paths returned."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from onecity.waste.simulation.results import SimReport

FORMATS = ("png", "svg")
COLOURS = {
    "fixed": "#7f7f7f",
    "threshold": "#1f77b4",
    "forecast": "#2ca02c",
    "clairvoyant": "#9467bd",
}
LABELS = {
    "fixed": "fixed daily schedule",
    "threshold": "emptied at 80 %",
    "forecast": "forecast-driven routes",
    "clairvoyant": "clairvoyant yardstick (knows future deposits)",
}
YARDSTICKS = frozenset({"clairvoyant"})  # drawn dashed: a bound, not a policy a city can run


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _subtitle(report: SimReport) -> str:
    return (
        f"{_n(report.stations, 'station')}, {_n(report.trucks, 'truck')}, "
        f"{_n(report.days, 'day')}, seed {report.seed}"
    )


def _daily(report: SimReport, attr: str, ylabel: str, title: str) -> Figure:
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for r in report.results:
        values = getattr(r, attr)
        ax.plot(
            range(1, len(values) + 1),
            values,
            marker="o",
            markersize=3,
            color=COLOURS.get(r.policy),
            linestyle="--" if r.policy in YARDSTICKS else "-",
            label=LABELS.get(r.policy, r.policy),
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("day")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{_subtitle(report)}", fontsize=11)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _totals(report: SimReport) -> Figure:
    metrics = (
        ("truck_km", "truck km"),
        ("stops", "stops"),
        ("collected_kg", "collected (t)"),
        ("overflow_hours", "overflow hours"),
        ("fires_late", "fires reached late"),
    )
    fig = Figure(figsize=(14, 4))
    axes = fig.subplots(1, len(metrics))
    names = [r.policy for r in report.results]
    for ax, (attr, label) in zip(axes, metrics, strict=True):
        values = [float(getattr(r, attr)) for r in report.results]
        if attr == "collected_kg":
            values = [v / 1000 for v in values]
        bars = ax.bar(
            names,
            values,
            color=[COLOURS.get(n, "#444444") for n in names],
            hatch=["//" if n in YARDSTICKS else "" for n in names],
        )
        whole = attr in ("stops", "fires_late") or max(values, default=0) >= 10
        ax.bar_label(bars, fmt="%.0f" if whole else "%.1f", fontsize=8)
        if attr == "fires_late":
            label = f"{label} (of {max((r.fires for r in report.results), default=0)})"
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.set_ylim(bottom=0, top=max(max(values, default=0) * 1.15, 1))
    fig.suptitle(f"Collection policies, totals: {_subtitle(report)}", fontsize=11)
    fig.tight_layout()
    return fig


def plots(report: SimReport, out_dir: Path) -> list[Path]:
    """Write the charts into `out_dir` (created if missing), each as PNG and SVG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "km_per_day": _daily(report, "daily_km", "truck km", "Truck km per day"),
        "overflow_per_day": _daily(
            report, "daily_overflow_hours", "overflow hours", "Overflow hours per day"
        ),
        "totals": _totals(report),
    }
    written = []
    for name, fig in figures.items():
        for fmt in FORMATS:
            path = out_dir / f"{name}.{fmt}"
            # no timestamps in the files: the same report gives the same bytes
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(path, format=fmt, dpi=120, metadata=meta)
            written.append(path)
    return written
