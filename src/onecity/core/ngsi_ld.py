"""The NGSI-LD HTTP conventions (ETSI GS CIM 009 §6.3) shared by its routes: errors as
ProblemDetails with the specification's error types, content negotiation, JSON-LD contexts
named in a Link header, and paging links.

Contexts: a request's Link context must be one this server knows (any version of the
NGSI-LD core context, or a Smart Data Models context): a remote context is never fetched (no
network at run time), so an unknown one is answered 503 LdContextNotAvailable, as the
specification answers a context it cannot retrieve. The entities' terms mean the same under
every context known here, so a short name is matched as it is; a full IRI is matched by the
NGSI-LD default vocabulary or the Smart Data Models namespace of the type."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from onecity.core.errors import AppError, Invalid

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SDM_VOCAB = re.compile(r"^https://smartdatamodels\.org/(dataModel\.[A-Za-z]+/)?([A-Za-z_]\w*)$")
_KNOWN_CONTEXTS = (
    re.compile(r"^https://uri\.etsi\.org/ngsi-ld/(v1/)?ngsi-ld-core-context(-v1\.\d+)?\.jsonld$"),
    re.compile(
        r"^https://raw\.githubusercontent\.com/smart-data-models/"
        r"(dataModel\.[A-Za-z]+|data-models)/master/context\.jsonld$"
    ),
    re.compile(r"^https://smartdatamodels\.org/context\.jsonld$"),
)
JSON, LD_JSON, PROBLEM = "application/json", "application/ld+json", "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}
# The specification's error types (Table 6.3.2-1 gives each its HTTP status).
_TYPES = {
    "InvalidRequest",
    "BadRequestData",
    "AlreadyExists",
    "OperationNotSupported",
    "ResourceNotFound",
    "TooComplexQuery",
    "TooManyResults",
    "LdContextNotAvailable",
}


class BadRequestData(AppError):
    """A malformed query parameter (NGSI-LD's name for it; 400)."""

    status = 400
    code = "BadRequestData"


class OperationNotSupported(AppError):
    """Valid NGSI-LD this server does not implement; the specification maps it to 422."""

    status = 422
    code = "OperationNotSupported"


class TooComplexQuery(AppError):
    status = 403
    code = "TooComplexQuery"


class TooManyResults(AppError):
    status = 403
    code = "TooManyResults"


class LdContextNotAvailable(AppError):
    status = 503
    code = "LdContextNotAvailable"


class NotAcceptable(AppError):
    status = 406
    code = "NotAcceptable"


class ProblemDetails(BaseModel):
    """The error body of every NGSI-LD route (RFC 7807, `application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str
    error: str
    field: str | None


def _documented(when: str) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    return {"model": ProblemDetails, "description": when, "content": {PROBLEM: {"schema": ref}}}


# What every NGSI-LD route may answer besides 200, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {LD_JSON: {"schema": {}}}, "description": "as JSON or JSON-LD (Accept)"},
    400: _documented("BadRequestData: a malformed parameter"),
    401: _documented("not logged in"),
    403: _documented("forbidden, TooComplexQuery or TooManyResults"),
    404: _documented("ResourceNotFound"),
    406: _documented("NotAcceptable: ask for application/json or application/ld+json"),
    422: _documented("OperationNotSupported: valid NGSI-LD not implemented here"),
    503: _documented("LdContextNotAvailable: a Link context this server does not have"),
}


def problem(status: int, code: str, detail: str, field: str | None) -> JSONResponse:
    """An RFC 7807 ProblemDetails body; `error` and `field` keep the platform's own names."""
    body = {
        "type": ERRORS + code if code in _TYPES else "about:blank",
        "title": _TITLES.get(status, "Error") if code not in _TYPES else _spaced(code),
        "status": status,
        "detail": detail,
        "error": code,
        "field": field,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status, headers, media_type=PROBLEM)


def _spaced(code: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", code)


class NgsiRoute(APIRoute):
    """A route whose every error, its dependencies' included, is a ProblemDetails, and whose
    bad parameters are 400 BadRequestData (not the platform's 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Invalid as e:
                return problem(400, "BadRequestData", e.detail, e.field)
            except AppError as e:
                return problem(e.status, e.code, e.detail, e.field)
            except RequestValidationError as e:
                first = (e.errors() or [{}])[0]
                field = ".".join(str(x) for x in first.get("loc", ())[1:]) or None
                detail = f"{field or 'request'}: {first.get('msg', 'invalid')}"
                return problem(400, "BadRequestData", detail, field)

        return run


def negotiate(request: Request) -> str:
    """application/ld+json or application/json, by the Accept header (json when absent or
    `*/*`); anything else is 406."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return JSON
    best, best_q = None, 0.0
    for part in accept.split(","):
        media, *params = (x.strip() for x in part.split(";"))
        q = 1.0
        for p in params:
            k, _, v = p.partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        media = media.lower()
        got = {LD_JSON: LD_JSON, JSON: JSON, "*/*": JSON, "application/*": JSON}.get(media)
        if (got and q > best_q) or (got == LD_JSON and q == best_q and best == JSON and q > 0):
            best, best_q = got, q
    if best is None:
        raise NotAcceptable(
            f"cannot answer as {accept[:100]}: ask for {JSON} or {LD_JSON}", field="Accept"
        )
    return best


def request_context(request: Request) -> str | None:
    """The context the request names in its Link header, if any; 503 when it is one this
    server does not know, since it never fetches one."""
    link = request.headers.get("link")
    if not link:
        return None
    for part in link.split(","):
        m = re.match(r"\s*<([^>]*)>(.*)$", part)
        if not m or CONTEXT_REL not in m.group(2):
            continue
        url = m.group(1).strip()
        if any(k.match(url) for k in _KNOWN_CONTEXTS):
            return url
        raise LdContextNotAvailable(
            f"the @context {url[:200]} is not one this server has: it does not fetch remote "
            f"contexts. Send the NGSI-LD core context ({CORE_CONTEXT}) or a Smart Data Models "
            "context, or give types and attributes as full IRIs",
            field="Link",
        )
    return None


# NGSI-LD query parameters this server does not evaluate: refused rather than ignored, so a
# client never takes unfiltered results for filtered ones.
_UNSUPPORTED_PARAMS = (
    "pick",
    "omit",
    "scopeQ",
    "lang",
    "csf",
    "datasetId",
    "expandValues",
    "local",
    "via",
    "join",
    "joinLevel",
    "containedBy",
    "collect",
    "entityMap",
    "geometryProperty",
    "orderBy",
    "contextSourceId",
)
_OPTIONS = {"keyValues", "simplified", "normalized"}


def key_values_asked(request: Request, options: str | None) -> bool:
    """Whether the simplified (keyValues) form is asked for; 422 OperationNotSupported for
    an NGSI-LD parameter or option this server does not evaluate."""
    for name in _UNSUPPORTED_PARAMS:
        if name in request.query_params:
            raise OperationNotSupported(f"the parameter {name} is not supported here", field=name)
    given = f"{options or ''},{request.query_params.get('format', '')}"  # format: NGSI-LD 1.7+
    asked = {o.strip() for o in given.split(",") if o.strip()}
    if asked - _OPTIONS:
        raise OperationNotSupported(
            f"options {', '.join(sorted(asked - _OPTIONS))[:100]} not supported here; "
            "keyValues (or simplified) and normalized are",
            field="options",
        )
    return bool(asked & {"keyValues", "simplified"})


def term(name: str) -> str:
    """The short name a type or attribute given as an IRI stands for here: an IRI in the
    NGSI-LD default vocabulary or a Smart Data Models namespace becomes its last segment;
    any other IRI stays as it is (and so matches nothing)."""
    if name.startswith(DEFAULT_VOCAB):
        return name[len(DEFAULT_VOCAB) :]
    m = SDM_VOCAB.match(name)
    return m.group(2) if m else name


def render(request: Request, body: Any, media: str, headers: dict[str, str]) -> JSONResponse:
    """The entity (or list of them) in the negotiated form: @context in the body for
    JSON-LD, in a Link header for plain JSON."""
    entities = body if isinstance(body, list) else [body]
    ctx = request_context(request) or CORE_CONTEXT
    out = []
    for e in entities:
        e = dict(e)
        own = e.pop("@context", None)
        if media == LD_JSON:
            e["@context"] = own if own is not None and ctx == CORE_CONTEXT else ctx
        out.append(e)
    resp = JSONResponse(
        out if isinstance(body, list) else out[0], headers=headers, media_type=media
    )
    if media == JSON:
        resp.headers.append("Link", f'<{ctx}>; rel="{CONTEXT_REL}"; type="{LD_JSON}"')
    return resp


def page_links(request: Request, resp: Response, offset: int, limit: int, total: int) -> None:
    """Link rel="next" / rel="prev" to the neighbouring pages, keeping every other parameter."""
    if limit <= 0:
        return
    if offset + limit < total:
        url = request.url.include_query_params(offset=offset + limit, limit=limit)
        resp.headers.append("Link", f'<{url.path}?{url.query}>; rel="next"')
    if offset > 0:
        url = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        resp.headers.append("Link", f'<{url.path}?{url.query}>; rel="prev"')
