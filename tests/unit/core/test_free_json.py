"""The bounds of free-form JSON: depth, size and keys, checked without recursion."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from onecity.core.free_json import MAX_DEPTH, FreeJson, FreeJsonValue, GeoJsonIn


class _Body(BaseModel):
    meta: FreeJson = {}
    anything: FreeJsonValue = None
    geometry: GeoJsonIn | None = None


def _nested(depth: int, *, arrays: bool = False) -> Any:
    doc: Any = 1
    for _ in range(depth):
        doc = [doc] if arrays else {"a": doc}
    return doc


@pytest.mark.parametrize("arrays", [False, True])
def test_depth_is_bounded_even_far_beyond_the_stack(arrays: bool) -> None:
    assert _Body(anything=_nested(MAX_DEPTH, arrays=arrays))
    with pytest.raises(ValidationError) as e:
        _Body(anything=_nested(MAX_DEPTH + 1, arrays=arrays))
    assert e.value.errors()[0]["loc"] == ("anything",)
    with pytest.raises(ValidationError):
        _Body(anything=_nested(100_000, arrays=arrays))  # no RecursionError


def test_size_and_keys_are_bounded() -> None:
    assert _Body(meta={"notes": "x" * 16_000})
    with pytest.raises(ValidationError) as e:
        _Body(meta={"notes": "x" * 17_000})
    assert e.value.errors()[0]["loc"] == ("meta",)
    with pytest.raises(ValidationError):
        _Body(meta={"k" * 129: 1})
    with pytest.raises(ValidationError):
        _Body(meta={"n": 2**70})  # not representable in JSON readers' 64-bit integers
    # A geometry may be larger (a long trench), but not without limit.
    line = {"type": "LineString", "coordinates": [[121.5, 25.0]] * 2000}
    assert _Body(geometry=line)
    with pytest.raises(ValidationError):
        _Body(geometry={"type": "LineString", "coordinates": [[121.5, 25.0]] * 100_000})
