"""The pre-filing check, the filed permit and the grant give one joint dig order: they call
one rule (rules.permit.propose_joint_dig). Before, the check placed the unnumbered
"(this application)" ahead of an equally deep works starting the same day (its name sorted
first), while the filed permit, numbered after it, came second."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.roadworks.permits.filing import THIS_APPLICATION
from tests.integration.roadworks.helpers import application, setup_city, square

API = "/api/v1/roadworks"


def _filed_order(check: dict[str, Any], ref: str) -> list[str]:
    return [ref if m == THIS_APPLICATION else m for m in check["joint_dig"]["members"]]


@pytest.mark.parametrize(
    ("depth", "purpose", "expect_first"),
    [
        (1.5, "power", "older"),  # a tie: the one filed first goes first
        (2.0, "power", "newer"),  # deeper goes first
        (2.0, "road", "older"),  # road surface works go last, however deep
    ],
)
def test_check_permit_page_and_grant_agree(
    client: TestClient, platform: Platform, depth: float, purpose: str, expect_first: str
) -> None:
    heads = setup_city(client, platform)
    first = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"])
    assert first.status_code == 201, first.text
    older = first.json()["ref"]

    body = application(
        applicant="taipower", purpose=purpose, depth_m=depth, geometry=square(dx=0.00002)
    )
    checked = client.post(f"{API}/permits/check", json=body, headers=heads["tp.staff"])
    assert checked.status_code == 200, checked.text
    filed = client.post(f"{API}/permits", json=body, headers=heads["tp.staff"])
    assert filed.status_code == 201, filed.text
    newer = filed.json()["ref"]

    promised = _filed_order(checked.json(), newer)
    assert promised[0] == {"older": older, "newer": newer}[expect_first]
    page = filed.json()["joint_dig"]
    assert page["members"] == promised and page["group"] is None
    # Its applicant's staff see the same order on their permit's page.
    mine = client.get(f"{API}/permits/{newer}", headers=heads["tp.staff"]).json()
    assert mine["joint_dig"]["members"] == promised

    granted = client.post(
        f"{API}/permits/{newer}/decision",
        json={"decision": "grant", "joint_dig": True},
        headers=heads["rpic.op"],
    )
    assert granted.status_code == 200, granted.text
    g = granted.json()
    assert g["joint_dig"]["members"] == promised and g["joint_dig"]["group"] == g["joint_group"]
    for n, ref in enumerate(promised, start=1):
        p = client.get(f"{API}/permits/{ref}", headers=heads["rpic.op"]).json()
        assert p["dig_order"] == n
