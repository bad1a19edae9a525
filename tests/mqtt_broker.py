"""A Mosquitto of our own for tests and benchmarks, run with the project's config, and a
device-side publisher for it.

The machine's broker on 1883 runs Debian's defaults (20 in flight, 1,000 queued), which lose
messages under load; testing against it would test the wrong thing. `Broker` starts
/usr/sbin/mosquitto with deploy/mosquitto/onecity.conf, changing only what must differ per
run: the port, and where the persistence file, pid and log go (a temporary directory).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from onecity.core.auth.permissions import Principal, Role
from onecity.core.db import Database
from onecity.core.devices.broker_auth import sync_files
from onecity.core.devices.service import DeviceService

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "deploy" / "mosquitto" / "onecity.conf"
TEST_PORT = 18830
BENCH_PORT = 18831
_RELOADED = "Reloading config"


def mosquitto_binary() -> str | None:
    for candidate in ("/usr/sbin/mosquitto", shutil.which("mosquitto")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# TLS is the one thing tests leave out: the device listener keeps its logins and ACL.
_DROPPED = ("persistence_location", "pid_file", "log_dest", "user", "certfile", "keyfile", "cafile")


def derived_conf(workdir: Path, port: int, device_port: int, extra: str = "") -> str:
    """The project's config with this run's ports, persistence dir, pid file, log and
    credential files; `extra` is appended."""
    out: list[str] = []
    listeners = 0
    for line in CONF.read_text().splitlines():
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if word == "listener":
            # The first listener is the platform's, the second the devices'.
            listeners += 1
            out.append(f"listener {port if listeners == 1 else device_port} 127.0.0.1")
        elif word == "password_file":
            out.append(f"password_file {workdir}/onecity.passwd")
        elif word == "acl_file":
            out.append(f"acl_file {workdir}/onecity.acl")
        elif word in _DROPPED:
            continue
        else:
            out.append(line)
    assert listeners == 2, "onecity.conf should have a platform and a device listener"
    out += [
        f"persistence_location {workdir}/",
        f"pid_file {workdir}/mosquitto.pid",
        f"log_dest file {workdir}/mosquitto.log",
        # "Reloading config." is logged at this level: tests wait for it after a sync.
        "log_type information",
        # Run as whoever runs the tests (as root, mosquitto would otherwise switch to the
        # 'mosquitto' user, who cannot write our temporary directory).
        f"user {getpass.getuser()}",
    ]
    return "\n".join(out) + "\n" + extra


class Broker:
    """One Mosquitto process; restartable with the same persistence directory."""

    def __init__(self, workdir: Path, port: int = TEST_PORT, extra: str = "") -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        self.binary = binary
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # Another test run on this machine may hold the project port: take any free one then.
        self.port = port if _port_free(port) else _any_free_port()
        self.device_port = _any_free_port()
        self.host = "127.0.0.1"
        self.conf_path = workdir / "mosquitto.conf"
        self.conf_path.write_text(derived_conf(workdir, self.port, self.device_port, extra))
        self.passwd = workdir / "onecity.passwd"
        self.acl = workdir / "onecity.acl"
        for f in (self.passwd, self.acl):
            if not f.exists():
                f.write_text("")  # nobody may log in until the first sync
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self._why()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop(kill=True)
        raise RuntimeError(f"mosquitto did not listen on {self.port} in {timeout_s} s")

    def _why(self) -> str:
        err = (
            self.proc.stderr.read().decode(errors="replace")
            if self.proc and self.proc.stderr and self.proc.poll() is not None
            else ""
        )
        log = self.workdir / "mosquitto.log"
        return (err + (log.read_text()[-2000:] if log.exists() else "")).strip()

    def sync(self, db: Database, timeout_s: float = 10.0) -> bool:
        """`onecity mqtt sync-credentials` against this broker; returns once it reloaded."""
        before = self.log().count(_RELOADED)
        changed = sync_files(db, self.passwd, self.acl, pid_file=self.workdir / "mosquitto.pid")
        if changed:
            self.wait_reloaded(before, timeout_s)
        return changed

    def wait_reloaded(self, before: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.log().count(_RELOADED) <= before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not reload in {timeout_s} s: {self._why()}")
            time.sleep(0.02)

    @staticmethod
    def free_port() -> int:
        return _any_free_port()

    def stop(self, kill: bool = False, timeout_s: float = 10.0) -> None:
        """SIGTERM saves the persistence file first; kill=True is a crash (no save)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text() if path.exists() else ""

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@contextmanager
def running_broker(workdir: Path, port: int = TEST_PORT, extra: str = "") -> Iterator[Broker]:
    with Broker(workdir, port, extra) as broker:
        yield broker


class Refused(Exception):
    """The broker refused a login."""


def device_client(broker: Broker, key: str | None, timeout_s: float = 10.0) -> mqtt.Client:
    """A connected client: with `key` (a registry key, `ock_<key id>_<secret>`) a device
    logged in on the device listener as its key id; with None an anonymous client on the
    platform's loopback listener. Raises Refused if the broker says no."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    c.max_inflight_messages_set(1000)
    port = broker.port
    if key is not None:
        c.username_pw_set(key.split("_")[1] if key.count("_") >= 2 else key, key)
        port = broker.device_port
    answer: list[Any] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(rc)
        done.set()

    c.on_connect = on_connect
    c.connect(broker.host, port)
    c.loop_start()
    if not done.wait(timeout_s) or answer[0].is_failure:
        c.loop_stop()
        c.disconnect()
        raise Refused(str(answer[0]) if answer else "no CONNACK")
    c.on_connect = None
    return c


class Publisher:
    """Device-side clients: QoS 1, many in flight, waits for the broker's PUBACKs.

    With `keys` (device id -> its registry key) each device logs in with its own key on the
    device listener, as devices in the field do; without, one anonymous client on the
    platform's loopback listener stands in for a trusted gateway (the benchmarks)."""

    def __init__(self, broker: Broker, keys: dict[str, str] | None = None) -> None:
        self.broker = broker
        self.keys = keys
        self.clients: dict[str, mqtt.Client] = {}
        self.infos: list[mqtt.MQTTMessageInfo] = []
        if keys is None:
            self.clients[""] = device_client(broker, None)

    def _client(self, device: str) -> mqtt.Client:
        who = "" if self.keys is None else device
        if who not in self.clients:
            assert self.keys is not None
            self.clients[who] = device_client(self.broker, self.keys[device])
        return self.clients[who]

    def send(self, device: str, body: bytes) -> None:
        c = self._client(device)
        self.infos.append(c.publish(f"onecity/devices/{device}/telemetry", body, qos=1))

    def close(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self.infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        unacked = sum(1 for i in self.infos if not i.is_published())
        for c in self.clients.values():
            c.disconnect()
            c.loop_stop()
        assert unacked == 0, f"the broker did not acknowledge {unacked} publishes"


def issue_keys(devices: DeviceService, ids: list[str]) -> dict[str, str]:
    """One registry key per device (as an administrator would issue them): device id -> key."""
    who = Principal(0, "root.admin", Role.ADMIN, "doit")
    return {i: devices.issue_key(who, i, label="mqtt test").key for i in ids}
