"""The NGSI-LD query language (q) against entities in normalized form: no database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.core import ngsi_q

BIN: dict[str, Any] = {
    "id": "urn:ngsi-ld:WasteContainer:IT1:garbage",
    "type": "WasteContainer",
    "fillingLevel": {
        "type": "Property",
        "value": 0.85,
        "observedAt": "2026-12-04T10:00:00Z",
        "unitCode": {"type": "Property", "value": "C62"},
    },
    "temperature": {"type": "Property", "value": 21},
    "status": {"type": "Property", "value": "ok"},
    "storedWasteKind": {"type": "Property", "value": "other"},
    "dateLastEmptying": {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": "2026-12-03T08:00:00Z"},
    },
    "address": {
        "type": "Property",
        "value": {"addressLocality": "信義區", "postal": {"code": 110}},
    },
    "tags": {"type": "Property", "value": ["blue", "street"]},
    "refStation": {"type": "Relationship", "object": "urn:ngsi-ld:Device:IT1"},
    "lidOpen": {"type": "Property", "value": False},
}


def ok(q: str) -> bool:
    return ngsi_q.matches(BIN, ngsi_q.parse(q))


@pytest.mark.parametrize(
    "q,expected",
    [
        ("fillingLevel>0.8", True),
        ("fillingLevel>=0.85", True),
        ("fillingLevel<0.85", False),
        ("fillingLevel<=0.85", True),
        ("fillingLevel==0.85", True),
        ("fillingLevel!=0.85", False),
        ("temperature==21", True),
        ("temperature==20..22", True),
        ("temperature==22..30", False),
        ("temperature!=22..30", True),
        ("temperature==1,21,30", True),
        ("temperature!=1,21,30", False),
        ("status==ok", True),
        ('status=="ok"', True),
        ('status==ok,"lidOpen"', True),
        ("status>nb", True),  # strings compare in order
        ("status==1", False),  # a number is not the string
        ("fillingLevel==ok", False),
        ("lidOpen==false", True),
        ("lidOpen==true", False),
        ("lidOpen>false", False),
        ("fillingLevel.observedAt>2026-12-04T09:00:00Z", True),
        ("fillingLevel.observedAt<2026-12-04", False),
        ("fillingLevel.unitCode==C62", True),
        ("dateLastEmptying<2026-12-04T00:00:00Z", True),
        ("dateLastEmptying==2026-12-01..2026-12-03T23:59:59Z", True),
        ('address[addressLocality]=="信義區"', True),
        ("address[postal][code]==110", True),
        ("address[postal.code]==110", True),
        ("address[nope]", False),
        ("tags==street", True),  # a list matches when any member does
        ("tags!=street", False),
        ("tags~=^bl", True),
        ("refStation==urn:ngsi-ld:Device:IT1", True),
        ("fillingLevel", True),
        ("missing", False),
        ("missing!=1", False),
        ("status~=^o.$", True),
        ("status!~=^o.$", False),
        ("status~=(ok|burning)", True),
        ("fillingLevel>0.9|status==ok", True),
        ("fillingLevel>0.9;status==ok", False),
        ("fillingLevel>0.9;status==ok|temperature==21", True),  # ; binds tighter than |
        ("fillingLevel>0.9;(status==ok|temperature==21)", False),
        ("(fillingLevel>0.8;(status==lidOpen|temperature<25))", True),
    ],
)
def test_queries(q: str, expected: bool) -> None:
    assert ok(q) is expected


@pytest.mark.parametrize(
    "q",
    [
        "",
        "fillingLevel==",
        "fillingLevel>",
        "(status==ok",
        "status==ok)",
        "status==ok;",
        "|status==ok",
        "fill-level==1",
        "status>1,2",
        "status<1..2",
        'status=="ok',
        'status==o"k',
        "address[postal==1",
        "status==2026-13-45",
        "status~=(a+)+",
        "status~=(a|b)*c",
        "status~=(?=a)",
        "status~=(a)\\1",
        "status~=.*a.*b.*c",
        "status~=[",
        "status~=a{99999999999}",  # once an OverflowError (a 500)
        "status~=" + "a?" * 9 + "a" * 9,  # exponential without nested groups
        "status~=x{0,99}y{0,99}z{0,99}",
    ],
)
def test_invalid_queries(q: str) -> None:
    with pytest.raises(ngsi_q.QueryError):
        ngsi_q.parse(q)


def test_queries_beyond_the_limits_are_too_complex() -> None:
    with pytest.raises(ngsi_q.TooComplex):
        ngsi_q.parse(";".join(["status==ok"] * (ngsi_q.MAX_TERMS + 1)))
    with pytest.raises(ngsi_q.TooComplex):
        ngsi_q.parse("(" * (ngsi_q.MAX_DEPTH + 1) + "status==ok" + ")" * (ngsi_q.MAX_DEPTH + 1))
    assert ok(";".join(["status==ok"] * ngsi_q.MAX_TERMS))


def test_safe_patterns_still_allow_what_id_patterns_need() -> None:
    for raw in (
        "^urn:ngsi-ld:Device:.*",
        "IT9[0-9]{2}-1:(garbage|recycling_pet)$",
        "(ab)?c+",
        "(?i)^urn:.*?:garbage$",
        "x{,5}y{2}",
    ):
        ngsi_q.safe_pattern(raw)


_ALPHABET = 'abfilnstuvL.[]()";|,=!<>~^$*+?{}0123456789-:TZ\\ '


@given(st.text(alphabet=_ALPHABET, max_size=60))
@settings(max_examples=2000, deadline=None)
def test_any_text_is_a_query_or_a_clear_error(text: str) -> None:
    """Whatever a client sends as q is parsed and evaluated, or refused as invalid or too
    complex: never another exception (which would be a 500)."""
    try:
        node = ngsi_q.parse(text)
    except (ngsi_q.QueryError, ngsi_q.TooComplex):
        return
    ngsi_q.matches(BIN, node)
