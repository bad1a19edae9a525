"""The station software is a small box: importing it loads its own code, the pure rules and
the station protocol's schemas, never the server (FastAPI, SQLAlchemy, the route solver)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

KIOSK = [
    "onecity.waste.kiosk.machine",
    "onecity.waste.kiosk.journal",
    "onecity.waste.kiosk.uploader",
    "onecity.waste.kiosk.sim",
    "onecity.waste.kiosk.cli",
]
SERVER = ("fastapi", "sqlalchemy", "pyvrp", "starlette", "alembic", "psycopg")
# What the station may load of onecity: the package itself, its own code, the pure rules and
# the protocol's schemas.
ALLOWED = ("onecity.waste.kiosk", "onecity.waste.rules", "onecity.waste.ledger.schemas")
PARENTS = {"onecity", "onecity.waste", "onecity.waste.ledger"}


def _loaded(module: str) -> list[str]:
    """The modules a fresh interpreter holds after importing `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", KIOSK)
def test_the_kiosk_loads_no_server_code(module: str) -> None:
    loaded = _loaded(module)
    server = sorted({m.split(".")[0] for m in loaded} & set(SERVER))
    outside = sorted(
        m
        for m in loaded
        if m.startswith("onecity")
        and m not in PARENTS
        and not any(m == a or m.startswith(a + ".") for a in ALLOWED)
    )
    assert not server and not outside, (
        f"importing {module} loads server libraries [{', '.join(server)}] and onecity "
        f"modules outside the station software, waste.rules and the protocol schemas "
        f"[{', '.join(outside)}]"
    )
