"""Open311 GeoReport v2: a module registers service codes, a citizen files a report with a
client written against the spec, bad input is refused in the spec's error format with nothing
written, and staff of the owning department answer the report. On both databases."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.models import AuditRecord, Event, Open311Request
from onecity.core.modules import Module, start_platform
from onecity.core.open311 import Attribute, AttributeValue, Open311Service
from onecity.core.platform import Platform
from tests.conftest import add_user, login, make_settings

INSIDE = {"lat": "25.0375", "long": "121.5645"}  # Xinyi district, Taipei

POTHOLE = Open311Service(
    service_code="test.pothole",
    service_name={"zh-TW": "路面坑洞", "en": "Pothole"},
    department_code="pwd",
    description={"zh-TW": "道路坑洞或破損", "en": "A hole or break in the road surface"},
    group={"zh-TW": "道路", "en": "Roads"},
    keywords=("road", "pothole"),
    service_notice={"en": "Usually repaired within 3 working days"},
)
BIN = Open311Service(
    service_code="test.bin_full",
    service_name={"zh-TW": "垃圾桶已滿", "en": "Litter bin full"},
    department_code="epb",
    attributes=(
        Attribute(
            code="SIZE",
            description={"en": "How full is it?"},
            datatype="singlevaluelist",
            required=True,
            values=(
                AttributeValue("full", {"en": "Full"}),
                AttributeValue("overflowing", {"en": "Overflowing"}),
            ),
        ),
        Attribute(code="COUNT", description="How many bins?", datatype="number"),
    ),
)


def _register(name: str, module: Module) -> None:
    m = types.ModuleType(f"onecity.{name}.module")
    m.MODULE = module  # type: ignore[attr-defined]
    sys.modules[f"onecity.{name}.module"] = m


@pytest.fixture
def city(db_url: str) -> Iterator[tuple[TestClient, Platform]]:
    """An app with a test-only module that registers two service codes."""
    _register("fake311", Module("fake311", open311_services=(POTHOLE, BIN)))
    p = start_platform(make_settings(db_url, modules="fake311"))
    seed_reference(p)
    try:
        with TestClient(create_app(p.settings, p)) as c:
            yield c, p
    finally:
        sys.modules.pop("onecity.fake311.module", None)
        p.db.dispose()


# --- A client written from the GeoReport v2 spec alone: its parameters and fields only. ---


class Open311Client:
    def __init__(self, http: TestClient, endpoint: str) -> None:
        self.http, self.endpoint = http, endpoint

    def services(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.endpoint}/services.json")
        assert r.status_code == 200
        out: list[dict[str, Any]] = r.json()
        return out

    def definition(self, service_code: str) -> dict[str, Any]:
        r = self.http.get(f"{self.endpoint}/services/{service_code}.json")
        assert r.status_code == 200
        out: dict[str, Any] = r.json()
        return out

    def create(self, **params: str) -> str:
        r = self.http.post(f"{self.endpoint}/requests.json", data=params)
        assert r.status_code in (200, 201), r.text
        [created] = r.json()
        request_id: str = created["service_request_id"]
        return request_id

    def get(self, service_request_id: str) -> dict[str, Any]:
        r = self.http.get(f"{self.endpoint}/requests/{service_request_id}.json")
        assert r.status_code == 200
        [found] = r.json()
        out: dict[str, Any] = found
        return out

    def find(self, **params: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.endpoint}/requests.json", params=params)
        assert r.status_code == 200
        out: list[dict[str, Any]] = r.json()
        return out


SPEC_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def test_spec_client_lists_files_and_reads_back(city: tuple[TestClient, Platform]) -> None:
    client = Open311Client(city[0], "/open311/v2")
    services = {s["service_code"]: s for s in client.services()}
    assert set(services) == {"test.pothole", "test.bin_full"}
    pothole = services["test.pothole"]
    assert set(pothole) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert pothole["metadata"] is False and pothole["type"] == "realtime"
    assert services["test.bin_full"]["metadata"] is True

    definition = client.definition("test.bin_full")
    assert definition["service_code"] == "test.bin_full"
    size = definition["attributes"][0]
    assert (size["code"], size["datatype"], size["required"], size["variable"]) == (
        "SIZE",
        "singlevaluelist",
        True,
        True,
    )
    assert [v["key"] for v in size["values"]] == ["full", "overflowing"]

    rid = client.create(
        service_code="test.bin_full",
        description="Bin at the MRT exit is overflowing",
        email="citizen@example.org",
        first_name="Mei",
        phone="0912345678",
        **INSIDE,
        **{"attribute[SIZE]": "overflowing", "attribute[COUNT]": "2"},
    )
    got = client.get(rid)
    assert set(got) == SPEC_FIELDS  # the spec's fields, and no contact details
    assert got["service_request_id"] == rid and got["status"] == "open"
    assert got["service_code"] == "test.bin_full"
    assert (got["lat"], got["long"]) == (25.0375, 121.5645)
    assert got["description"] == "Bin at the MRT exit is overflowing"
    assert got["requested_datetime"].endswith("+08:00")  # W3C date-time, city time
    assert rid in [r["service_request_id"] for r in client.find()]
    assert [r["service_request_id"] for r in client.find(service_request_id=rid)] == [rid]
    assert client.find(service_code="test.pothole") == []
    assert [r["service_request_id"] for r in client.find(status="open")] == [rid]


def test_localized_catalog(city: tuple[TestClient, Platform]) -> None:
    c, _ = city
    zh = {s["service_code"]: s for s in c.get("/open311/v2/services.json").json()}
    en = c.get("/open311/v2/services.json", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert zh["test.pothole"]["service_name"] == "路面坑洞"  # the city's default language
    by_code = {s["service_code"]: s for s in en.json()}
    assert by_code["test.pothole"]["service_name"] == "Pothole"
    assert by_code["test.pothole"]["keywords"] == "road, pothole"
    assert by_code["test.pothole"]["group"] == "Roads"


def _counts(p: Platform) -> tuple[int, int, int]:
    with p.db.read() as s:
        return (
            s.execute(select(func.count()).select_from(Open311Request)).scalar_one(),
            s.execute(select(func.count()).select_from(Event)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditRecord)).scalar_one(),
        )


def test_filing_writes_row_event_and_audit_keeping_contacts_private(
    city: tuple[TestClient, Platform],
) -> None:
    c, p = city
    r = c.post(
        "/open311/v2/requests.json",
        json={
            "service_code": "test.pothole",
            "lat": 25.0375,
            "long": 121.5645,
            "address_string": "No. 1, City Hall Rd",
            "description": "Deep hole",
            "email": "someone@example.org",
            "account_id": "acct-7",
            "api_key": "ignored",
            "media_url": "https://photos.example.org/1.jpg",
        },
    )
    assert r.status_code == 201, r.text
    [created] = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] == "acct-7"
    assert created["service_notice"] == "Usually repaired within 3 working days"
    rid = int(created["service_request_id"])
    with p.db.read() as s:
        row = s.get(Open311Request, rid)
        assert row is not None
        assert (row.department_code, row.email, row.source_ip) == (
            "pwd",
            "someone@example.org",
            "testclient",
        )
        ev = s.execute(select(Event).where(Event.type == "open311.request")).scalar_one()
        rec = s.execute(
            select(AuditRecord).where(AuditRecord.action == "open311.request")
        ).scalar_one()
    assert ev.department_code == "pwd" and ev.payload["service_request_id"] == str(rid)
    assert "someone@example.org" not in str(ev.payload) + str(rec.detail)
    public = c.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert public["media_url"] == "https://photos.example.org/1.jpg"
    assert public["address"] == "No. 1, City Hall Rd"
    assert "someone@example.org" not in c.get("/open311/v2/requests.json").text


BAD_POSTS: list[tuple[str, dict[str, str], str]] = [
    ("unknown service", {"service_code": "nope", **INSIDE}, "service_code"),
    ("no service", dict(INSIDE), "service_code"),
    ("no location", {"service_code": "test.pothole"}, "location"),
    ("lat only", {"service_code": "test.pothole", "lat": "25.03"}, "long"),
    ("lat not a number", {"service_code": "test.pothole", "lat": "north", "long": "121.5"}, "lat"),
    ("lat NaN", {"service_code": "test.pothole", "lat": "nan", "long": "121.5"}, "lat"),
    ("outside the city", {"service_code": "test.pothole", "lat": "24.0", "long": "121.0"}, "out"),
    ("off the globe", {"service_code": "test.pothole", "lat": "95", "long": "121.5"}, "lat"),
    ("too long", {"service_code": "test.pothole", **INSIDE, "description": "x" * 4001}, "4000"),
    ("bad media_url", {"service_code": "test.pothole", **INSIDE, "media_url": "ftp://x"}, "media"),
    ("bad email", {"service_code": "test.pothole", **INSIDE, "email": "nobody"}, "email"),
    ("missing attribute", {"service_code": "test.bin_full", **INSIDE}, "SIZE"),
    (
        "wrong choice",
        {"service_code": "test.bin_full", **INSIDE, "attribute[SIZE]": "empty"},
        "SIZE",
    ),
    (
        "not a number",
        {
            "service_code": "test.bin_full",
            **INSIDE,
            "attribute[SIZE]": "full",
            "attribute[COUNT]": "a",
        },
        "COUNT",
    ),
    (
        "unknown attribute",
        {"service_code": "test.pothole", **INSIDE, "attribute[COLOR]": "red"},
        "COLOR",
    ),
    ("NUL", {"service_code": "test.pothole", **INSIDE, "description": "a\x00b"}, "NUL"),
]


@pytest.mark.parametrize("case,form,says", BAD_POSTS, ids=[b[0] for b in BAD_POSTS])
def test_bad_reports_are_400_and_write_nothing(
    city: tuple[TestClient, Platform], case: str, form: dict[str, str], says: str
) -> None:
    c, p = city
    before = _counts(p)
    r = c.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 400, r.text
    [err] = r.json()
    assert err["code"] == 400 and says.lower() in err["description"].lower()
    assert _counts(p) == before


@pytest.mark.parametrize(
    "kwargs,status",
    [
        ({"content": b"service_code=test.pothole", "headers": {"content-type": "text/plain"}}, 415),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"json": ["service_code", "test.pothole"]}, 400),
        ({"json": {"service_code": "test.pothole", "lat": True, "long": 1}}, 400),
        ({"json": {"service_code": "test.pothole", **INSIDE, "description": "a\x00"}}, 400),
        ({"data": {"service_code": "test.pothole", **INSIDE}, "files": {"media": b"jpg"}}, 400),
    ],
    ids=["text/plain", "broken json", "json list", "json bool", "json NUL", "photo upload"],
)
def test_bad_bodies_are_4xx_and_write_nothing(
    city: tuple[TestClient, Platform], kwargs: dict[str, Any], status: int
) -> None:
    c, p = city
    before = _counts(p)
    r = c.post("/open311/v2/requests.json", **kwargs)
    assert r.status_code == status, r.text
    assert r.json()[0]["code"] == status and r.json()[0]["description"]
    assert _counts(p) == before


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"end_date": "0001-01-01T00:00:00Z"},
        {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        {"service_request_id": "1,abc"},
        {"service_request_id": str(2**70)},
    ],
)
def test_bad_filters_are_400(city: tuple[TestClient, Platform], params: dict[str, str]) -> None:
    r = city[0].get("/open311/v2/requests.json", params=params)
    assert r.status_code == 400, r.text
    assert r.json()[0]["code"] == 400


@pytest.mark.parametrize(
    "path,status",
    [
        ("/open311/v2/services/nope.json", 404),
        ("/open311/v2/requests/999.json", 404),
        ("/open311/v2/requests/abc.json", 404),
        (f"/open311/v2/requests/{2**70}.json", 404),
        ("/open311/v2/services.yaml", 404),
    ],
)
def test_not_found_in_spec_format(
    city: tuple[TestClient, Platform], path: str, status: int
) -> None:
    r = city[0].get(path)
    assert r.status_code == status
    assert r.json()[0]["code"] == status


def test_date_window(city: tuple[TestClient, Platform]) -> None:
    c, _ = city
    rid = Open311Client(c, "/open311/v2").create(service_code="test.pothole", **INSIDE)

    def ids(**q: str) -> list[str]:
        got = c.get("/open311/v2/requests.json", params=q).json()
        return [r["service_request_id"] for r in got]

    assert ids(start_date="2000-01-01T00:00:00+08:00", end_date="2000-02-01") == []
    assert ids(start_date="2000-01-01T00:00:00+08:00") == [rid]  # from then until now
    assert ids(end_date="2999-01-01T00:00:00Z") == []  # the 90 days before that end
    assert ids(status="open,closed") == [rid]


def test_staff_of_the_department_close_a_report(city: tuple[TestClient, Platform]) -> None:
    c, p = city
    rid = Open311Client(c, "/open311/v2").create(service_code="test.pothole", **INSIDE)
    add_user(p, "pwd.crew", "crew", "pwd")
    add_user(p, "epb.crew", "crew", "epb")
    add_user(p, "pwd.officer", "officer", "pwd")
    body = {"status": "closed", "status_notes": "Filled on Tuesday"}
    url = f"/api/v1/open311/requests/{rid}"

    assert c.patch(url, json=body).status_code == 401
    assert c.patch(url, json=body, headers=login(c, "pwd.officer")).status_code == 403
    # Another department's report does not exist for them.
    assert c.patch(url, json=body, headers=login(c, "epb.crew")).status_code == 404
    bad = c.patch(url, json={"status": "done"}, headers=login(c, "pwd.crew"))
    assert bad.status_code == 422 and bad.json()["field"] == "status"

    r = c.patch(url, json=body, headers=login(c, "pwd.crew"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["department"]) == ("closed", "pwd")
    public = c.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert (public["status"], public["status_notes"]) == ("closed", "Filled on Tuesday")
    assert c.get("/open311/v2/requests.json", params={"status": "open"}).json() == []
    with p.db.read() as s:
        ev = s.execute(select(Event).where(Event.type == "open311.request_updated")).scalar_one()
        rec = s.execute(
            select(AuditRecord).where(AuditRecord.action == "open311.update")
        ).scalar_one()
    assert ev.department_code == "pwd" and rec.actor == "pwd.crew"
    assert rec.detail["before"]["status"] == "open" and rec.detail["after"]["status"] == "closed"


def test_registration_mistakes_stop_start_up(db_url: str) -> None:
    twice = Module("fake311b", open311_services=(POTHOLE, POTHOLE))
    nowhere = Module(
        "fake311c",
        open311_services=(
            Open311Service(service_code="x", service_name="X", department_code="mars"),
        ),
    )
    try:
        for module, says in ((twice, "already registered"), (nowhere, "unknown department")):
            _register(module.name, module)
            with pytest.raises(ValueError, match=f"{module.name}.*{says}"):
                create_app(make_settings(db_url, modules=module.name))
    finally:
        sys.modules.pop("onecity.fake311b.module", None)
        sys.modules.pop("onecity.fake311c.module", None)


def test_no_modules_no_services(client: TestClient) -> None:
    assert client.get("/open311/v2/services.json").json() == []
    r = client.post("/open311/v2/requests.json", data={"service_code": "any", **INSIDE})
    assert r.status_code == 400
