"""The NGSI-LD API as a standards client (a FIWARE tool, a generated ETSI client) uses it: the
query language, projection, idPattern, counting, paging links, content negotiation, types as
IRIs or through a Link context, geo-queries, and ProblemDetails errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

URN = "urn:ngsi-ld:Device:"
NGSI = "/ngsi-ld/v1/entities"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
# id -> (type, lon, lat); all in Xinyi, a few hundred metres apart.
DEVICES = {
    "aq-1": ("air_quality", 121.5645, 25.0340),
    "aq-2": ("air_quality", 121.5660, 25.0350),
    "bin-1": ("litter_bin", 121.5700, 25.0400),
    "bin-2": ("litter_bin", 121.5800, 25.0420),
    "cam-1": ("camera", 121.5900, 25.0500),
}


@pytest.fixture
def devices(client: TestClient, admin: dict[str, str]) -> None:
    for dev_id, (kind, lon, lat) in DEVICES.items():
        body: dict[str, Any] = {
            "id": dev_id,
            "name": f"Sensor {dev_id}",
            "type": kind,
            "department": "epb",
            "location": {"type": "Point", "coordinates": [lon, lat]},
        }
        assert client.post("/api/v1/devices", headers=admin, json=body).status_code == 201
    body = {"id": "nowhere", "name": "Sensor nowhere", "type": "camera", "department": "epb"}
    assert client.post("/api/v1/devices", headers=admin, json=body).status_code == 201


def ids(client: TestClient, h: dict[str, str], **params: Any) -> list[str]:
    r = client.get(NGSI, headers=h, params=params)
    assert r.status_code == 200, r.text
    return [str(e["id"])[len(URN) :] for e in r.json()]


def problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == (ERRORS + kind if kind != "about:blank" else kind)
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


def test_q_filters_by_the_query_language(
    client: TestClient, admin: dict[str, str], devices: None
) -> None:
    assert ids(client, admin, type="Device", q='deviceCategory=="litter_bin"') == [
        "bin-1",
        "bin-2",
    ]
    assert ids(client, admin, q='deviceCategory==air_quality;name=="Sensor aq-2"') == ["aq-2"]
    assert ids(client, admin, q='name=="Sensor aq-1"|name=="Sensor cam-1"') == ["aq-1", "cam-1"]
    both = 'deviceCategory==camera;(name=="Sensor cam-1"|name=="Sensor nowhere")'
    assert ids(client, admin, q=both) == ["cam-1", "nowhere"]
    assert ids(client, admin, q="deviceCategory==camera,litter_bin") == [
        "bin-1",
        "bin-2",
        "cam-1",
        "nowhere",
    ]
    assert ids(client, admin, q="deviceCategory!=camera;deviceCategory!=litter_bin") == [
        "aq-1",
        "aq-2",
    ]
    assert ids(client, admin, q="name~=bin-[0-9]$") == ["bin-1", "bin-2"]
    assert ids(client, admin, q="name!~=Sensor") == []
    xinyi = 'address[addressLocality]=="信義區";deviceCategory==air_quality'
    assert ids(client, admin, q=xinyi) == ["aq-1", "aq-2"]
    assert ids(client, admin, q='address[addressLocality]=="大安區"') == []
    assert ids(client, admin, q="location") == list(DEVICES)  # the attribute exists
    assert ids(client, admin, q="status==retired") == []


@pytest.mark.parametrize(
    "q",
    [
        "name==",
        '(name=="x"',
        'name=="x")',
        "name>1,2",
        "name==1..",
        "==x",
        'name=="unclosed',
        "name~=(a+)+$",
        "name~=[",
    ],
)
def test_a_malformed_q_is_400_bad_request_data(
    client: TestClient, admin: dict[str, str], q: str
) -> None:
    body = problem(client.get(NGSI, headers=admin, params={"q": q}), 400, "BadRequestData")
    assert body["field"] == "q"


def test_a_q_too_big_to_evaluate_is_403_too_complex(
    client: TestClient, admin: dict[str, str]
) -> None:
    q = ";".join(["status==active"] * 40)
    problem(client.get(NGSI, headers=admin, params={"q": q}), 403, "TooComplexQuery")


def test_attrs_project_and_match(client: TestClient, admin: dict[str, str], devices: None) -> None:
    r = client.get(NGSI, headers=admin, params={"type": "Device", "attrs": "name,status"})
    assert r.status_code == 200
    assert all(set(e) == {"id", "type", "name", "status"} for e in r.json())
    # An entity with none of the attributes is not matched.
    assert "nowhere" not in ids(client, admin, type="Device", attrs="location")
    kv = client.get(NGSI, headers=admin, params={"id": URN + "aq-1", "attrs": "name"})
    assert kv.json() == [
        {"id": URN + "aq-1", "type": "Device", "name": {"type": "Property", "value": "Sensor aq-1"}}
    ]
    # An attribute given as an IRI in the NGSI-LD default vocabulary.
    iri = "https://uri.etsi.org/ngsi-ld/default-context/deviceCategory"
    one = client.get(f"{NGSI}/{URN}bin-1", headers=admin, params={"attrs": iri}).json()
    assert set(one) == {"id", "type", "deviceCategory"}


def test_id_pattern(client: TestClient, admin: dict[str, str], devices: None) -> None:
    assert ids(client, admin, idPattern="^urn:ngsi-ld:Device:bin-") == ["bin-1", "bin-2"]
    assert ids(client, admin, idPattern="aq-[2-9]$", type="Device") == ["aq-2"]
    for bad in ("(a+)+$", "(x|x)*y", "\\1", "(?=a)", "a.*b.*c.*d", "x" * 201, "["):
        body = problem(
            client.get(NGSI, headers=admin, params={"idPattern": bad}), 400, "BadRequestData"
        )
        assert body["field"] == "idPattern"


def test_count_and_count_alone(client: TestClient, admin: dict[str, str], devices: None) -> None:
    r = client.get(NGSI, headers=admin, params={"type": "Device", "count": "true", "limit": 2})
    assert r.status_code == 200 and len(r.json()) == 2
    assert r.headers["NGSILD-Results-Count"] == str(len(DEVICES) + 1)
    # What a client sends to test a broker: the count and no entities.
    r = client.get(NGSI, headers=admin, params={"type": "Device", "limit": 0, "count": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == [] and r.headers["NGSILD-Results-Count"] == str(len(DEVICES) + 1)
    r = client.get(
        NGSI,
        headers=admin,
        params={"q": "deviceCategory==litter_bin", "limit": 0, "count": "true"},
    )
    assert r.headers["NGSILD-Results-Count"] == "2"
    # Without count the header is not sent, and limit=0 alone asks for nothing.
    assert (
        "NGSILD-Results-Count"
        not in client.get(NGSI, headers=admin, params={"type": "Device"}).headers
    )
    problem(
        client.get(NGSI, headers=admin, params={"type": "Device", "limit": 0}),
        400,
        "BadRequestData",
    )


def _links(r: Any) -> dict[str, str]:
    out = {}
    for value in r.headers.get_list("link"):
        for part in value.split(", <"):
            url, _, rel = part.partition(">;")
            out[rel.split('rel="')[1].split('"')[0]] = url.lstrip("<")
    return out


def test_paging_follows_link_next_and_prev(
    client: TestClient, admin: dict[str, str], devices: None
) -> None:
    seen: list[str] = []
    url: str | None = f"{NGSI}?type=Device&limit=2"
    pages = 0
    while url:
        r = client.get(url, headers=admin)
        assert r.status_code == 200, r.text
        seen += [e["id"] for e in r.json()]
        links = _links(r)
        assert links["http://www.w3.org/ns/json-ld#context"] == CORE
        assert ("prev" in links) == (pages > 0)
        url = links.get("next")
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == len(DEVICES) + 1
    middle = client.get(NGSI, headers=admin, params={"type": "Device", "limit": 2, "offset": 2})
    prev = _links(middle)["prev"]
    assert "offset=0" in prev and "type=Device" in prev


def test_limits_are_400_or_403_too_many_results(client: TestClient, admin: dict[str, str]) -> None:
    for params in ({"limit": "x"}, {"limit": -1}, {"offset": -1}, {"count": "maybe"}):
        body = problem(
            client.get(NGSI, headers=admin, params={"type": "Device", **params}),
            400,
            "BadRequestData",
        )
        assert body["field"] in ("limit", "offset", "count")
    problem(
        client.get(NGSI, headers=admin, params={"type": "Device", "limit": 5000}),
        403,
        "TooManyResults",
    )


def test_content_negotiation(client: TestClient, admin: dict[str, str], devices: None) -> None:
    one = f"{NGSI}/{URN}aq-1"
    ld = client.get(
        NGSI, headers={**admin, "Accept": "application/ld+json"}, params={"type": "Device"}
    )
    assert ld.status_code == 200 and ld.headers["content-type"] == "application/ld+json"
    assert all(e["@context"] == CORE for e in ld.json())
    assert "link" not in ld.headers
    r = client.get(one, headers={**admin, "Accept": "application/ld+json"})
    assert r.json()["@context"] == CORE
    for accept in ("application/json", "*/*", "application/json, text/html;q=0.5", ""):
        r = client.get(one, headers={**admin, "Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert "@context" not in r.json()
        assert f"<{CORE}>" in r.headers["link"]
    for accept in ("text/html", "application/xml", "application/json;q=0"):
        body = problem(client.get(one, headers={**admin, "Accept": accept}), 406, "about:blank")
        assert body["error"] == "NotAcceptable"
        problem(
            client.get(NGSI, headers={**admin, "Accept": accept}, params={"type": "Device"}),
            406,
            "about:blank",
        )


def test_types_as_iris_or_through_a_link_context(
    client: TestClient, admin: dict[str, str], devices: None
) -> None:
    every = [*sorted(DEVICES), "nowhere"]
    assert ids(client, admin, type="https://uri.etsi.org/ngsi-ld/default-context/Device") == every
    assert ids(client, admin, type="https://smartdatamodels.org/dataModel.Device/Device") == every
    assert ids(client, admin, type="https://example.org/Device") == []
    assert ids(client, admin, type="Building|Device") == every
    link = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    r = client.get(NGSI, headers={**admin, "Link": link}, params={"type": "Device"})
    assert r.status_code == 200 and len(r.json()) == len(every)
    # A context this server does not have is never fetched: a clear error instead.
    other = '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    body = problem(
        client.get(NGSI, headers={**admin, "Link": other}, params={"type": "Device"}),
        503,
        "LdContextNotAvailable",
    )
    assert "does not fetch" in body["detail"]
    problem(
        client.get(NGSI, headers=admin, params={"type": "(Device;Building)"}),
        422,
        "OperationNotSupported",
    )


def test_geo_queries(client: TestClient, admin: dict[str, str], devices: None) -> None:
    square = "[[[121.56,25.03],[121.575,25.03],[121.575,25.045],[121.56,25.045],[121.56,25.03]]]"
    geo = {"type": "Device", "geometry": "Polygon", "coordinates": square}
    assert ids(client, admin, georel="within", **geo) == ["aq-1", "aq-2", "bin-1"]
    assert ids(client, admin, georel="intersects", **geo) == ["aq-1", "aq-2", "bin-1"]
    assert ids(client, admin, georel="disjoint", **geo) == ["bin-2", "cam-1"]
    far = ids(
        client,
        admin,
        type="Device",
        georel="near;minDistance==1000",
        geometry="Point",
        coordinates="[121.5645,25.0340]",
    )
    assert far == ["bin-2", "cam-1"]  # nearest first
    # Valid NGSI-LD georels this server does not evaluate: OperationNotSupported.
    for georel in ("contains", "overlaps", "equals"):
        body = problem(
            client.get(NGSI, headers=admin, params={"georel": georel, **geo}),
            422,
            "OperationNotSupported",
        )
        assert body["field"] == "georel"
    open_ring = "[[[121.56,25.03],[121.575,25.03],[121.575,25.045]]]"
    # Geometries that shapely refuses (a one-point line once answered 500) or that are not
    # GeoJSON are 400.
    for kind, coords in [
        ("LineString", "[[121.5,25]]"),
        ("MultiLineString", "[[[121.5,25]]]"),
        ("Point", "[[121.5,25]]"),
        ("Polygon", "[[[121.5,25],[121.6,25.1],[121.6,25],[121.5,25.1],[121.5,25]]]"),
        ("Polygon", open_ring),
        ("Circle", "[121.5,25]"),
    ]:
        params = {"type": "Device", "georel": "intersects", "geometry": kind}
        r = client.get(NGSI, headers=admin, params={**params, "coordinates": coords})
        problem(r, 400, "BadRequestData")
    problem(
        client.get(
            NGSI, headers=admin, params={**geo, "georel": "within", "coordinates": open_ring}
        ),
        400,
        "BadRequestData",
    )


def test_every_error_is_problem_details(client: TestClient, admin: dict[str, str]) -> None:
    nobody = {"Authorization": "Bearer not-a-session"}
    problem(client.get(NGSI, headers=nobody, params={"type": "Device"}), 401, "about:blank")
    problem(client.get(f"{NGSI}/{URN}missing", headers=admin), 404, "ResourceNotFound")
    body = problem(
        client.get(NGSI, headers=admin, params={"id": URN + "\x00"}), 400, "BadRequestData"
    )
    assert body["field"] == "id"


def test_parameters_not_evaluated_are_refused_not_ignored(
    client: TestClient, admin: dict[str, str], devices: None
) -> None:
    for params in ({"pick": "name"}, {"omit": "name"}, {"scopeQ": "/a"}, {"options": "sysAttrs"}):
        body = problem(
            client.get(NGSI, headers=admin, params={"type": "Device", **params}),
            422,
            "OperationNotSupported",
        )
        assert body["field"] == next(iter(params))
    r = client.get(f"{NGSI}/{URN}aq-1", headers=admin, params={"lang": "zh"})
    problem(r, 422, "OperationNotSupported")
    kv = client.get(NGSI, headers=admin, params={"id": URN + "aq-1", "options": "simplified"})
    assert kv.json()[0]["name"] == "Sensor aq-1"
    kv = client.get(NGSI, headers=admin, params={"id": URN + "aq-1", "format": "keyValues"})
    assert kv.json()[0]["name"] == "Sensor aq-1"
