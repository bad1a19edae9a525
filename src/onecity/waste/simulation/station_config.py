"""What the station simulator is told and tells: the compartments, incidents and usage it
simulates (`SimConfig`, checked when built), and the samples, deposits and counters it hands
back. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from types import MappingProxyType

GARBAGE, PET, CAN = "garbage", "recycling_pet", "recycling_can"
COMPARTMENTS = (GARBAGE, PET, CAN)
FAULTS = ("scale", "door", "card_reader", "printer_paper", "network")  # reported as fault.*
INCIDENTS = (*FAULTS, "cooling", "fire")  # cooling and fire show only in temp_c and smoke
DOOR_CLOSED, DOOR_OPEN, DOOR_JAMMED = 0.0, 1.0, 2.0
TEMP_LIMITS_C = (-40.0, 150.0)  # what the stations' sensors can report at all
HORIZON = datetime(9000, 1, 1, tzinfo=UTC).timestamp()  # later than that is never
TEMP_KEYS = tuple(f"{c}.temp_c" for c in COMPARTMENTS)
# Standard normal deviates at 4,096 equally likely quantiles: a table look-up costs a tenth of
# random.gauss, and sensor noise needs no finer tails (|z| <= 3.65).
NORMAL_BITS = 12
NORMAL = tuple(NormalDist().inv_cdf((i + 0.5) / 2**NORMAL_BITS) for i in range(2**NORMAL_BITS))

# Relative visit rate per local hour (mean ~1). Taipei households still drop garbage in the
# evening, when the garbage truck used to come (19-22 h); a smaller peak before work (7-9 h);
# almost nobody at 1-5 h.
TAIPEI_HOURS = (
    *(0.45, 0.15, 0.06, 0.04, 0.05, 0.15),  # 0-5
    *(0.60, 1.50, 1.70, 1.10, 0.80, 0.80),  # 6-11
    *(0.90, 0.80, 0.70, 0.70, 0.80, 1.10),  # 12-17
    *(1.60, 2.60, 3.00, 2.80, 1.70, 0.90),  # 18-23
)


class SimError(ValueError):
    """A simulator call that cannot be honoured; the message says what to do."""


@dataclass(frozen=True)
class CompartmentSpec:
    capacity_m3: float
    kg_per_m3: float  # bulk density as stored, after the press or crusher
    density_spread: float  # lognormal sigma of one deposit's density

    @property
    def capacity_kg(self) -> float:
        return self.capacity_m3 * self.kg_per_m3


@dataclass(frozen=True)
class IncidentSpec:
    per_day: float  # mean starts per station-day while not happening
    mean_hours: float | None  # mean duration (exponential); None: until repair()


def _compartments() -> Mapping[str, CompartmentSpec]:
    return MappingProxyType(
        {
            # 1.2 m3 pressed to ~250 kg/m3 (loose bagged garbage is 100-150): ~300 kg when full;
            # bags differ (wet kitchen waste vs. packaging), hence the spread.
            GARBAGE: CompartmentSpec(1.2, 250.0, 0.25),
            # a crushed 600 ml PET bottle takes ~0.2 l: 25 g / 0.2 l = 125 kg/m3, ~1,250 bottles
            PET: CompartmentSpec(0.25, 125.0, 0.10),
            # a crushed can takes ~0.05 l: 15 g / 0.05 l = 300 kg/m3, ~3,000 cans
            CAN: CompartmentSpec(0.15, 300.0, 0.10),
        }
    )


def _incidents() -> Mapping[str, IncidentSpec]:
    # Durations match the crew's targets (monitoring.DEFAULT_TARGETS: a fault within 24 h), so
    # a simulation without a crew model still recovers; set mean_hours=None and call repair()
    # to let a crew model decide.
    return MappingProxyType(
        {
            "scale": IncidentSpec(1 / 180, 24.0),  # load cells drift or fail a few times a year
            "door": IncidentSpec(1 / 60, 12.0),  # chute doors are the commonest mechanical jam
            "card_reader": IncidentSpec(1 / 120, 8.0),
            "printer_paper": IncidentSpec(1 / 90, 12.0),  # a jam; running out is modelled apart
            "network": IncidentSpec(1 / 20, 0.5),  # LTE drop-outs, short and self-healing
            "cooling": IncidentSpec(1 / 365, 24.0),  # a compressor failure, about once a year
            "fire": IncidentSpec(1 / 2000, 0.5),  # a battery in the garbage; put out in ~30 min
        }
    )


@dataclass(frozen=True)
class SimConfig:
    report_every: timedelta = timedelta(seconds=10)
    stagger: bool = True  # stations report at their own second, not all at once
    # local time drives the seasonality; callers with a city pass its zone's offset
    # (planning.forecast.offset_hours), the default is the Taipei calibration's own
    utc_offset_hours: float = 8.0
    visits_per_day: float = 150.0  # a typical station: ~105 bags, ~160 kg a day
    popularity_sigma: float = 0.5  # lognormal spread of stations around that (median 1)
    hour_weights: tuple[float, ...] = TAIPEI_HOURS
    weekend_factor: float = 1.25  # people are at home and clear out on weekends
    garbage_share: float = 0.70
    bag_median_kg: float = 1.2  # a household's bag every day or two (~0.4 kg/person/day)
    bag_sigma: float = 0.75  # right-skewed: many small bags, a few heavy ones
    bag_range_kg: tuple[float, float] = (0.2, 5.0)
    items_mean: float = 4.0  # recycling items per visit beyond the first (1-20, geometric)
    items_max: int = 20
    pet_share: float = 0.6  # of recycled items
    pet_g: float = 25.0  # a 600 ml PET bottle
    can_g: float = 15.0  # a 330 ml aluminium can
    item_spread: float = 0.2  # +- share of an item's weight
    compartments: Mapping[str, CompartmentSpec] = field(default_factory=_compartments)
    setpoint_c: float = 7.0  # refrigerated at 5-10 °C against odour and flies
    ambient_c: float = 28.0  # a Taipei summer evening
    temp_noise_c: float = 0.25  # standard deviation of the cabinet temperature
    cooling_tau_min: float = 15.0  # the compressor pulls a warmed cabinet back in ~15 min
    insulation_tau_h: float = 3.0  # without cooling: past 10 °C in ~30 min, ~20 °C in ~3 h
    door_tau_min: float = 30.0  # a small chute door: a 15 s opening warms ~0.2 °C
    fire_tau_s: float = 60.0  # a fire heats the sensor past 60 °C within about a minute
    fire_peak_c: tuple[float, float] = (80.0, 140.0)
    fire_weights: tuple[float, float, float] = (0.8, 0.1, 0.1)  # garbage, PET, cans
    door_jam_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)
    garbage_door_s: tuple[float, float] = (8.0, 20.0)  # open, drop the bag, close
    item_door_s: float = 1.5  # per recycled item fed to the inlet, plus 3 s
    crew_door_s: float = 120.0  # an emptying keeps the compartment open
    receipts_per_roll: int = 800  # 80 m of 80 mm thermal paper at ~10 cm a receipt
    incidents: Mapping[str, IncidentSpec] = field(default_factory=_incidents)
    network_drops_samples: bool = False  # True: samples during a network fault never arrive
    full_at: float = 0.80  # Taoyuan's "full", for full_minutes
    empty_residual_kg: float = 0.3  # what sticks to the bin after an emptying, at most
    keep_deposits: bool = True

    def __post_init__(self) -> None:
        if self.report_every < timedelta(seconds=1):
            raise SimError("report_every must be at least one second")
        if len(self.hour_weights) != 24 or min(self.hour_weights) < 0:
            raise SimError("hour_weights needs 24 weights, none negative")
        if sum(self.hour_weights) <= 0 or self.visits_per_day < 0:
            raise SimError("visits need a positive hour weight and visits_per_day >= 0")
        if set(self.compartments) != set(COMPARTMENTS):
            raise SimError(f"compartments must be exactly {', '.join(COMPARTMENTS)}")
        if set(self.incidents) != set(INCIDENTS):
            raise SimError(f"incidents must be exactly {', '.join(INCIDENTS)}")
        if self.receipts_per_roll < 1:
            raise SimError("receipts_per_roll must be at least 1")
        # 10 standard deviations of noise from every target is still a value a sensor reports
        low, high = TEMP_LIMITS_C
        margin = 10 * self.temp_noise_c
        targets = (self.setpoint_c, self.ambient_c, *self.fire_peak_c)
        if self.temp_noise_c < 0 or min(targets) - margin < low or max(targets) + margin > high:
            raise SimError(
                f"temperatures +- 10 x temp_noise_c must stay within {low:g} to {high:g} °C"
            )
        if self.setpoint_c >= self.ambient_c:
            raise SimError("setpoint_c must be below ambient_c: the cabinet is refrigerated")


DEFAULT_SIM = SimConfig()


@dataclass(frozen=True, slots=True)
class Sample:
    station_id: str
    observed_at: datetime
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class Deposit:
    station_id: str
    at: datetime
    kind: str  # "garbage", "pet" or "can"
    compartment: str
    grams: int
    items: int  # 1 for a garbage bag
    refused: str | None = None  # full, door, scale, card_reader, fire; None: accepted


@dataclass(frozen=True)
class CompartmentStats:
    fill: float
    weight_kg: float
    temp_c: float
    door: float
    smoke: bool
    accepted: int
    refused_full: int
    refused_other: int
    collected_kg: float
    full_minutes: float  # at or above config.full_at
    overflow_minutes: float  # from the first deposit refused as full until the emptying
