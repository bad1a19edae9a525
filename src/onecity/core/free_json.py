"""Bounds for free-form JSON a client may send (device metadata, parameters, attributes).

A document is stored as given and served back to everybody, so one that is nested too deeply
or is too large breaks every reader later (serialisers have depth limits of their own). Each
such request field is typed `FreeJson` (an object), `FreeJsonValue` (any JSON value) or
`GeoJsonIn` (a geometry: larger), and the document is refused at the edge with a 422 naming
the field."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

MAX_DEPTH = 16  # objects and arrays inside one another, the outermost counting as 1
MAX_BYTES = 16 * 1024  # serialised as compact JSON
MAX_KEY = 128  # characters in one object key
# A GeoJSON geometry (a trench along a street, a district polygon) is legitimately larger.
MAX_GEOMETRY_BYTES = 1024 * 1024


def check_free_json(doc: Any, max_bytes: int = MAX_BYTES) -> Any:
    """`doc` unchanged if it is within the bounds; ValueError (a 422 on the field) if not."""
    # Iterative on purpose: the document may be nested far deeper than Python's stack allows.
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            for k in node:
                if not isinstance(k, str):
                    raise ValueError("object keys must be strings")
                if len(k) > MAX_KEY:
                    raise ValueError(f"an object key is longer than {MAX_KEY} characters")
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((c, depth + 1) for c in children)
    try:
        size = len(orjson.dumps(doc))
    except (TypeError, orjson.JSONEncodeError) as e:
        raise ValueError(f"not a JSON document: {e}") from None
    if size > max_bytes:
        raise ValueError(f"larger than {max_bytes // 1024} kB as JSON ({size} bytes)")
    return doc


def _check_geometry(doc: Any) -> Any:
    return check_free_json(doc, MAX_GEOMETRY_BYTES)


FreeJson = Annotated[dict[str, Any], AfterValidator(check_free_json)]
FreeJsonValue = Annotated[Any, AfterValidator(check_free_json)]
# A GeoJSON object a client sends (its shape is checked by the service): bounded the same way.
GeoJsonIn = Annotated[dict[str, Any], AfterValidator(_check_geometry)]
