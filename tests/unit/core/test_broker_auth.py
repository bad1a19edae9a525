"""Broker logins: hashes Mosquitto accepts, and an ACL that grants a key its device only."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from onecity.core.devices.broker_auth import (
    BrokerUser,
    mqtt_password_hash,
    mqtt_password_ok,
    render_acl,
    render_passwd,
)

# Written by `mosquitto_passwd -b` (Mosquitto 2.0.11) for the password "ock_abc_secret".
MOSQUITTO_LINE = (
    "dev1:$7$101$5JgcEDXNHHNddgur$GRBghidTF2MzWpyxW/mtTVdunmNXUV8e25T+G38T0hG7bfYACm/7ODfBdr"
    "N9TnlTPtBJ5I+fn6b6BAX5HqXg0w=="
)


def test_the_hash_is_the_one_mosquitto_passwd_writes() -> None:
    stored = MOSQUITTO_LINE.split(":", 1)[1]
    salt = base64.b64decode(stored.split("$")[3])
    assert mqtt_password_hash("ock_abc_secret", salt) == stored
    assert mqtt_password_ok("ock_abc_secret", stored)
    assert not mqtt_password_ok("ock_abc_secreT", stored)
    assert not mqtt_password_ok("ock_abc_secret", "$6$garbage")
    assert not mqtt_password_ok("ock_abc_secret", "$7$101$!!$!!")


def test_fresh_salts_each_time() -> None:
    a, b = mqtt_password_hash("k"), mqtt_password_hash("k")
    assert a != b and mqtt_password_ok("k", a) and mqtt_password_ok("k", b)


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto not installed")
def test_mosquitto_passwd_hashes_verify_here(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(f), "u", "a-key"], check=True)
    stored = f.read_text().strip().split(":", 1)[1]
    assert mqtt_password_ok("a-key", stored) and not mqtt_password_ok("b-key", stored)


def test_each_key_may_publish_on_its_own_devices_topic_only() -> None:
    users = [
        BrokerUser("ingest", "$7$x", None),
        BrokerUser("0123456789abcdef", "$7$y", "IT125-1"),
        BrokerUser("fedcba9876543210", "$7$z", "IT125-1"),
    ]
    acl = render_acl(users)
    assert "user 0123456789abcdef\ntopic write onecity/devices/IT125-1/telemetry\n" in acl
    assert "user fedcba9876543210\ntopic write onecity/devices/IT125-1/telemetry\n" in acl
    assert "pattern" not in acl
    device_part = acl.split("user 0123456789abcdef")[1]
    assert "read" not in device_part and "+" not in device_part
    assert "user ingest\ntopic read onecity/devices/+/telemetry\n" in acl
    assert render_passwd(users).splitlines()[1] == "0123456789abcdef:$7$y"
