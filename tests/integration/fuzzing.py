"""Fuzzing one API operation from the app's own OpenAPI schema (schemathesis): nothing a client
sends may cause a 5xx, and every 4xx carries the platform's error body. Shared by the module
fuzz tests; the core's own (tests/integration/core/test_schemathesis.py) keeps its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from onecity.app import create_app
from tests.conftest import make_settings
from tests.integration.core.test_schemathesis import error_body_on_4xx


def operations(modules: str, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(METHOD, path) of every route under `prefixes`, read from the app, so a new route is
    fuzzed without anyone listing it."""
    doc = create_app(make_settings("sqlite:///:memory:", modules=modules)).openapi()
    return [
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m in ops
        if path.startswith(prefixes)
    ]


def fuzz(
    schema: Any,
    method: str,
    path: str,
    mode: GenerationMode,
    authorization: str,
    *,
    max_examples: int,
    tweak: Callable[[Any], None] | None = None,
) -> None:
    """Run `max_examples` generated cases of one operation as the given user."""
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if tweak is not None:
            tweak(case)
        case.headers = {**(case.headers or {}), "Authorization": authorization}
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        error_body_on_4xx(response, case)

    try:
        run()
    except Unsatisfiable:
        pytest.skip(f"no {mode.value} case can be expressed for {method} {path}")
