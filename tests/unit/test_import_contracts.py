"""The import-linter contracts in pyproject.toml cover every package under src/onecity: core
and the web shell forbid `onecity.*` (so a module added tomorrow is forbidden to them without
an edit), and each domain module has its own contract forbidding `onecity.*` (every other
module, the shell, the CLI and the app; core and Settings let through by ignore_imports)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "onecity"
# Top-level packages that are not domain modules: the platform, the shell, and data folders.
NOT_MODULES = {"core", "web", "cities", "demo_data"}


def _contracts() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _forbidding_everything(source: str) -> list[dict[str, Any]]:
    return [
        c
        for c in _contracts()
        if c["type"] == "forbidden"
        and source in c["source_modules"]
        and "onecity.*" in c["forbidden_modules"]
    ]


def test_core_and_the_shell_forbid_every_top_level_package_by_wildcard() -> None:
    for source in ("onecity.core", "onecity.web"):
        assert _forbidding_everything(source), f"{source}: no contract forbids onecity.*"


def test_every_domain_module_has_a_contract_forbidding_the_others() -> None:
    modules = sorted(
        p.name
        for p in PACKAGE.iterdir()
        if (p / "__init__.py").is_file() and p.name not in NOT_MODULES
    )
    assert {"waste", "roadworks"} <= set(modules)
    missing = [m for m in modules if not _forbidding_everything(f"onecity.{m}")]
    assert not missing, (
        f"no import-linter contract forbids onecity.* to {missing}: copy the waste contract "
        "in pyproject.toml"
    )
