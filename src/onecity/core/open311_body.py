"""The body of an Open311 POST /requests, as the spec sends it (a form) or as JSON with the
same names, turned into field -> values; a report's photo is kept aside on request.state."""

from __future__ import annotations

import json

from fastapi import Request
from starlette.datastructures import UploadFile

from onecity.core import media
from onecity.core.errors import Invalid, UnsupportedMediaType


async def submitted(request: Request) -> dict[str, list[str]]:
    """The POST body as field -> values, from a form (as the spec sends it) or from JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, list[str]] = {}
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=1, max_part_size=media.MAX_BYTES + 1)
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "media":
                    raise Invalid("the only file a report takes is its photo, 'media'", field=name)
                # Read at most one byte past the limit: media.check refuses anything larger.
                request.state.media = await value.read(media.MAX_BYTES + 1)
                continue
            fields.setdefault(name, []).append(value)
        return fields
    if kind == "application/json" or kind.endswith("+json"):
        try:
            doc = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise Invalid("the request body is not valid JSON") from None
        return _flatten_json(doc)
    raise UnsupportedMediaType(
        "send the request as application/x-www-form-urlencoded (the spec) or application/json"
    )


def _scalar(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise Invalid(f"'{name}' must be a string or a number", field=name)


def _flatten_json(doc: object) -> dict[str, list[str]]:
    if not isinstance(doc, dict):
        raise Invalid("the JSON body must be an object of the spec's fields")
    fields: dict[str, list[str]] = {}
    for name, value in doc.items():
        if value is None:
            continue
        if name == "attribute" and isinstance(value, dict):
            for code, answer in value.items():
                answers = answer if isinstance(answer, list) else [answer]
                key = f"attribute[{code}]"
                fields[key] = [_scalar(a, key) for a in answers if a is not None]
        elif isinstance(value, list):
            fields[name] = [_scalar(v, name) for v in value]
        else:
            fields[name] = [_scalar(value, name)]
    return fields
