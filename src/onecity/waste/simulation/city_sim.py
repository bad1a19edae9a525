"""Many stations' simulators stepped together: the demo's and the benchmarks' city."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from onecity.waste.simulation.station_config import (
    DEFAULT_SIM,
    Deposit,
    Sample,
    SimConfig,
    SimError,
)
from onecity.waste.simulation.stations import StationSim


class CitySim:
    """Many stations advanced together; each station's seed derives from the city's seed and
    its id, so adding a station leaves the others as they were."""

    def __init__(
        self,
        station_ids: Iterable[str],
        seed: int | str,
        config: SimConfig = DEFAULT_SIM,
        start: datetime | None = None,
    ) -> None:
        self.stations = {
            sid: StationSim(sid, f"{seed}/{sid}", config, start) for sid in station_ids
        }

    def advance(self, until: datetime, sink: Callable[[list[Sample]], None] | None = None) -> int:
        """Step every station to `until`, hand each station's samples to `sink` (or drop
        them) and return how many there were."""
        n = 0
        for sim in self.stations.values():
            samples = sim.advance(until)
            n += len(samples)
            if sink is not None:
                sink(samples)
        return n

    def slices(self, until: datetime, step: timedelta) -> Iterator[tuple[datetime, list[Sample]]]:
        """Advance all stations `step` at a time, yielding (slice end, its samples)."""
        if step <= timedelta(0):
            raise SimError("step must be positive")
        at = min(s.now for s in self.stations.values()) if self.stations else until
        while at < until:
            at = min(at + step, until)
            batch: list[Sample] = []
            self.advance(at, batch.extend)
            yield at, batch

    def drain_deposits(self) -> list[Deposit]:
        return [d for sim in self.stations.values() for d in sim.drain_deposits()]
