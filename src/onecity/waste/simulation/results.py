"""What a collection simulation reports: each policy's figures and the comparison."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    truck_km: float
    stops: int
    collected_kg: float
    overflow_hours: float
    fires: int
    fires_late: int
    daily_km: tuple[float, ...]
    daily_overflow_hours: tuple[float, ...]


@dataclass(frozen=True)
class SimReport:
    days: int
    stations: int
    trucks: int
    seed: int
    results: tuple[PolicyResult, ...]

    def result(self, policy: str) -> PolicyResult:
        for r in self.results:
            if r.policy == policy:
                return r
        raise KeyError(f"no policy {policy!r}; one of: {', '.join(r.policy for r in self.results)}")

    def km_saved_vs_fixed_pct(self, policy: str = "forecast") -> float:
        """How many fewer truck km a policy (the forecast one unless named) drove than the
        fixed schedule, in %."""
        fixed = self.result("fixed").truck_km
        return 0.0 if fixed <= 0 else 100.0 * (fixed - self.result(policy).truck_km) / fixed

    def table(self) -> str:
        head = (
            f"{'policy':<12} {'truck km':>10} {'stops':>7} {'collected kg':>13} "
            f"{'overflow h':>11} {'fires':>6} {'late':>5}"
        )
        rows = [
            f"{r.policy:<12} {r.truck_km:>10,.1f} {r.stops:>7,} {r.collected_kg:>13,.0f} "
            f"{r.overflow_hours:>11,.1f} {r.fires:>6} {r.fires_late:>5}"
            for r in self.results
        ]
        foot = (
            f"{self.days} days, {self.stations} stations, {self.trucks} trucks, seed {self.seed}; "
            f"forecast vs fixed: {self.km_saved_vs_fixed_pct():+.1f}% km saved"
        )
        if self._has("clairvoyant"):
            foot += f" (clairvoyant yardstick: {self.km_saved_vs_fixed_pct('clairvoyant'):+.1f}%)"
        return "\n".join([head, "-" * len(head), *rows, foot])

    def _has(self, policy: str) -> bool:
        return any(r.policy == policy for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        bound = (
            {"km_saved_clairvoyant_pct": round(self.km_saved_vs_fixed_pct("clairvoyant"), 2)}
            if self._has("clairvoyant")
            else {}
        )
        return {
            "days": self.days,
            "stations": self.stations,
            "trucks": self.trucks,
            "seed": self.seed,
            "km_saved_vs_fixed_pct": round(self.km_saved_vs_fixed_pct(), 2),
            **bound,
            "results": [
                {
                    **asdict(r),
                    "daily_km": list(r.daily_km),
                    "daily_overflow_hours": list(r.daily_overflow_hours),
                }
                for r in self.results
            ],
        }
