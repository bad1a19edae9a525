"""UI languages: the string catalogs in web/i18n/ (plus those of enabled modules) and which one
a request gets."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

from starlette.requests import Request

LANG_COOKIE = "onecity_lang"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# Modules' catalog folders by module name. Process-wide like the catalogs themselves: a module
# adds strings, it never changes one the web shell or another module defined.
_module_folders: dict[str, Path] = {}


def add_catalogs(module: str, folder: Path) -> None:
    """Merge a module's <lang>.json files into the catalogs. Adding the same folder again
    changes nothing; a key the web or another module already has is refused at once."""
    if _module_folders.get(module) == folder:
        return
    before = dict(_module_folders)
    _module_folders[module] = folder
    catalog.cache_clear()
    try:
        for lang in available():
            catalog(lang)
    except ValueError:
        _module_folders.clear()
        _module_folders.update(before)
        catalog.cache_clear()
        raise


def _read(text: str, where: str) -> dict[str, str]:
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{where} must be one JSON object of strings")
    return data


@cache
def catalog(lang: str) -> dict[str, str]:
    """The strings of one language. Missing files are an error at first use, not a blank UI."""
    raw = (resources.files("onecity.web") / "i18n" / f"{lang}.json").read_text("utf-8")
    data = _read(raw, f"web/i18n/{lang}.json")
    owner = dict.fromkeys(data, "web")
    for module, folder in sorted(_module_folders.items()):
        path = folder / f"{lang}.json"
        if not path.is_file():
            continue
        extra = _read(path.read_text("utf-8"), str(path))
        clash = sorted(k for k in extra if k in owner)
        if clash:
            raise ValueError(
                f"module '{module}' redefines strings of {owner[clash[0]]}: {', '.join(clash[:5])}"
            )
        data.update(extra)
        owner.update(dict.fromkeys(extra, module))
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
