"""UI languages: the string catalogs in web/i18n/ and which one a request gets."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from starlette.requests import Request

LANG_COOKIE = "onecity_lang"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def catalog(lang: str) -> dict[str, str]:
    """The strings of one language. Missing files are an error at first use, not a blank UI."""
    raw = (resources.files("onecity.web") / "i18n" / f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(raw)
    return data


@cache
def available() -> frozenset[str]:
    folder = resources.files("onecity.web") / "i18n"
    return frozenset(
        f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json")
    )


def choose(request: Request, offered: list[str], default: str) -> str:
    """The cookie's language if the city offers it and we have its strings, else the city's
    default language."""
    usable = [code for code in offered if code in available()]
    wanted = request.cookies.get(LANG_COOKIE, "")
    if wanted in usable:
        return wanted
    return default if default in usable else (usable[0] if usable else "en")


def translate(lang: str, key: str, **values: object) -> str:
    """The string for `key` with {name} placeholders filled; the key itself if missing, so a
    gap in a catalog shows up on screen instead of as an empty label."""
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def language_name(code: str) -> str:
    """A language's name in that language, for the switch."""
    return {"zh-TW": "中文", "en": "English"}.get(code, code)
