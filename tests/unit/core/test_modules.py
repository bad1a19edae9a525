"""Module loading: dependency checks and order, without touching real modules."""

from __future__ import annotations

import sys
import types

import pytest

from onecity.core.modules import Module, load


def _register(name: str, module: Module | None) -> None:
    m = types.ModuleType(f"onecity.{name}.module")
    if module is not None:
        m.MODULE = module  # type: ignore[attr-defined]
    sys.modules[f"onecity.{name}.module"] = m


@pytest.fixture(autouse=True)
def _fake_modules() -> None:
    _register("fake_a", Module("fake_a"))
    _register("fake_b", Module("fake_b", depends_on=("fake_a",)))
    _register("fake_none", None)


def test_dependencies_come_first() -> None:
    assert [m.name for m in load("fake_b, fake_a")] == ["fake_a", "fake_b"]


def test_missing_dependency_is_named() -> None:
    with pytest.raises(ValueError, match=r"fake_b.*fake_a"):
        load("fake_b")


def test_package_without_module_is_refused() -> None:
    with pytest.raises(ValueError, match="no MODULE"):
        load("fake_none")


def test_nothing_enabled() -> None:
    assert load("") == []
