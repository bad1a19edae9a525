"""Open311 GeoReport v2 as the spec has it, on both databases: every resource in XML (the
spec's required format) as well as JSON, errors in the format asked for, service discovery,
`address_id` as a location, and `Allow` on a 405.

Before: every `.xml` path and `discovery.json` answered 404, an `address_id` was stored without
being looked up (or refused as "no location"), and a 405 named no allowed method."""

from __future__ import annotations

import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.models import Open311Request
from onecity.core.modules import Module, start_platform
from onecity.core.open311 import Attribute, AttributeValue, Open311Service, ResolvedAddress
from onecity.core.platform import Platform
from tests.conftest import make_settings

V2 = "/open311/v2"
INSIDE = {"lat": "25.0375", "long": "121.5645"}
BIN = Open311Service(
    service_code="fmt.bin_full",
    service_name={"zh-TW": "垃圾桶已滿", "en": "Litter bin full"},
    department_code="epb",
    keywords=("bin",),
    attributes=(
        Attribute(
            code="SIZE",
            description={"en": "How full is it?"},
            datatype="singlevaluelist",
            required=True,
            values=(AttributeValue("full", {"en": "Full"}), AttributeValue("over", "Overflowing")),
        ),
    ),
)
POTHOLE = Open311Service(service_code="fmt.pothole", service_name="Pothole", department_code="pwd")


@pytest.fixture
def city(db_url: str) -> Iterator[tuple[TestClient, Platform]]:
    sys.modules["onecity.fmt311.module"] = m = types.ModuleType("onecity.fmt311.module")
    m.MODULE = Module("fmt311", open311_services=(BIN, POTHOLE))  # type: ignore[attr-defined]
    p = start_platform(make_settings(db_url, modules="fmt311"))
    seed_reference(p)
    try:
        with TestClient(create_app(p.settings, p)) as c:
            yield c, p
    finally:
        sys.modules.pop("onecity.fmt311.module", None)
        p.db.dispose()


def xml(r: object) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml")  # type: ignore[attr-defined]
    body: bytes = r.content  # type: ignore[attr-defined]
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(body)  # noqa: S314 - the server's own answer


def stored(p: Platform) -> int:
    with p.db.read() as s:
        return int(s.execute(select(func.count()).select_from(Open311Request)).scalar_one())


def test_services_and_their_definitions_in_xml(city: tuple[TestClient, Platform]) -> None:
    c, _ = city
    root = xml(c.get(f"{V2}/services.xml", params={"locale": "en"}))
    assert root.tag == "services"
    got = {s.findtext("service_code"): s for s in root.findall("service")}
    assert set(got) == {"fmt.bin_full", "fmt.pothole"}
    assert got["fmt.bin_full"].findtext("service_name") == "Litter bin full"
    assert got["fmt.bin_full"].findtext("metadata") == "true"
    assert got["fmt.pothole"].findtext("metadata") == "false"
    assert got["fmt.pothole"].findtext("type") == "realtime"

    d = xml(c.get(f"{V2}/services/fmt.bin_full.xml", params={"locale": "en"}))
    assert (d.tag, d.findtext("service_code")) == ("service_definition", "fmt.bin_full")
    (a,) = d.findall("attributes/attribute")
    assert [a.findtext(k) for k in ("code", "datatype", "required", "order")] == [
        "SIZE",
        "singlevaluelist",
        "true",
        "1",
    ]
    values = [(v.findtext("key"), v.findtext("name")) for v in a.findall("values/value")]
    assert values == [("full", "Full"), ("over", "Overflowing")]
    # The JSON twin says the same.
    assert c.get(f"{V2}/services/fmt.bin_full.json").json()["attributes"][0]["code"] == "SIZE"


