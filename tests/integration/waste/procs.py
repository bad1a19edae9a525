"""Real processes for the crash tests: the OneCity server (uvicorn, killable with SIGKILL and
restartable on the same port), `onecity kiosk run` stations, a TCP proxy whose network can be
cut, and plain readers of a kiosk's journal and wallet (SQLite files).

Every process starts in its own session (process group) and is registered with a `Fleet`,
which kills every group it started when the test ends, passed or failed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the process group `proc` leads (it was started with start_new_session)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def onecity_command() -> list[str]:
    """The `onecity` entry point of the interpreter running the tests."""
    script = Path(sys.executable).with_name("onecity")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from onecity.cli import app; app()"]


@dataclass
class Fleet:
    """Every process a test started; `close` kills what is still running, by group."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def spawn(self, args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = open(log, "ab")  # noqa: SIM115 (closed by close())
        self.logs.append(out)
        proc = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for p in self.procs:
            kill_group(p)
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        for f in self.logs:
            f.close()


@contextlib.contextmanager
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    try:
        yield f
    finally:
        f.close()


class Server:
    """`uvicorn onecity.app:create_app --factory` with the waste module, on a fixed port so
    that a restart is found where the stations left it."""

    def __init__(self, fl: Fleet, db_url: str, port: int, log: Path) -> None:
        self.fleet = fl
        self.db_url = db_url
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self, timeout_s: float = 60.0) -> None:
        env = dict(
            os.environ,
            ONECITY_DATABASE_URL=self.db_url,
            ONECITY_MODULES="waste",
            ONECITY_ENVIRONMENT="test",
            ONECITY_TOTP_REQUIRED_ROLES="",
        )
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "onecity.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.proc = self.fleet.spawn(args, self.log, env)
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {timeout_s:g} s; see {self.log}")
            time.sleep(0.1)

    def sigkill(self) -> None:
        """Kill the server the hard way: no shutdown, requests in flight die with it."""
        assert self.proc is not None and self.proc.poll() is None, "the server is not running"
        kill_group(self.proc, signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1


def kiosk_args(
    station: str,
    server: str,
    journal: Path,
    wallet: Path,
    *,
    cards: int,
    card_balance: int,
    sessions: int,
    speed: float,
    drain_seconds: float,
    seed: int,
    rate: float | None = None,
) -> list[str]:
    args = [
        *onecity_command(),
        "kiosk",
        "run",
        "--station",
        station,
        "--server",
        server,
        "--journal",
        str(journal),
        "--wallet",
        str(wallet),
        "--cards",
        str(cards),
        "--card-balance",
        str(card_balance),
        "--max-sessions",
        str(sessions),
        "--drain-seconds",
        str(drain_seconds),
        "--speed",
        str(speed),
        "--settle-on-exit",
        "--seed",
        str(seed),
        "--quiet",
    ]
    if rate is not None:
        args += ["--rate", str(rate)]
    return args


def kiosk_env(key: str) -> dict[str, str]:
    """The device key goes in the environment, not on the command line."""
    return dict(os.environ, ONECITY_KIOSK_KEY=key)


# --- the kiosk's files ----------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30)
    db.row_factory = sqlite3.Row
    return db


def journal_count(path: Path, where: str = "1 = 1") -> int:
    """Rows in a (possibly running) kiosk's transactions table."""
    if not path.exists():
        return 0
    db = _connect(path)
    try:
        row = db.execute(f"SELECT COUNT(*) FROM transactions WHERE {where}").fetchone()  # noqa: S608
        return int(row[0])
    except sqlite3.OperationalError:  # the kiosk has not created its tables yet
        return 0
    finally:
        db.close()


@dataclass
class JournalView:
    station: str
    transactions: list[dict[str, Any]]  # payload + upload columns
    intents: list[dict[str, Any]]
    settlements: list[dict[str, Any]]
    state: dict[str, Any]


def read_journal(path: Path) -> JournalView:
    db = _connect(path)
    try:
        state = {r["key"]: json.loads(r["value"]) for r in db.execute("SELECT * FROM state")}
        txns = []
        for r in db.execute("SELECT * FROM transactions ORDER BY terminal_seq"):
            t = dict(r)
            t["payload"] = json.loads(t["payload"])
            txns.append(t)
        intents = [dict(r) for r in db.execute("SELECT * FROM intents ORDER BY terminal_seq")]
        settlements = [dict(r) for r in db.execute("SELECT * FROM settlements ORDER BY batch_no")]
    finally:
        db.close()
    return JournalView(str(state["station"]), txns, intents, settlements, state)


@dataclass
class WalletView:
    cards: dict[str, tuple[int, int, int]]  # card_id -> (balance, counter, points) on the card
    writes: list[dict[str, Any]]  # every write each card made, as the card remembers it


def read_wallet(path: Path) -> WalletView:
    db = _connect(path)
    try:
        cards = {
            r["card_id"]: (r["balance"], r["counter"], r["points"])
            for r in db.execute("SELECT * FROM cards")
        }
        writes = [dict(r) for r in db.execute("SELECT * FROM card_writes ORDER BY rowid")]
    finally:
        db.close()
    return WalletView(cards, writes)


# --- a network that can be cut --------------------------------------------------------------


_METHODS = {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD"}


class CutProxy:
    """A TCP proxy in front of the server, in threads. Modes:

    * ``open``: bytes flow both ways;
    * ``cut``: the network is down: open connections are reset and new ones are reset as
      soon as they are accepted (the station sees connection errors);
    * ``lose_answers``: requests reach the server, but each connection is reset when the
      server's answer starts coming back — the server did the work, the station never hears
      (the case an idempotent retry exists for).
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = "open"
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.answers_lost: list[str] = []  # request lines whose answer the proxy swallowed
        self._thread = threading.Thread(target=self._accept_loop, name="cut-proxy", daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        assert mode in ("open", "cut", "lose_answers"), mode
        with self._lock:
            self.mode = mode
            doomed = list(self._socks) if mode == "cut" else []
        for s in doomed:
            self._rst(s)

    def close(self) -> None:
        self._stopping.set()
        self.set_mode("cut")
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(5)

    def _rst(self, s: socket.socket) -> None:
        """Drop a connection: wake the thread reading it (shutdown), then close with a reset
        (SO_LINGER 0)."""
        with self._lock:
            self._socks.discard(s)
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._socks.add(client)
                mode = self.mode
            if mode == "cut":
                self._rst(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self._rst(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._socks.add(upstream)
            last: list[bytes] = [b"?"]  # the request line the client sent last
            threading.Thread(
                target=self._pipe, args=(client, upstream, last, False), daemon=True
            ).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, last, True), daemon=True
            ).start()

    def _pipe(
        self, src: socket.socket, dst: socket.socket, last: list[bytes], answers: bool
    ) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not answers and data.split(b" ", 1)[0] in _METHODS:
                    last[0] = data.split(b"\r\n", 1)[0]
                if answers and self.mode == "lose_answers":
                    self.answers_lost.append(last[0].decode("latin-1"))
                    break
                if self.mode == "cut":
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._rst(src)
        self._rst(dst)
