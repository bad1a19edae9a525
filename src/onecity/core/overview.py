"""The city overview: one card per thing a city system wants seen at a glance (stations online,
today's tonnage, works on the road), declared by its module and drawn by the core.

A module lists its cards in `Module.cards`; each card says what it shows (figures, an optional
chart, an optional map layer), how fresh its data is and what "live" means for it, where the
data comes from, who may see it and which outbox events change it. `Overview` holds every
enabled module's cards and reads them for a caller: staff get the cards their role and
department allow, the public (no login) only the cards marked public, whose read functions get
no principal and must return nothing personal. A card whose read fails is served as
unavailable rather than failing the whole overview."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from onecity.core.auth.permissions import Perm, Principal
from onecity.core.db import utcnow
from onecity.core.errors import Forbidden, NotFound
from onecity.core.platform import Platform

log = logging.getLogger(__name__)

# How a number is shown: the page formats each per language (OC.num, OC.percent, OC.kg, ...).
Unit = Literal["count", "percent", "kg", "money", "days"]
# What a chart's x values are: calendar days, instants, proper names (shown in their own
# language) or string keys (translated).
Axis = Literal["day", "time", "name", "key"]
Value = float | int | None
CARD_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Figure:
    key: str  # a machine name, unique within the card ("online", "garbage_kg")
    label: str  # i18n key
    value: Value
    unit: Unit = "count"


@dataclass(frozen=True)
class Series:
    key: str
    label: str  # i18n key
    points: Sequence[tuple[str, Value]]  # (x, y); x as the chart's axis says


@dataclass(frozen=True)
class Chart:
    kind: Literal["line", "bar"]
    x: Axis
    unit: Unit
    series: Sequence[Series]


@dataclass(frozen=True)
class CardData:
    """What a card's read returns. `as_of`: when the data was true (the newest reading it
    rests on), or None when nothing has been heard yet."""

    figures: Sequence[Figure]
    as_of: datetime | None
    chart: Chart | None = None


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # i18n key
    unit: Unit | Literal["day", "time", "name", "text"] = "count"


@dataclass(frozen=True)
class History:
    """A card's history as a table, for the more-info dialog and the CSV download."""

    columns: Sequence[Column]
    rows: Sequence[Sequence[str | float | int | None]]


Viewer = Principal | None  # None: the public, who may see public cards only
Read = Callable[[Platform, Viewer], CardData]
ReadHistory = Callable[[Platform, Viewer], History]
# A GeoJSON FeatureCollection (RFC 7946) of the card's map layer.
ReadGeometry = Callable[[Platform, Viewer], dict[str, Any]]
CardCheck = Callable[[Principal, Platform], bool]


@dataclass(frozen=True)
class Card:
    """One card of the city overview, as a module declares it.

    `title`, `source` and `live` are i18n keys; `link` is the page the source text links to.
    `public` cards are shown without a login and their read functions get `None` for the
    viewer; the others need `permission` (a Perm value) and pass `check`. `max_age_s` says
    what live means: data older than that is stale (a station that stopped reporting); None
    means the figure is computed from the records at the moment of asking, so it is as fresh
    as the read. `events` are the outbox event types after which the card may have changed."""

    id: str  # "<system>.<name>"
    system: str  # the module
    title: str
    read: Read
    source: str
    link: str
    live: str
    public: bool = False
    permission: str | None = None
    check: CardCheck | None = None
    max_age_s: int | None = None
    events: Sequence[str] = ()
    history: ReadHistory | None = None
    geometry: ReadGeometry | None = None


def check_cards(cards: Sequence[Card], known_strings: Mapping[str, str]) -> None:
    """Mistakes in the cards stop the start-up, naming the card."""
    seen: set[str] = set()
    for c in cards:
        where = f"overview card '{c.id}'"
        if not CARD_ID.match(c.id) or not c.id.startswith(c.system + "."):
            raise ValueError(f"{where}: ids are '<system>.<name>' in lower case")
        if c.id in seen:
            raise ValueError(f"{where}: two cards share this id")
        seen.add(c.id)
        if c.permission is not None and c.permission not in {p.value for p in Perm}:
            raise ValueError(f"{where}: unknown permission '{c.permission}'")
        if not c.link.startswith("/"):
            raise ValueError(f"{where}: link must be a path on this site")
        for key in (c.title, c.source, c.live):
            if key not in known_strings:
                raise ValueError(f"{where}: no string '{key}' in the catalogs")


