"""The language check itself: which text it reports on an en and a zh-TW page, and what it
skips (proper names marked with their language, hidden elements, scripts, identifiers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .lang_check import findings, other_language_text


def _zh(*texts: str) -> list[str]:
    return findings("zh-TW", [("p", t) for t in texts])


def _en(*texts: str) -> list[str]:
    return findings("en", [("p", t) for t in texts])


def test_an_en_page_reports_any_han_character() -> None:
    assert _en("Bin nearly full: fill 81% (limit 80%)") == []
    assert _en("清潔箱將滿 Bin nearly full") == ['p: "清潔箱將滿 Bin nearly full"']
    assert _en("District: 中正區") == ['p: "District: 中正區"']


def test_a_zh_page_reports_english_words() -> None:
    assert _zh("清潔箱將滿：填充率 81%（門檻 80%）") == []
    # one word of four letters or more
    assert _zh("足跡 approximated") == ['p: "足跡 approximated"']
    # two words of three letters in a row
    assert _zh("狀態 the bin") == ['p: "狀態 the bin"']
    # ... but not when Chinese stands between them
    assert _zh("the 清潔箱 bin") == []
    assert _zh("清潔箱將滿 Bin nearly full: fill = 0.808") != []


def test_a_zh_page_allows_product_names_units_abbreviations_and_identifiers() -> None:
    assert _zh("OneCity 智慧城市", "iTrash 清潔站", "下載 CSV", "NGSI-LD 實體", "12.5 kg") == []
    assert _zh("YouBike 車柱 GeoJSON API", "MQTT 與 OSRM", "TOTP 驗證碼") == []
    assert (
        _zh("裝置 bin-0001", "使用者 epb.operator", "https://example.org/a", "waste_station") == []
    )
    assert _zh("上午 10:00", "Open311 服務") == []
    # the allowlist is a short list, not a loophole
    assert _zh("OneCity Dashboard") == ['p: "OneCity Dashboard"']


PAGE = """<!doctype html><html lang="{lang}"><head><title>{title}</title>
<style>.x {{ color: red }}</style><script>var s = "清潔箱 English words here";</script></head>
<body>
  <h1>{h1}</h1>
  <p>{text} <span class="proper-name" lang="{other}">{name}</span></p>
  <p hidden>{hidden}</p>
  <p style="display:none">{hidden}</p>
  <div style="visibility:hidden">{hidden}</div>
  <button aria-label="{label}">×</button>
  <input placeholder="{placeholder}">
  <img alt="{alt}" src="data:,">
  <code translate="no">{code}</code>
  <select><option>{option}</option></select>
</body></html>"""


@pytest.fixture
def blank(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context()
    yield ctx.new_page()
    ctx.close()


@pytest.mark.browser
def test_the_page_check_on_an_en_page(blank: Any) -> None:
    blank.set_content(
        PAGE.format(
            lang="en",
            other="zh-TW",
            title="Alerts",
            h1="Alerts",
            text="Village:",
            name="中正里",  # a name that exists in Chinese only: skipped
            hidden="隱藏的中文",
            label="關閉",
            placeholder="Search",
            alt="地圖",
            code="epb",
            option="全部",
        )
    )
    got = other_language_text(blank)
    assert got == [
        'button[aria-label]: "關閉"',
        'img[alt]: "地圖"',
        'option: "全部"',
    ]


@pytest.mark.browser
def test_the_page_check_on_a_zh_page(blank: Any) -> None:
    blank.set_content(
        PAGE.format(
            lang="zh-TW",
            other="en",
            title="Alerts page",
            h1="警報",
            text="站名：",
            name="Taipei Main Station",  # marked lang="en": skipped
            hidden="hidden English words",
            label="Close dialog",
            placeholder="搜尋",
            alt="地圖",
            code="admin",  # translate="no": an identifier
            option="Everything",
        )
    )
    got = other_language_text(blank)
    assert got == [
        'title: "Alerts page"',
        'button[aria-label]: "Close dialog"',
        'option: "Everything"',
    ]
