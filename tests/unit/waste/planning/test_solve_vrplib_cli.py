"""`onecity waste solve-vrplib`: the benchmark entry point, run as the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
DATA = ROOT / "tests" / "data" / "cvrplib"
# the console script pip installed next to this interpreter (onecity has no __main__)
ONECITY = [sys.executable, "-c", "from onecity.cli import app; app()"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ONECITY, "waste", "solve-vrplib", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_solves_a_n32_k5_to_the_optimum_and_ends_with_json() -> None:
    out = run(str(DATA / "A-n32-k5.vrp"), "--seconds", "1", "--seed", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"cost": 784, "routes": 5}
    assert "A-n32-k5" in out.stdout and "best known 784" in out.stdout


def test_solomon_costs_are_in_the_instances_units() -> None:
    out = run(str(DATA / "C101.txt"), "--seconds", "1")
    assert out.returncode == 0, out.stderr
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["routes"] == 10
    assert 827.3 <= last["cost"] <= 827.3 * 1.01


def test_a_missing_file_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    out = run(str(tmp_path / "nope.vrp"), "--seconds", "1")
    assert out.returncode == 2
    assert "no such file" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_a_file_that_is_not_an_instance_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.vrp"
    bad.write_text("NAME : bad\nTYPE : CVRP\nDIMENSION : 3\nNODE_COORD_SECTION\n1 0 0\nEOF\n")
    out = run(str(bad), "--seconds", "1")
    assert out.returncode == 2
    assert "not a VRPLIB or Solomon instance" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
