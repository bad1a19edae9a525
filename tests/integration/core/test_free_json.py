"""Free-form JSON fields are bounded at the edge: a deeply nested or huge document is refused
with a 422 naming the field, and what is stored stays readable for everybody."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        doc = {"a": doc}
    return doc


def _device(device_id: str, metadata: Any) -> dict[str, Any]:
    return {
        "id": device_id,
        "name": "Bin",
        "type": "litter_bin",
        "department": "epb",
        "metadata": metadata,
    }


def test_deep_metadata_is_refused_and_the_registry_still_answers(
    client: TestClient, admin: dict[str, str]
) -> None:
    ok = client.post("/api/v1/devices", headers=admin, json=_device("bin-ok", _nested(16)))
    assert ok.status_code == 201, ok.text
    # json.dumps recurses too: build the 256-deep body by hand.
    deep = '{"a": ' * 255 + '{"leaf": 1}' + "}" * 255
    body = json.dumps(_device("bin-deep", None)).replace('"metadata": null', f'"metadata": {deep}')
    r = client.post(
        "/api/v1/devices", headers={**admin, "content-type": "application/json"}, content=body
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "metadata"
    r = client.post("/api/v1/devices", headers=admin, json=_device("bin-17", _nested(17)))
    assert r.status_code == 422 and r.json()["field"] == "metadata", r.text
    patch = client.patch("/api/v1/devices/bin-ok", headers=admin, json={"metadata": _nested(40)})
    assert patch.status_code == 422 and patch.json()["field"] == "metadata", patch.text
    big = {"notes": "x" * 20_000}
    r = client.post("/api/v1/devices", headers=admin, json=_device("bin-big", big))
    assert r.status_code == 422 and r.json()["field"] == "metadata", r.text
    r = client.post("/api/v1/devices", headers=admin, json=_device("bin-key", {"k" * 300: 1}))
    assert r.status_code == 422 and r.json()["field"] == "metadata", r.text
    listed = client.get("/api/v1/devices", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == ["bin-ok"]
    assert client.get("/api/v1/devices/bin-ok", headers=admin).status_code == 200
