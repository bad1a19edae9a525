"""Open311 GeoReport v2: the service codes modules register, and the pure rules that turn what
a citizen sent into a request to store (no database, no HTTP here).

A module lists its services in `Module.open311_services`; the app gathers the enabled modules'
services into one `Catalog`, the city's single list of things a citizen can report."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from onecity.core.errors import Invalid
from onecity.core.geo import CityProfile

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from onecity.core.models import Open311Request

# Either one string for every language or one per language ({"zh-TW": ..., "en": ...}).
Text = str | Mapping[str, str]

DATATYPES = frozenset({"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"})
LIST_TYPES = frozenset({"singlevaluelist", "multivaluelist"})
STATUSES = ("open", "closed")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MAX_DESCRIPTION = 4000  # the spec's limit for `description`
MAX_RESULTS = 1000  # the spec's recommended ceiling for one GET /requests
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default date range
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class AttributeValue:
    """One choice of a singlevaluelist/multivaluelist attribute."""

    key: str
    name: Text


@dataclass(frozen=True)
class Attribute:
    """An extra question of a service (the spec's service definition `attributes`)."""

    code: str
    description: Text  # the question as shown to the citizen
    datatype: str = "string"
    required: bool = False
    # False: informational text only, the citizen answers nothing.
    variable: bool = True
    datatype_description: Text = ""
    values: Sequence[AttributeValue] = ()


@dataclass(frozen=True)
class Open311Service:
    """A kind of report a citizen can file, and the department whose queue it lands in."""

    service_code: str
    service_name: Text
    department_code: str
    description: Text = ""
    group: Text = ""
    keywords: Sequence[str] = ()
    attributes: Sequence[Attribute] = ()
    # Shown to the citizen after filing, e.g. how soon the department usually answers.
    service_notice: Text = ""
    # The owning module's own work for a new request, in the same transaction as the stored
    # row (e.g. open a crew job); raising Invalid refuses the request and writes nothing.
    on_request: Callable[[Session, Open311Request], None] | None = field(
        default=None, compare=False
    )

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)


def localize(text: Text, lang: str, default: str) -> str:
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get(default) or next(iter(text.values()), "")


def pick_language(asked: str | None, city: CityProfile) -> str:
    """The city language closest to `asked` (a locale or an Accept-Language header)."""
    for part in (asked or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if not tag:
            continue
        for lang in city.languages:
            if lang.lower() == tag or lang.lower().split("-")[0] == tag.split("-")[0]:
                return lang
    return city.default_language


@dataclass(frozen=True)
class ResolvedAddress:
    """What an address registry knows of an `address_id`: where it is and how it is written."""

    lat: float
    lon: float
    address: str


# A city's address registry: an address id to its place, or None for an id it does not know.
AddressLookup = Callable[[str], ResolvedAddress | None]


class Catalog:
    """Every service code of the enabled modules. Mistakes stop start-up, naming the module."""

    # The city's address registry, if it has one; without it an `address_id` is refused.
    addresses: AddressLookup | None = None

    def __init__(self, entries: Iterable[tuple[str, Open311Service]], departments: set[str]):
        # Service discovery's `changeset`: the list can only change when the app starts.
        self.changeset = datetime.now(UTC).replace(microsecond=0)
        self._by_code: dict[str, Open311Service] = {}
        owner: dict[str, str] = {}
        for module, svc in entries:
            where = f"module '{module}', Open311 service '{svc.service_code}'"
            if not CODE_PATTERN.match(svc.service_code):
                raise ValueError(f"{where}: service_code must match {CODE_PATTERN.pattern}")
            if svc.service_code in owner:
                raise ValueError(f"{where}: code already registered by '{owner[svc.service_code]}'")
            if svc.department_code not in departments:
                raise ValueError(f"{where}: unknown department '{svc.department_code}'")
            _check_attributes(where, svc.attributes)
            owner[svc.service_code] = module
            self._by_code[svc.service_code] = svc

    def get(self, code: str) -> Open311Service | None:
        return self._by_code.get(code)

    def services(self) -> list[Open311Service]:
        return list(self._by_code.values())


def _check_attributes(where: str, attributes: Sequence[Attribute]) -> None:
    seen: set[str] = set()
    for a in attributes:
        if not CODE_PATTERN.match(a.code) or a.code in seen:
            raise ValueError(f"{where}: attribute code '{a.code}' is invalid or repeated")
        if a.datatype not in DATATYPES:
            raise ValueError(f"{where}: attribute '{a.code}' has unknown datatype '{a.datatype}'")
        if (a.datatype in LIST_TYPES) != bool(a.values):
            raise ValueError(f"{where}: attribute '{a.code}': values go with the list datatypes")
        seen.add(a.code)


# What a client sent, every value a string: field name -> values (a field may repeat).
Fields = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class NewRequest:
    service: Open311Service
    description: str
    lat: float | None
    lon: float | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    attributes: dict[str, Any]
    contact: dict[str, str] = field(default_factory=dict)
    media_url: str | None = None


# Optional free-text fields and their longest accepted length.
_LIMITS = {
    "address_string": 500,
    "address_id": 100,
    "zipcode": 16,
    "email": 254,
    "first_name": 100,
    "last_name": 100,
    "phone": 32,
    "device_id": 128,
    "account_id": 128,
    "media_url": 2000,
}
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "device_id", "account_id")


