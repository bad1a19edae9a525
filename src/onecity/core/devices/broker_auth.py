"""Device logins at the MQTT broker, generated from the device registry.

Every device key the registry issues is also an MQTT login: the user name is the key id, the
password the full key (`ock_<key id>_<secret>`). When a key is issued its Mosquitto hash
(`$7$`: PBKDF2-SHA512, the format `mosquitto_passwd` writes) is stored next to the key's
SHA-256, so the broker's files can be rebuilt from the database at any time without anyone
ever seeing a secret again.

`sync_files` writes two files from the registry and makes Mosquitto reload them (SIGHUP):

- the password file: one line per usable key (not revoked, its device not retired);
- the ACL file: each key may publish only on its own device's topics, nothing else.

A key, not a device, is the broker user so that a device may hold two keys while it is
being moved to a new one, and each key is revoked on its own. On reload Mosquitto drops the
connections whose login is gone, so a revoked key is cut off at the next sync.

The database is the one source of truth, so any number of API processes issue and revoke
keys and one sync loop next to the broker (`onecity mqtt sync-credentials --every 5`)
carries the changes over; nothing has to share a file or reach the broker from the API.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from onecity.core.db import Database
from onecity.core.models import Device, DeviceCredential

log = logging.getLogger(__name__)

# Mosquitto's own default. Device keys carry 256 random bits, so more rounds would not make
# guessing any harder; they would only slow down a broker that thousands of devices
# reconnect to at once after an outage.
ITERATIONS = 101
_SALT_BYTES = 12

# The topics a device may publish on. Only telemetry today: add a device's other topics here
# (e.g. a station's protocol topic) and the next sync grants them.
DEVICE_TOPICS = ("onecity/devices/{device_id}/telemetry",)
# The platform's own login (the ingester and event relay), if it logs in on this listener.
PLATFORM_READ = ("onecity/devices/+/telemetry",)
PLATFORM_WRITE = ("onecity/events/#",)

# What may appear in a file line or topic: no ':' in user names, no wildcard, '/' or space
# in a device id. Rows that do not fit are left out (and logged) rather than break the file.
_USER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DEVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def mqtt_password_hash(password: str, salt: bytes | None = None) -> str:
    """The Mosquitto password-file hash of `password` ($7$ = PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    b64 = base64.b64encode
    return f"$7${ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def mqtt_password_ok(password: str, stored: str) -> bool:
    """Whether `password` matches a `$7$` hash (the broker's own check, for tests and tools)."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return secrets.compare_digest(got, want)


@dataclass(frozen=True, slots=True)
class BrokerUser:
    username: str
    password_hash: str
    device_id: str | None  # None: the platform's own login


def device_users(db: Database) -> list[BrokerUser]:
    """Every key that may log in now: not revoked, issued with an MQTT hash, device not retired."""
    with db.read() as s:
        rows = s.execute(
            select(DeviceCredential.key_id, DeviceCredential.mqtt_hash, Device.id)
            .join(Device, Device.id == DeviceCredential.device_id)
            .where(
                DeviceCredential.revoked_at.is_(None),
                DeviceCredential.mqtt_hash.is_not(None),
                Device.status != "retired",
            )
            .order_by(DeviceCredential.key_id)
        ).tuples()
        users = []
        for key_id, pw_hash, device_id in rows:
            if pw_hash and _USER.match(key_id) and _DEVICE.match(device_id):
                users.append(BrokerUser(key_id, pw_hash, device_id))
            else:
                log.warning(
                    "key %s of device %r cannot be a broker login; left out", key_id, device_id
                )
        return users


def _platform_user(username: str, password: str, old: dict[str, str]) -> BrokerUser:
    """The ingester's login, when it logs in on an authenticated listener. Its hash in the
    file is kept while it still matches (salts are random: a new hash would be a change)."""
    if not _USER.match(username):
        raise ValueError("ONECITY_MQTT_USERNAME may hold only letters, digits, '_', '.', '-'")
    stored = old.get(username, "")
    keep = stored if mqtt_password_ok(password, stored) else mqtt_password_hash(password)
    return BrokerUser(username, keep, None)


def render_passwd(users: list[BrokerUser]) -> str:
    return "".join(f"{u.username}:{u.password_hash}\n" for u in users)


def render_acl(users: list[BrokerUser]) -> str:
    """Explicit grants per user; with an acl_file Mosquitto refuses everything not granted."""
    out = [
        "# Generated by `onecity mqtt sync-credentials` from the device registry; do not edit.\n"
    ]
    for u in users:
        out.append(f"\nuser {u.username}\n")
        if u.device_id is None:
            out += [f"topic read {t}\n" for t in PLATFORM_READ]
            out += [f"topic write {t}\n" for t in PLATFORM_WRITE]
        else:
            out += [f"topic write {t.format(device_id=u.device_id)}\n" for t in DEVICE_TOPICS]
    return "".join(out)


def _write_if_changed(path: Path, text: str) -> bool:
    """Replace `path` atomically (a reader sees the old or the new file, never half)."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # The broker's user reads it; nobody else needs to.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _read_passwd(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def sync_files(
    db: Database,
    passwd: Path,
    acl: Path,
    *,
    pid_file: Path | None = None,
    platform: tuple[str, str] | None = None,
) -> bool:
    """Write the password and ACL files from the registry (plus the platform's login, given
    as (user, password)); when either changed, tell the broker (SIGHUP to the pid in
    pid_file). Returns whether anything changed."""
    users = device_users(db)
    if platform is not None and platform[0] and platform[1]:
        users.insert(0, _platform_user(*platform, _read_passwd(passwd)))
    changed = _write_if_changed(passwd, render_passwd(users))
    changed = _write_if_changed(acl, render_acl(users)) or changed
    if changed and pid_file is not None:
        reload_broker(pid_file)
    return changed


def reload_broker(pid_file: Path) -> None:
    """SIGHUP: Mosquitto rereads its password and ACL files and drops logins that are gone."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as e:
        raise RuntimeError(f"cannot read the broker's pid from {pid_file}: {e}") from None
    os.kill(pid, signal.SIGHUP)
    log.info("asked the broker (pid %d) to reload its logins", pid)


def sync_forever(
    db: Database,
    passwd: Path,
    acl: Path,
    pid_file: Path | None,
    platform: tuple[str, str] | None,
    every_s: float,
) -> None:
    """`onecity mqtt sync-credentials`: once (every_s 0), or every every_s seconds until
    SIGINT/SIGTERM. A revoked key stops working within every_s of its revocation.

    The first sync always reloads the broker, and a reload that failed is tried again: a
    sync that died between writing the files and the SIGHUP must not leave the broker on
    the old logins until the next change."""
    if sync_files(db, passwd, acl, platform=platform):
        log.info("broker logins written to %s and %s", passwd, acl)
    if pid_file is not None:
        reload_broker(pid_file)
    if every_s <= 0:
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: stop.set())
    pending = False
    while not stop.wait(every_s):
        try:
            pending = sync_files(db, passwd, acl, platform=platform) or pending
            if pending and pid_file is not None:
                reload_broker(pid_file)
            pending = False
        except Exception:  # the database or the broker is away: keep the files, retry
            log.exception("syncing broker logins failed; retrying in %s s", every_s)
