"""The pages' language check: text a person sees that is in the other language.

`other_language_text(page)` reads what a Playwright page shows (visible text, the title, and
the title, aria-label, placeholder and alt attributes) and returns one finding per piece of
text written in the wrong language:

- on an `en` page, any Han character;
- on a `zh-TW` page, English words: two or more Latin words of three letters or more in a row,
  or one word of four letters or more, unless it is on `ALLOWED` (product names, units and
  abbreviations that Chinese text uses as they are).

Skipped: script, style and hidden elements; anything inside an element whose nearest `lang`
attribute names another language than `<html lang>` (proper names marked with `OC.name`, which
exist in one language only); and anything inside `translate="no"` (codes, user names, device
ids: identifiers, not words). Identifiers written inline (`bin-0001`, `epb.operator`, URLs) are
not words either. `findings(lang, texts)` is the rule on its own, for tests without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Product names, standards, units and abbreviations a zh-TW page writes in Latin letters.
ALLOWED = frozenset(
    w.lower()
    for w in (
        *("OneCity", "iTrash", "YouBike", "EasyCard", "iPass", "LINE"),  # products
        *("GeoJSON", "CSV", "API", "RPIC", "NGSI-LD", "NGSI", "MQTT", "OSRM", "TOTP", "SSE"),
        *("JSON", "PDF", "URL", "GPS", "OpenStreetMap", "Leaflet", "Open311", "FIWARE", "CAP"),
        *("PostgreSQL", "SQLite", "Prometheus", "OpenAPI", "HTTP", "HTTPS", "Mosquitto"),
        *("TWD", "NT", "PET", "QR", "kg", "km", "kWh", "ppm", "dB", "mm", "cm", "km/h"),  # units
    )
)

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# A piece of text between spaces and Han characters; inside it, Latin words.
PIECE = re.compile(r"[^\s\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
# Inside a piece, these between letters or digits make it an identifier, not words.
IDENTIFIER = re.compile(r"\w[._/@:#=]\w|\d|_")
EDGE = "\"'“”‘’()[]{}<>«»,.;:!?…·–—-/|*"

_COLLECT = """
(opts) => {
  const primary = (l) => (l || "").toLowerCase().split("-")[0];
  const pageLang = primary(document.documentElement.getAttribute("lang"));
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "HEAD", "svg"]);
  const out = [];
  const cls = (e) => (typeof e.className === "string" ? e.className.trim() : "");
  const where = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (cls(e) ? "." + cls(e).split(/\\s+/).join(".") : "");
  const shown = (e) => {
    if (e.tagName === "OPTION" || e.tagName === "OPTGROUP") {
      const sel = e.closest("select");
      return !sel || shown(sel);
    }
    if (e.hidden) return false;
    if (typeof e.checkVisibility === "function") {
      return e.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true });
    }
    const cs = getComputedStyle(e);
    return cs.display !== "none" && cs.visibility !== "hidden";
  };
  function walk(e) {
    if (SKIP.has(e.tagName)) return;
    if (e.getAttribute("translate") === "no") return;
    const own = e.getAttribute("lang");
    if (own !== null && primary(own) !== pageLang) return;
    if (!shown(e)) return;
    for (const a of opts.attrs) {
      const v = e.getAttribute(a);
      if (v && v.trim()) out.push({ where: where(e) + "[" + a + "]", text: v.trim() });
    }
    if (e.tagName === "INPUT" && ["button", "submit", "reset"].includes(e.type) && e.value) {
      out.push({ where: where(e) + "[value]", text: e.value });
    }
    for (const n of e.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) {
        const t = n.textContent.replace(/\\s+/g, " ").trim();
        if (t) out.push({ where: where(e), text: t });
      } else if (n.nodeType === Node.ELEMENT_NODE) {
        walk(n);
      }
    }
  }
  const root = opts.root ? document.querySelector(opts.root) : document.body;
  const title = document.title.trim();
  if (!opts.root && title) out.push({ where: "title", text: title });
  if (root) walk(root);
  return { lang: pageLang, texts: out };
}
"""

ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


def _is_english(text: str, allowed: frozenset[str]) -> bool:
    run, last = 0, 0
    for m in PIECE.finditer(text):
        if text[last : m.start()].strip():
            run = 0  # Han text between: the words are not in a row
        last = m.end()
        piece = m.group().strip(EDGE)
        if not piece:
            continue
        if IDENTIFIER.search(piece):
            run = 0  # bin-0001, epb.operator, a URL: a code, not words
            continue
        if piece.lower() in allowed:  # NGSI-LD
            run = 0
            continue
        for w in WORD.findall(piece):
            if w.lower() in allowed:
                run = 0
                continue
            if len(w) >= 4:
                return True
            run = run + 1 if len(w) >= 3 else 0
            if run >= 2:
                return True
    return False


def findings(
    lang: str, texts: Iterable[tuple[str, str]], allowed: frozenset[str] = ALLOWED
) -> list[str]:
    """Each (where, text) written in the other language than `lang`, as 'where: "text"'."""
    primary = lang.lower().split("-")[0]
    out: list[str] = []
    for where, text in texts:
        if primary == "en":
            bad = HAN.search(text) is not None
        elif primary == "zh":
            bad = _is_english(text, allowed)
        else:
            raise ValueError(f"no language rule for <html lang='{lang}'>")
        if bad:
            out.append(f'{where}: "{text[:160]}"')
    return out


def other_language_text(
    page: Any, allowed: frozenset[str] = ALLOWED, root: str | None = None
) -> list[str]:
    """What the Playwright `page` shows in the other language than its <html lang> (only
    inside the element `root` selects, when given: e.g. "main" leaves out the header)."""
    got = page.evaluate(_COLLECT, {"attrs": list(ATTRIBUTES), "root": root})
    if not got["lang"]:
        raise ValueError(f"{page.url} has no <html lang>: no language to check it against")
    return findings(got["lang"], [(t["where"], t["text"]) for t in got["texts"]], allowed)