def _one(fields: Fields, name: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise Invalid(f"give '{name}' once, not {len(values)} times", field=name)
    value = values[0].strip()
    limit = _LIMITS.get(name, MAX_DESCRIPTION)
    if len(value) > limit:
        raise Invalid(f"'{name}' is longer than {limit} characters", field=name)
    return value or None


def _coordinate(raw: str, name: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"'{name}' must be a number in WGS84 degrees", field=name) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise Invalid(f"'{name}' must be between {low} and {high} degrees", field=name)
    return value


def parse_location(fields: Fields, city: CityProfile) -> tuple[float | None, float | None]:
    lat_raw, lon_raw = _one(fields, "lat"), _one(fields, "long")
    if lat_raw is None and lon_raw is None:
        return None, None
    if lat_raw is None or lon_raw is None:
        raise Invalid(
            "give both 'lat' and 'long', or neither", field="lat" if not lat_raw else "long"
        )
    lat = _coordinate(lat_raw, "lat", -90, 90)
    lon = _coordinate(lon_raw, "long", -180, 180)
    if city.districts.find(lon, lat) is None:
        name = localize(city.name, "en", city.default_language)
        raise Invalid(f"that point ({lat}, {lon}) is outside {name}", field="lat")
    return lat, lon


def parse_submission(fields: Fields, catalog: Catalog, city: CityProfile) -> NewRequest:
    """Check a POST /requests body against the spec and the service's attributes."""
    for name, values in fields.items():
        if any("\x00" in v for v in values) or "\x00" in name:
            raise Invalid(f"'{name}' contains a NUL character, which cannot be stored", field=name)
    code = _one(fields, "service_code")
    if code is None:
        raise Invalid(
            "service_code is required (see GET /open311/v2/services.json)", field="service_code"
        )
    service = catalog.get(code)
    if service is None:
        raise Invalid(
            f"unknown service_code '{code}' (see GET /open311/v2/services.json)",
            field="service_code",
        )
    lat, lon = parse_location(fields, city)
    address = _one(fields, "address_string")
    address_id = _one(fields, "address_id")
    if address_id is not None:
        lat, lon, address = _resolve(address_id, catalog.addresses, (lat, lon, address))
    if lat is None and address is None:
        raise Invalid(
            "give the location: 'lat' and 'long', 'address_string' or 'address_id'", field="lat"
        )
    description = _one(fields, "description") or ""
    media_url = _one(fields, "media_url")
    if media_url is not None and not re.match(r"^https?://\S+$", media_url):
        raise Invalid("media_url must be an http(s) URL", field="media_url")
    contact = {n: v for n in CONTACT_FIELDS if (v := _one(fields, n)) is not None}
    if "email" in contact and not _EMAIL.match(contact["email"]):
        raise Invalid("email is not an e-mail address", field="email")
    return NewRequest(
        service=service,
        description=description,
        lat=lat,
        lon=lon,
        address=address,
        address_id=address_id,
        zipcode=_one(fields, "zipcode"),
        attributes=parse_attributes(fields, service),
        contact=contact,
        media_url=media_url,
    )


def _resolve(
    address_id: str,
    addresses: AddressLookup | None,
    given: tuple[float | None, float | None, str | None],
) -> tuple[float | None, float | None, str | None]:
    """The place of an `address_id`; what the client also sent (a point, an address line)
    is kept. Refused when there is no registry to ask, rather than stored unread."""
    if addresses is None:
        raise Invalid(
            "this city has no address registry to look up 'address_id'; "
            "give 'lat' and 'long' or 'address_string' instead",
            field="address_id",
        )
    found = addresses(address_id)
    if found is None:
        raise Invalid(f"no address with address_id '{address_id}'", field="address_id")
    lat, lon, address = given
    if lat is None:
        lat, lon = found.lat, found.lon
    return lat, lon, address or found.address


_ATTR_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def parse_attributes(fields: Fields, service: Open311Service) -> dict[str, Any]:
    given: dict[str, list[str]] = {}
    for name, values in fields.items():
        m = _ATTR_KEY.match(name)
        if m:
            given.setdefault(m.group(1), []).extend(v.strip() for v in values if v.strip())
        elif name.startswith("attribute"):
            raise Invalid(f"'{name}': attributes are sent as attribute[CODE]=value", field=name)
    known = {a.code: a for a in service.attributes if a.variable}
    for code in given:
        if code not in known:
            raise Invalid(
                f"service '{service.service_code}' has no attribute '{code}'",
                field=f"attribute[{code}]",
            )
    out: dict[str, Any] = {}
    for code, a in known.items():
        values = given.get(code, [])
        where = f"attribute[{code}]"
        if not values:
            if a.required:
                raise Invalid(f"{where} is required for this service", field=where)
            continue
        if a.datatype != "multivaluelist" and len(values) > 1:
            raise Invalid(f"{where} takes one value", field=where)
        out[code] = _attribute_value(a, values, where)
    return out


def _attribute_value(a: Attribute, values: list[str], where: str) -> Any:
    if a.datatype in LIST_TYPES:
        keys = {v.key for v in a.values}
        wrong = [v for v in values if v not in keys]
        if wrong:
            raise Invalid(f"{where}: '{wrong[0]}' is not one of {sorted(keys)}", field=where)
        return values if a.datatype == "multivaluelist" else values[0]
    value = values[0]
    if a.datatype == "number":
        _coordinate_free_number(value, where)
    elif a.datatype == "datetime":
        parse_datetime(value, where, ZoneInfo("UTC"))
    limit = MAX_DESCRIPTION if a.datatype == "text" else 500
    if len(value) > limit:
        raise Invalid(f"{where} is longer than {limit} characters", field=where)
    return value


def _coordinate_free_number(value: str, where: str) -> None:
    try:
        ok = math.isfinite(float(value))
    except ValueError:
        ok = False
    if not ok:
        raise Invalid(f"{where} must be a number", field=where)


def parse_datetime(raw: str, name: str, tz: ZoneInfo) -> datetime:
    """A W3C/ISO 8601 date-time; without an offset it is the city's local time."""
    try:
        dt = datetime.fromisoformat(raw.strip())
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        dt.astimezone(ZoneInfo("UTC"))  # an offset past year 1 or 9999 fails here, not later
    except (ValueError, OverflowError):
        raise Invalid(
            f"'{name}' must be an ISO 8601 date-time, e.g. 2026-11-26T09:30:00+08:00", field=name
        ) from None
    return dt


@dataclass(frozen=True)
class Query:
    ids: list[int] | None
    service_codes: list[str] | None
    statuses: list[str] | None
    start: datetime
    end: datetime


def parse_query(params: Fields, now: datetime, tz: ZoneInfo) -> Query:
    """GET /requests filters. Ids, when given, override every other filter (the spec)."""
    raw_ids = _one(params, "service_request_id")
    if raw_ids is not None:
        ids = [p.strip() for p in raw_ids.split(",") if p.strip()]
        if len(ids) > MAX_RESULTS or not all(p.isdigit() and 0 < int(p) < 2**63 for p in ids):
            raise Invalid(
                f"service_request_id must be up to {MAX_RESULTS} comma-separated request ids",
                field="service_request_id",
            )
        return Query([int(p) for p in ids], None, None, now - DEFAULT_WINDOW, now)
    codes = _one(params, "service_code")
    statuses = _one(params, "status")
    status_list = None
    if statuses is not None:
        status_list = [s.strip().lower() for s in statuses.split(",") if s.strip()]
        if not status_list or any(s not in STATUSES for s in status_list):
            raise Invalid("status must be 'open', 'closed' or 'open,closed'", field="status")
    start_raw, end_raw = _one(params, "start_date"), _one(params, "end_date")
    end = parse_datetime(end_raw, "end_date", tz) if end_raw else now
    try:
        start = parse_datetime(start_raw, "start_date", tz) if start_raw else end - DEFAULT_WINDOW
    except OverflowError:
        raise Invalid("end_date is too early", field="end_date") from None
    if start > end:
        raise Invalid("start_date must not be after end_date", field="start_date")
    return Query(
        None,
        [c.strip() for c in codes.split(",") if c.strip()] if codes else None,
        status_list,
        start,
        end,
    )
