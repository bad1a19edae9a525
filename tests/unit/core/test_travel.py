"""Travel matrices: great circle x detour at the hour's speed (Taipei's garbage trucks, from
the city profile's [travel] section), the section's checks, and OSRM's table service against a
small real HTTP server that answers in OSRM's documented shape."""

from __future__ import annotations

import json
import math
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from onecity.core.geo import CityProfile
from onecity.core.travel import CrowFlies, OsrmTable, TravelError, TravelProfile, provider

TAIPEI = TravelProfile.of(CityProfile.load("taipei"))
TAIPEI_SPEEDS_KMH = TAIPEI.speeds_for("garbage_truck")
TZ = ZoneInfo("Asia/Taipei")


def taipei_trucks(detour: float | None = None) -> CrowFlies:
    return CrowFlies(TAIPEI_SPEEDS_KMH, TAIPEI.detour if detour is None else detour, TZ)


TAIPEI_101 = (121.564468, 25.033964)  # (lon, lat)
TAIPEI_MAIN_STATION = (121.517081, 25.047924)


def law_of_cosines_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The same sphere (IUGG mean radius), a different formula from the module's haversine."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    c = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return 6_371_008.8 * math.acos(min(1.0, c))


# -- CrowFlies -------------------------------------------------------------------------------


def test_great_circle_taipei_101_to_main_station() -> None:
    straight = law_of_cosines_m(TAIPEI_101, TAIPEI_MAIN_STATION)
    assert 5000 < straight < 5100  # about 5.05 km across the city, as a map shows
    at = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 03:00 in Taipei: 30 km/h
    metres, seconds = taipei_trucks(detour=1.0).matrix([TAIPEI_101, TAIPEI_MAIN_STATION], at)
    assert metres.dtype == np.int64 and seconds.dtype == np.int64
    assert metres[0, 0] == metres[1, 1] == 0
    assert metres[0, 1] == metres[1, 0] == round(straight)
    assert seconds[0, 1] == round(straight / (30 / 3.6))


def test_detour_and_the_hours_speed() -> None:
    straight = law_of_cosines_m(TAIPEI_101, TAIPEI_MAIN_STATION)
    rush = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Taipei, 15 km/h
    metres, seconds = taipei_trucks().matrix([TAIPEI_101, TAIPEI_MAIN_STATION], rush)
    assert metres[0, 1] == round(straight * 1.35)
    assert abs(seconds[0, 1] - straight * 1.35 / (15 / 3.6)) <= 1
    night = taipei_trucks().matrix(
        [TAIPEI_101, TAIPEI_MAIN_STATION], datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    )
    assert night[0][0, 1] == metres[0, 1]
    assert night[1][0, 1] * 2 == pytest.approx(seconds[0, 1], abs=2)  # 30 km/h against 15


def test_a_shift_drives_at_the_harmonic_mean_of_its_hours() -> None:
    cf = taipei_trucks()
    start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # 06:00-14:00 local
    end = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    hours = TAIPEI_SPEEDS_KMH[6:14]
    assert cf.speed_kmh(start, end) == pytest.approx(len(hours) / sum(1 / v for v in hours))
    assert cf.speed_kmh(start) == TAIPEI_SPEEDS_KMH[6]


def test_a_taipei_time_gets_the_speed_of_its_own_hour() -> None:
    """Callers (plan_build.origin_of, collection_sim.FIRST_DAY) pass Asia/Taipei datetimes."""
    eight = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Taipei"))
    assert taipei_trucks().speed_kmh(eight) == TAIPEI_SPEEDS_KMH[8]


def test_crowflies_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="detour"):
        taipei_trucks(detour=0.9)
    with pytest.raises(ValueError, match="24"):
        CrowFlies((20.0,) * 23, 1.35, TZ)


def test_taipei_profile_keeps_the_speeds_the_planner_always_used() -> None:
    assert TAIPEI.detour == 1.35
    assert (
        *(28.0, 30.0, 30.0, 30.0, 30.0, 27.0),
        *(22.0, 16.0, 15.0, 18.0, 20.0, 20.0),
        *(19.0, 20.0, 20.0, 19.0, 17.0, 15.0),
        *(15.0, 17.0, 20.0, 23.0, 25.0, 27.0),
    ) == TAIPEI_SPEEDS_KMH
    assert TAIPEI.crow_flies("garbage_truck") == taipei_trucks()