@dataclass
class Overview:
    """Every enabled module's cards, read for a caller."""

    platform: Platform
    cards: Sequence[Card]
    _by_id: dict[str, Card] = field(init=False)

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.cards}

    def may_see(self, card: Card, who: Viewer) -> bool:
        if card.public:
            return True
        if who is None:
            return False
        if card.permission is not None and not who.can(Perm(card.permission)):
            return False
        return card.check is None or card.check(who, self.platform)

    def visible(self, who: Viewer) -> list[Card]:
        return [c for c in self.cards if self.may_see(c, who)]

    def card(self, card_id: str, who: Principal) -> Card:
        """The card, if this caller may see it: 404 for no such card, 403 for a role that
        may not see it (card ids are no secret: they are in the code)."""
        card = self._by_id.get(card_id)
        if card is None:
            raise NotFound(f"no overview card '{card_id}'", field="card_id")
        if not self.may_see(card, who):
            raise Forbidden(f"role '{who.role}' may not see the overview card '{card_id}'")
        return card

    def public_card(self, card_id: str) -> Card:
        """A public card by id; any other id is 404, whoever asks."""
        card = self._by_id.get(card_id)
        if card is None or not card.public:
            raise NotFound(f"no public overview card '{card_id}'", field="card_id")
        return card

    def read(self, card: Card, who: Viewer) -> dict[str, Any]:
        """The card with its data, as the API serves it."""
        try:
            data: CardData | None = card.read(self.platform, who)
        except Exception:  # one system's trouble must not blank the whole overview
            log.exception("overview card %s could not be read", card.id)
            data = None
        return card_out(card, data, utcnow())

    def history(self, card: Card, who: Viewer) -> History:
        if card.history is not None:
            return card.history(self.platform, who)
        return history_of(card.read(self.platform, who))

    def geometry(self, card: Card, who: Viewer) -> dict[str, Any]:
        if card.geometry is None:
            raise NotFound(f"the overview card '{card.id}' has no map layer", field="card_id")
        return card.geometry(self.platform, who)

    def cards_for_event(self, event_type: str) -> list[str]:
        """The public cards an outbox event of this type may change."""
        return [c.id for c in self.cards if c.public and event_type in c.events]

    @property
    def public_events(self) -> frozenset[str]:
        return frozenset(t for c in self.cards if c.public for t in c.events)


def is_stale(card: Card, as_of: datetime | None, now: datetime) -> bool:
    if as_of is None:
        return True
    return card.max_age_s is not None and now - as_of > timedelta(seconds=card.max_age_s)


def card_out(card: Card, data: CardData | None, now: datetime) -> dict[str, Any]:
    base = f"/api/v1/overview{'/public' if card.public else ''}/cards/{card.id}"
    as_of = data.as_of if data else None
    return {
        "id": card.id,
        "system": card.system,
        "title": card.title,
        "public": card.public,
        "available": data is not None,
        "figures": [_figure(f) for f in data.figures] if data else [],
        "chart": _chart(data.chart) if data and data.chart else None,
        "map": {"url": f"{base}/map.geojson"} if card.geometry else None,
        "freshness": {
            "as_of": as_of.isoformat() if as_of else None,
            "max_age_s": card.max_age_s,
            "live": card.live,
            "stale": data is None or is_stale(card, as_of, now),
        },
        "source": {"text": card.source, "link": card.link},
        "events": list(card.events),
        "links": {
            "self": base,
            "history": f"{base}/history",
            "csv": f"{base}/history.csv",
            "geojson": f"{base}/map.geojson?download=1" if card.geometry else None,
        },
    }


def _figure(f: Figure) -> dict[str, Any]:
    return {"key": f.key, "label": f.label, "value": f.value, "unit": f.unit}


def _chart(c: Chart) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "x": c.x,
        "unit": c.unit,
        "series": [
            {"key": s.key, "label": s.label, "points": [[x, y] for x, y in s.points]}
            for s in c.series
        ],
    }


def history_of(data: CardData) -> History:
    """A card without its own history: its chart as a table (x, then one column per series),
    or else its figures as one row."""
    if data.chart is not None and data.chart.series:
        chart = data.chart
        xs: list[str] = []
        for s in chart.series:
            for x, _ in s.points:
                if x not in xs:
                    xs.append(x)
        values = [dict(s.points) for s in chart.series]
        x_unit: Literal["day", "time", "name", "text"] = (
            chart.x if chart.x in ("day", "time", "name") else "text"
        )
        return History(
            columns=[
                Column("x", "overview.col.x", x_unit),
                *(Column(s.key, s.label, chart.unit) for s in chart.series),
            ],
            rows=[[x, *(v.get(x) for v in values)] for x in xs],
        )
    at = data.as_of.isoformat() if data.as_of else None
    return History(
        columns=[
            Column("as_of", "overview.col.as_of", "time"),
            *(Column(f.key, f.label, f.unit) for f in data.figures),
        ],
        rows=[[at, *(f.value for f in data.figures)]],
    )


def history_out(h: History) -> dict[str, Any]:
    return {
        "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in h.columns],
        "rows": [list(r) for r in h.rows],
    }


def history_csv(h: History) -> str:
    """The history as CSV: a header of column keys, then the rows (numbers as they are)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.key for c in h.columns])
    for row in h.rows:
        w.writerow(["" if v is None else _csv_safe(v) for v in row])
    return buf.getvalue()


def _csv_safe(v: str | float | int) -> str | float | int:
    """A text cell a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v
