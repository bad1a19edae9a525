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
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "deploy" / "mosquitto" / "onecity.conf"
TEST_PORT = 18830
BENCH_PORT = 18831


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


def derived_conf(workdir: Path, port: int, extra: str = "") -> str:
    """The project's config with this run's port, persistence dir, pid file and log;
    `extra` is appended (e.g. a device listener with its own authentication)."""
    out: list[str] = []
    listener_done = False
    for line in CONF.read_text().splitlines():
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if word == "listener" and not listener_done:
            # The first listener is the platform's; it becomes ours on this port.
            out.append(f"listener {port} 127.0.0.1")
            listener_done = True
        elif word in ("persistence_location", "pid_file", "log_dest", "user"):
            continue
        else:
            out.append(line)
    out += [
        f"persistence_location {workdir}/",
        f"pid_file {workdir}/mosquitto.pid",
        f"log_dest file {workdir}/mosquitto.log",
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
        self.host = "127.0.0.1"
        self.conf_path = workdir / "mosquitto.conf"
        self.conf_path.write_text(derived_conf(workdir, self.port, extra))
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
            if self.proc and self.proc.stderr
            else ""
        )
        log = self.workdir / "mosquitto.log"
        return (err + (log.read_text()[-2000:] if log.exists() else "")).strip()

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


class Publisher:
    """A device-side client: QoS 1, many in flight, waits for the broker's PUBACKs."""

    def __init__(self, broker: Broker) -> None:
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}"
        )
        self.c.max_inflight_messages_set(1000)
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def send(self, device: str, body: bytes) -> None:
        self.infos.append(self.c.publish(f"onecity/devices/{device}/telemetry", body, qos=1))

    def close(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self.infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        unacked = sum(1 for i in self.infos if not i.is_published())
        self.c.disconnect()
        self.c.loop_stop()
        assert unacked == 0, f"the broker did not acknowledge {unacked} publishes"
