"""VRPLIB and Solomon instances as planner problems, for `onecity waste solve-vrplib`.

The benchmark goes through the product's own `routing.solve`, so the published gaps are the
planner's, not a separate solver script's. Distances follow each set's convention: CVRPLIB's
EUC_2D rounds to the nearest integer (TSPLIB); Solomon VRPTW instances use distances and times
truncated to one decimal (the DIMACS 2021 challenge's rule), so they are planned in tenths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vrplib  # type: ignore[import-untyped]  # ships no type hints

from onecity.waste.planning.routing import FOREVER, PlanError, Problem, Site, Stop, Truck

_BIG_CAPACITY = 10**9  # an instance that gives no capacity limits nothing


@dataclass(frozen=True)
class Instance:
    name: str
    problem: Problem
    scale: int  # planner units per instance unit: 1 for CVRP, 10 for Solomon


def _euclid(xy: np.ndarray) -> np.ndarray:
    d = xy[:, None, :] - xy[None, :, :]
    out: np.ndarray = np.sqrt((d**2).sum(axis=2))
    return out


def load(path: Path) -> Instance:
    if not path.is_file():
        raise PlanError(f"{path}: no such file")
    text = path.read_text(errors="replace")
    solomon = "CUST NO." in text.upper()
    try:
        raw = vrplib.read_instance(str(path), instance_format="solomon" if solomon else "vrplib")
    except (ValueError, KeyError, IndexError, RuntimeError, TypeError) as e:
        raise PlanError(f"{path}: not a VRPLIB or Solomon instance ({e})") from e
    if "node_coord" not in raw and "edge_weight" not in raw:
        raise PlanError(f"{path}: the instance has neither coordinates nor edge weights")
    n = int(raw.get("dimension", len(raw.get("node_coord", raw.get("demand", [])))))
    coords = np.asarray(raw.get("node_coord", np.zeros((n, 2))), dtype=float)
    scale = 10 if solomon else 1
    if solomon:
        dist = np.floor(_euclid(coords) * 10).astype(np.int64)
    elif "edge_weight" in raw and raw.get("edge_weight_type") == "EXPLICIT":
        dist = np.rint(np.asarray(raw["edge_weight"], dtype=float)).astype(np.int64)
    else:
        dist = np.rint(_euclid(coords)).astype(np.int64)
    np.fill_diagonal(dist, 0)
    depots = [int(d) for d in np.atleast_1d(raw.get("depot", [0]))]
    demand = np.asarray(raw.get("demand", np.zeros(n)), dtype=float)
    tw = raw.get("time_window")
    service = np.asarray(raw.get("service_time", np.zeros(n)), dtype=float)
    if service.ndim == 0:
        service = np.full(n, float(service))
    sites = tuple(Site(str(i), float(x), float(y)) for i, (x, y) in enumerate(coords))
    stops = []
    for i in range(n):
        if i in depots:
            continue
        window = None
        if tw is not None:
            window = (round(tw[i][0] * scale), round(tw[i][1] * scale))
        stops.append(
            Stop(
                ref=str(i),
                site=i,
                kg=float(demand[i]),
                service_s=round(service[i] * scale),
                window=window,
            )
        )
    capacity = float(raw.get("capacity", _BIG_CAPACITY))
    fleet = int(raw.get("vehicles", len(stops)))
    shift = (0, FOREVER)
    if tw is not None:
        shift = (round(tw[depots[0]][0] * scale), round(tw[depots[0]][1] * scale))
    trucks = tuple(
        # The instances have one load dimension: volume is left unlimited.
        Truck(f"v{d}", d, capacity, float(_BIG_CAPACITY), shift, count=fleet)
        for d in depots[:1]
    )
    problem = Problem(sites, tuple(stops), trucks, dist, dist.copy())
    return Instance(str(raw.get("name", path.stem)), problem, scale)


def best_known(path: Path) -> float | None:
    """The cost on the last line of the instance's .sol file, if there is one."""
    sol = path.with_suffix(".sol")
    if not sol.is_file():
        return None
    lines = [ln for ln in sol.read_text().splitlines() if ln.strip()]
    if not lines or not lines[-1].lower().startswith("cost"):
        return None
    return float(lines[-1].split()[-1])