# -- OsrmTable against a real HTTP server ---------------------------------------------------------


def fake_metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Asymmetric (one-way streets), so a transposed block would show."""
    return abs(a[0] - b[0]) * 1e5 + abs(a[1] - b[1]) * 2e5 + (7.0 if a < b else 0.0)


@dataclass
class Osrm:
    mode: str = "ok"  # ok | notable | null | html
    requests: list[dict[str, object]] = field(default_factory=list)
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    state: Osrm

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        u = urlsplit(self.path)
        parts = u.path.split("/")  # "", "table", "v1", profile, coordinates
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if parts[1:3] != ["table", "v1"] or len(parts) != 5:
            self._send(
                400, json.dumps({"code": "InvalidUrl", "message": "URL string malformed"}).encode()
            )
            return
        pts = [(float(c.split(",")[0]), float(c.split(",")[1])) for c in parts[4].split(";")]
        self.state.requests.append({"profile": parts[3], "points": pts, **q})
        if self.state.mode == "html":
            self._send(502, b"<html>Bad Gateway</html>", "text/html")
            return
        if self.state.mode == "notable":
            body = {"code": "NoTable", "message": "No table found"}
            self._send(400, json.dumps(body).encode())
            return
        src = [int(i) for i in q["sources"].split(";")]
        dst = [int(i) for i in q["destinations"].split(";")]
        metres = [[round(fake_metres(pts[i], pts[j]), 1) for j in dst] for i in src]
        dist: list[list[float | None]] = [list(row) for row in metres]
        dur: list[list[float | None]] = [[round(d / 10, 1) for d in row] for row in metres]
        if self.state.mode == "null":
            dist[0][-1] = None
            dur[0][-1] = None
        body2 = {
            "code": "Ok",
            "distances": dist,
            "durations": dur,
            "sources": [{"location": list(pts[i]), "name": ""} for i in src],
            "destinations": [{"location": list(pts[j]), "name": ""} for j in dst],
        }
        self._send(200, json.dumps(body2).encode())


@pytest.fixture
def osrm() -> Iterator[Osrm]:
    state = Osrm()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


POINTS = [(121.50 + 0.01 * k, 25.02 + 0.003 * (k % 4)) for k in range(7)]
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def expected() -> tuple[np.ndarray, np.ndarray]:
    d = np.array([[fake_metres(a, b) if a != b else 0 for b in POINTS] for a in POINTS])
    d = np.round(d, 1)
    return np.rint(d).astype(np.int64), np.rint(np.round(d / 10, 1)).astype(np.int64)


def test_osrm_table_in_one_request(osrm: Osrm) -> None:
    metres, seconds = OsrmTable(osrm.url).matrix(POINTS, NOON)
    want_m, want_s = expected()
    assert (metres == want_m).all() and (seconds == want_s).all()
    assert len(osrm.requests) == 1
    req = osrm.requests[0]
    assert req["profile"] == "driving"
    assert req["annotations"] == "distance,duration"
    assert req["sources"] == "0;1;2;3;4;5;6"
    assert req["destinations"] == "7;8;9;10;11;12;13"


def test_osrm_table_in_blocks_when_block_is_smaller_than_n(osrm: Osrm) -> None:
    metres, seconds = OsrmTable(osrm.url, profile="truck", block=3).matrix(POINTS, NOON)
    want_m, want_s = expected()
    assert (metres == want_m).all() and (seconds == want_s).all()
    assert len(osrm.requests) == 9  # ceil(7 / 3) ** 2 blocks
    assert all(r["profile"] == "truck" for r in osrm.requests)
    assert max(len(r["points"]) for r in osrm.requests) <= 6  # type: ignore[arg-type]
    last = osrm.requests[-1]  # rows 6..6 x cols 6..6
    assert last["sources"] == "0" and last["destinations"] == "1"


def test_osrm_error_code_becomes_a_travel_error(osrm: Osrm) -> None:
    osrm.mode = "notable"
    with pytest.raises(TravelError, match="OSRM refused the table: NoTable No table found"):
        OsrmTable(osrm.url).matrix(POINTS, NOON)


def test_osrm_null_entry_means_no_road(osrm: Osrm) -> None:
    osrm.mode = "null"
    with pytest.raises(TravelError, match="no road between some of the sites"):
        OsrmTable(osrm.url, block=4).matrix(POINTS, NOON)


def test_osrm_answer_without_json(osrm: Osrm) -> None:
    osrm.mode = "html"
    with pytest.raises(TravelError, match="OSRM answered 502 without JSON"):
        OsrmTable(osrm.url).matrix(POINTS, NOON)


def test_osrm_not_answering() -> None:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(TravelError, match=f"OSRM at {url} did not answer"):
        OsrmTable(url, timeout_s=2).matrix(POINTS, NOON)


# -- the profile's [travel] section, checked -----------------------------------------------------


def profile_with(tmp_path: Path, travel: str) -> CityProfile:
    """A copy of Taipei's profile whose [travel] section is `travel`."""
    folder = tmp_path / "city"
    shutil.copytree(CityProfile.load("taipei").folder, folder)
    toml = (folder / "city.toml").read_text(encoding="utf-8")
    (folder / "city.toml").write_text(toml.split("\n[travel]")[0] + travel, encoding="utf-8")
    return CityProfile.load(str(folder))


