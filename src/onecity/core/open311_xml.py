"""Open311 GeoReport v2 documents in XML, the spec's required format, built from the same
dicts and lists the JSON answers are made of. Only written, never parsed: requests come
form-encoded, so no client XML is ever read."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import Response

MEDIA_TYPE = "text/xml; charset=utf-8"
# A list's element name -> the name of each of its items, as the spec's examples have them.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry at all, escaped or not (C0 controls but tab, newline and
# carriage return; lone surrogates; U+FFFE, U+FFFF). Left out rather than breaking the document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(el, str(key), inner)
    elif isinstance(value, list | tuple):
        item = ITEMS.get(name, "item")
        for inner in value:
            _fill(el, item, inner)
    else:
        el.text = _text(value)


def document(root: str, content: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """`content` (a dict of fields, or a list of items) under the element `root`, with the
    XML declaration the spec asks for; text is escaped by ElementTree."""
    el = ET.Element(root)
    if isinstance(content, Mapping):
        for key, value in content.items():
            _fill(el, str(key), value)
    else:
        item = ITEMS[root]
        for value in content:
            _fill(el, item, value)
    data = ET.tostring(el, encoding="utf-8", xml_declaration=True)
    assert isinstance(data, bytes)  # an encoding given: bytes, not str
    return data


def response(
    root: str,
    content: Mapping[str, Any] | Sequence[Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(document(root, content), status, headers, media_type=MEDIA_TYPE)
