"""A bin's alert reads in the page's language: the rule's name, the metric and a share as a
percent ("Bin nearly full: fill 81% (limit 80%)"), with no word of the other language on the
alerts page or the dashboard's panel (the bin's Chinese name is marked as a name)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import LiveServer, expect_text, log_in, wait_live
from .lang_check import other_language_text

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("en", "Bin nearly full: fill 81% (limit 80%)"),
        ("zh-TW", "清潔箱將滿：填充率 81%（門檻 80%）"),
    ],
)
def test_a_bin_alert_in_each_language(
    page: Any, live_server: LiveServer, lang: str, sentence: str
) -> None:
    bin_id = live_server.bins()[5 if lang == "en" else 6]
    live_server.post_telemetry(bin_id, {"fill": 0.808, "temperature": 25})
    page.goto(f"{live_server.url}/lang/{lang}?next=/login")
    log_in(page, live_server.url, then="/alerts")
    row = page.locator(f'tr:has(a[href="/devices/{bin_id}"])')
    row.wait_for()
    msg = f'tr:has(a[href="/devices/{bin_id}"]) td >> nth=2'
    expect_text(page, msg, "^" + re.escape(sentence) + "$")
    wait_live(page, "alerts")
    assert other_language_text(page, root="main") == []

    page.goto(f"{live_server.url}/dashboard")
    item = page.locator(f'li.alert:has(a[href="/devices/{bin_id}"]) .alert-msg')
    item.wait_for()
    assert item.inner_text() == sentence
    wait_live(page, "alerts")
    assert other_language_text(page, root="main") == []
