"""Link codes: the proof that whoever links a card to an account held it at a station.

A station draws a fresh random code for every transaction it makes, shows it on the screen,
prints it on the receipt and uploads it with the transaction. The server keeps only a hash of
it. A citizen types the card number and the code to link the card; the code works once, for
LINK_CODE_DAYS after the transaction, and only a code from a later transaction of the card
than the one that made the current link can move the card to another account (whoever holds
the card can always make one; an old receipt found in a bin cannot take it back).

Pure: no I/O beyond the random source handed in."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

# Crockford's base 32: no I, L, O or U, so nothing on a receipt reads as two characters.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8  # 40 bits: at the throttled guessing rate, centuries per card
LINK_CODE_DAYS = 14
LINK_CODE_VALID = timedelta(days=LINK_CODE_DAYS)
# The protocol's and the form's pattern (either case, with or without the dash).
PATTERN = r"^[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}$"
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh code as printed: XXXX-XXXX."""
    raw = "".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(text: str) -> str | None:
    """The code as typed (any case, dash or not, O for 0, I or L for 1) in its printed form,
    or None when it cannot be a code."""
    raw = text.strip().replace("-", "").replace(" ", "").upper().translate(_READS_AS)
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        return None
    return f"{raw[:4]}-{raw[4:]}"


def code_hash(card_id: str, code: str) -> str | None:
    """What the server stores for a code of `card_id` (None for text that is no code)."""
    printed = normalise(code)
    if printed is None:
        return None
    return hashlib.sha256(f"onecity-card-link\0{card_id}\0{printed}".encode()).hexdigest()