HOURS_OF_20 = "[" + ", ".join(["20.0"] * 24) + "]"


@pytest.mark.parametrize(
    ("travel", "message"),
    [
        ("", r"\[travel\] is missing"),
        ("\n[travel]\ndetour = 0.8\n", r"\[travel\] detour = 0.8: must be at least 1"),
        ('\n[travel]\ndetour = "far"\n', r"\[travel\] detour must be a number"),
        ("\n[travel]\ndetour = 1.3\n", r"\[travel.speeds_kmh\] is missing"),
        (
            "\n[travel]\ndetour = 1.3\n[travel.speeds_kmh]\ngarbage_truck = [20.0, 21.0]\n",
            r"\[travel.speeds_kmh\] garbage_truck: needs 24 hourly speeds \(0-23 h\), got 2",
        ),
        (
            "\n[travel]\ndetour = 1.3\n[travel.speeds_kmh]\ngarbage_truck = "
            + HOURS_OF_20.replace("20.0]", "0]")
            + "\n",
            r"\[travel.speeds_kmh\] garbage_truck: every hourly speed must be positive",
        ),
    ],
)
def test_a_broken_travel_section_names_its_key(tmp_path: Path, travel: str, message: str) -> None:
    city = profile_with(tmp_path, travel)
    with pytest.raises(ValueError, match=message):
        TravelProfile.of(city)


def test_a_vehicle_class_the_profile_lacks_is_named(tmp_path: Path) -> None:
    city = profile_with(
        tmp_path, f"\n[travel]\ndetour = 1.2\n[travel.speeds_kmh]\nbus = {HOURS_OF_20}\n"
    )
    travel = TravelProfile.of(city)
    assert travel.crow_flies("bus").speed_kmh(NOON) == 20.0
    with pytest.raises(
        ValueError, match=r"\[travel.speeds_kmh\] has no 'garbage_truck' \(it lists bus\)"
    ):
        travel.crow_flies("garbage_truck")


def test_provider_uses_osrm_when_the_city_runs_one(tmp_path: Path) -> None:
    assert isinstance(provider(CityProfile.load("taipei"), "garbage_truck"), CrowFlies)
    osrm = provider(CityProfile.load("taipei"), "garbage_truck", "http://osrm.invalid")
    assert isinstance(osrm, OsrmTable)
    # A city with a server needs no [travel] section, but a broken one still stops it.
    assert isinstance(provider(profile_with(tmp_path, ""), "x", "http://osrm.invalid"), OsrmTable)
    with pytest.raises(ValueError, match="detour"):
        provider(profile_with(tmp_path / "b", "\n[travel]\ndetour = 0.5\n"), "x", "http://o")
