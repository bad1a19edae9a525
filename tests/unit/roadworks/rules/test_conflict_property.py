"""The spatial index finds exactly the conflicts a plain loop over every permit would find."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from onecity.roadworks.rules.permit import ConflictIndex, RuleConfig, Works

DAY0 = date(2026, 1, 1)
SIDE = 2000  # metres: the test city is a 2 km square

# The application sits in the middle 200 m and half the works are drawn there too, so that near
# misses, exact distances and touching shapes come up often rather than once in a thousand cities.
anywhere = st.integers(0, SIDE)
middle = st.integers(900, 1100)
sizes = st.integers(min_value=1, max_value=200)


@st.composite
def shapes(draw: st.DrawFn, central: bool) -> Any:
    axis = middle if central or draw(st.booleans()) else anywhere
    x, y = draw(axis), draw(axis)
    if draw(st.booleans()):
        return box(x, y, x + draw(sizes), y + draw(st.integers(1, 5)))
    return LineString([(x, y), (x + draw(st.integers(-200, 200)), y + draw(sizes))])


@st.composite
def digs(draw: st.DrawFn, ref: str, central: bool = False) -> Works:
    # Dates within half a year and gaps up to 120 days make clashes and repeat digs common.
    start = DAY0 + timedelta(days=draw(st.integers(0, 180)))
    return Works(
        ref=ref,
        geom=draw(shapes(central)),
        start=start,
        end=start + timedelta(days=draw(st.integers(0, 30))),
        depth_m=1.0,
        purpose="water",
        applicant="ORG",
        road=None,
        status=draw(st.sampled_from(["granted", "applied", "closed", "refused", "withdrawn"])),
    )


@st.composite
def cities(draw: st.DrawFn) -> tuple[Works, list[Works]]:
    n = draw(st.integers(0, 40))
    return draw(digs("NEW", central=True)), [draw(digs(f"RW-{i}")) for i in range(n)]


def brute_force(
    app: Works, works: list[Works], near_m: float, gap_days: int
) -> set[tuple[str, str]]:
    """The rules written out again from the permit office's description, one permit at a time."""
    found: set[tuple[str, str]] = set()
    for w in works:
        if w.status in ("refused", "withdrawn"):
            continue
        if app.geom.distance(w.geom) > near_m:
            continue
        # Negative or zero when the two date ranges share a day.
        days_between = (max(app.start, w.start) - min(app.end, w.end)).days
        if days_between <= 0 and w.status != "closed":
            found.add((w.ref, "clash"))
        elif days_between <= gap_days:
            found.add((w.ref, "repeat_dig"))
    return found


@settings(max_examples=200, deadline=None)
@given(
    city=cities(),
    near_m=st.sampled_from([5.0, 20.0, 50.0, 100.0]),
    gap_days=st.integers(0, 120),
)
def test_index_query_matches_a_brute_force_loop(
    city: tuple[Works, list[Works]], near_m: float, gap_days: int
) -> None:
    app, works = city
    cfg = RuleConfig(near_m=near_m, repeat_gap_days=gap_days)
    got = {(f.data["other"], f.code) for f in ConflictIndex(works).query(app, cfg)}
    assert got == brute_force(app, works, near_m, gap_days)


def test_an_empty_index_finds_nothing() -> None:
    app = Works("NEW", box(0, 0, 10, 1), DAY0, DAY0, 1.0, "water", "ORG", None)
    assert ConflictIndex([]).query(app, RuleConfig()) == []
