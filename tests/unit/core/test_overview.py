"""The card model's rules without a database: mistakes in a module's cards stop the start-up
naming the card, stale means what the card says, a card without its own history gets its chart
as a table, and the CSV cannot smuggle a spreadsheet formula."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from onecity.core.overview import (
    Card,
    CardData,
    Chart,
    Column,
    Figure,
    History,
    Series,
    card_out,
    check_cards,
    history_csv,
    history_of,
    is_stale,
)

NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
STRINGS = {"t": "Title", "s": "Source", "l": "Live"}


def _read(p: object, who: object) -> CardData:
    return CardData([Figure("n", "t", 3)], NOW)


CARD = Card(
    id="waste.things", system="waste", title="t", read=_read, source="s", link="/x", live="l"
)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"id": "Waste Things"}, "ids are"),
        ({"id": "roadworks.things"}, "ids are"),
        ({"permission": "waste:everything"}, "unknown permission"),
        ({"link": "https://elsewhere.example"}, "link"),
        ({"title": "missing.key"}, "no string 'missing.key'"),
    ],
)
def test_a_wrong_card_stops_the_start_up_naming_it(change: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says) as got:
        check_cards([replace(CARD, **change)], STRINGS)  # type: ignore[arg-type]
    assert "overview card" in str(got.value)


def test_two_cards_may_not_share_an_id() -> None:
    with pytest.raises(ValueError, match="two cards share"):
        check_cards([CARD, CARD], STRINGS)


def test_stale_is_never_heard_or_older_than_the_cards_own_limit() -> None:
    reports = replace(CARD, max_age_s=300)
    assert is_stale(CARD, None, NOW)
    assert not is_stale(CARD, NOW - timedelta(days=3), NOW)  # counted at the read: as fresh
    assert not is_stale(reports, NOW - timedelta(seconds=299), NOW)
    assert is_stale(reports, NOW - timedelta(seconds=301), NOW)
    out = card_out(reports, CardData([], NOW - timedelta(minutes=10)), NOW)
    assert out["freshness"]["stale"] is True
    assert card_out(reports, None, NOW)["available"] is False


def test_public_cards_link_to_the_public_api() -> None:
    out = card_out(replace(CARD, public=True), _read(None, None), NOW)
    assert out["links"]["csv"] == "/api/v1/overview/public/cards/waste.things/history.csv"
    assert out["map"] is None and out["links"]["geojson"] is None


def test_history_of_a_chart_is_one_row_per_x() -> None:
    chart = Chart(
        "line",
        "day",
        "kg",
        [
            Series("a", "t", [("2026-12-04", 1.0), ("2026-12-05", 2.0)]),
            Series("b", "t", [("2026-12-05", 5.0)]),
        ],
    )
    h = history_of(CardData([], NOW, chart))
    assert [c.key for c in h.columns] == ["x", "a", "b"]
    assert h.rows == [["2026-12-04", 1.0, None], ["2026-12-05", 2.0, 5.0]]
    # Without a chart: the figures as one row.
    h = history_of(_read(None, None))
    assert h.rows == [[NOW.isoformat(), 3]]


def test_csv_quotes_what_a_spreadsheet_would_run() -> None:
    h = History(
        [Column("name", "t", "name"), Column("n", "t")], [["=HYPERLINK(1)", 2], ["ok", None]]
    )
    assert history_csv(h).splitlines() == ["name,n", "'=HYPERLINK(1),2", "ok,"]
