"""Upgrading a city whose alerts were one fixed bilingual sentence: the demo's rules named
"中文 English" get those as their two names, and their open alerts the facts pages word them
from (metric, limit, comparison, names), on both databases; other rules keep no names."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text

from tests.integration.core.test_epochs_migration import _alembic, empty_url  # noqa: F401

BEFORE = "0016_telemetry_epochs"


def decode(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v  # SQLite hands JSON back as text


def test_old_rules_and_alerts_get_their_words(empty_url: str) -> None:  # noqa: F811
    cfg = _alembic(empty_url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(empty_url)
    try:
        with engine.begin() as c:
            c.execute(
                text("INSERT INTO departments (code, name_zh, name_en) VALUES ('epb', 'e', 'E')")
            )
            c.execute(
                text(
                    "INSERT INTO devices (id, name, type, department_code, status, connectivity,"
                    " heartbeat_s, offline_after, metadata, created_at)"
                    " VALUES ('b1', 'b1', 'litter_bin', 'epb', 'active', 'online', 60,"
                    " CURRENT_TIMESTAMP, '{}', CURRENT_TIMESTAMP)"
                )
            )
            for rid, name in ((1, "清潔箱將滿 Bin nearly full"), (2, "Dock empty")):
                c.execute(
                    text(
                        "INSERT INTO alert_rules (id, name, key, direction, raise_at, clear_at,"
                        " severity, enabled) VALUES (:id, :n, 'fill', 'above', 0.8, 0.5,"
                        " 'warning', true)"
                    ),
                    {"id": rid, "n": name},
                )
                c.execute(
                    text(
                        "INSERT INTO alerts (device_id, kind, rule_id, dedupe_key, severity,"
                        " state, message, value, opened_at) VALUES ('b1', 'threshold', :id,"
                        " :k, 'warning', 'open', 'm', 0.9, CURRENT_TIMESTAMP)"
                    ),
                    {"id": rid, "k": f"rule:{rid}"},
                )
        command.upgrade(cfg, "head")
        with engine.connect() as c:
            rules = c.execute(text("SELECT id, names FROM alert_rules ORDER BY id")).all()
            got = c.execute(
                text("SELECT rule_name, metric, threshold, comparison FROM alerts ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    names = {"zh-TW": "清潔箱將滿", "en": "Bin nearly full"}
    assert [decode(r.names) for r in rules] == [names, {}]
    assert [(decode(a.rule_name), a.metric, a.threshold, a.comparison) for a in got] == [
        (names, "fill", 0.8, "above"),
        (None, "fill", 0.8, "above"),
    ]