def test_file_and_read_back_in_xml(city: tuple[TestClient, Platform]) -> None:
    c, _ = city
    text = 'bin <full> & smelly\x01\x0b, "quoted" \' ]]>'
    form = {"service_code": "fmt.pothole", "description": text, **INSIDE}
    r = c.post(f"{V2}/requests.xml", data=form)
    assert r.status_code == 201, r.text
    root = xml(r)
    assert root.tag == "service_requests"
    rid = root.findtext("request/service_request_id")
    assert rid and rid.isdigit()

    one = xml(c.get(f"{V2}/requests/{rid}.xml")).find("request")
    assert one is not None
    assert one.findtext("service_code") == "fmt.pothole"
    # Escaped, and the characters XML 1.0 cannot carry left out: the document still parses.
    assert one.findtext("description") == 'bin <full> & smelly, "quoted" \' ]]>'
    assert float(one.findtext("lat") or 0) == 25.0375
    assert one.findtext("status") == "open" and one.find("media_url") is not None
    listed = xml(c.get(f"{V2}/requests.xml"))
    assert [x.findtext("service_request_id") for x in listed.findall("request")] == [rid]


def test_errors_come_in_the_format_asked_for(city: tuple[TestClient, Platform]) -> None:
    c, p = city
    r = c.post(f"{V2}/requests.xml", data={"service_code": "nope", **INSIDE})
    assert r.status_code == 400
    (err,) = xml(r).findall("error")
    assert err.findtext("code") == "400" and "nope" in (err.findtext("description") or "")
    missing = c.get(f"{V2}/requests/999.xml")
    assert missing.status_code == 404 and xml(missing).findtext("error/code") == "404"
    assert c.get(f"{V2}/requests/999.json").json()[0]["code"] == 404
    assert c.get(f"{V2}/services.yaml").status_code == 404
    assert stored(p) == 0


@pytest.mark.parametrize("base", ["/open311", V2])
def test_service_discovery(city: tuple[TestClient, Platform], base: str) -> None:
    c, _ = city
    doc = c.get(f"{base}/discovery.json").json()
    (endpoint,) = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["type"] == "test"  # "production" when ONECITY_ENVIRONMENT says so
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert doc["changeset"].endswith("Z")
    root = xml(c.get(f"{base}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/specification") == endpoint["specification"]
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert set(formats) == {"text/xml", "application/json"}


def test_address_id_needs_an_address_registry(city: tuple[TestClient, Platform]) -> None:
    c, p = city
    form = {"service_code": "fmt.pothole", "address_id": "A-17"}
    r = c.post(f"{V2}/requests.json", data=form)
    assert r.status_code == 400
    assert "address_id" in r.json()[0]["description"]
    # Not silently dropped beside a point either.
    assert c.post(f"{V2}/requests.json", data={**form, **INSIDE}).status_code == 400
    assert stored(p) == 0

    known = {"A-17": ResolvedAddress(25.0375, 121.5645, "No. 1, Shifu Rd.")}
    c.app.state.open311.addresses = known.get  # type: ignore[attr-defined]
    r = c.post(f"{V2}/requests.json", data=form)
    assert r.status_code == 201, r.text
    (seen,) = c.get(f"{V2}/requests/{r.json()[0]['service_request_id']}.json").json()
    assert (seen["address_id"], seen["lat"], seen["long"]) == ("A-17", 25.0375, 121.5645)
    assert seen["address"] == "No. 1, Shifu Rd."
    unknown = c.post(f"{V2}/requests.json", data={**form, "address_id": "Z-9"})
    assert unknown.status_code == 400 and "Z-9" in unknown.json()[0]["description"]
    assert stored(p) == 1


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("DELETE", "/requests.json", "GET, POST"),
        ("PUT", "/requests.xml", "GET, POST"),
        ("POST", "/services.json", "GET"),
        ("PATCH", "/services/fmt.pothole.xml", "GET"),
        ("POST", "/requests/1.json", "GET"),
        ("POST", "/discovery.json", "GET"),
    ],
)
def test_a_wrong_method_says_which_are_allowed(
    city: tuple[TestClient, Platform], method: str, path: str, allow: str
) -> None:
    r = city[0].request(method, f"{V2}{path}")
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    if path.endswith(".xml"):
        assert xml(r).findtext("error/code") == "405"
    else:
        assert r.json()[0]["code"] == 405
