"""Link codes: the proof that whoever links a card to an account held it at a station.

A station draws a fresh random code for every transaction it makes, shows it on the screen,
prints it on the receipt and uploads it with the transaction. The server keeps only a keyed
hash of it (HMAC with a secret the database does not hold, so a dump of the database gives no
code by brute force). A citizen types the card number and the code to link a card that no
account holds; the code works once, for LINK_CODE_HOURS after the transaction, and only from
a later transaction than the one that made the card's last link. A code never moves a card
linked to another account: every receipt carries one, and receipts end up in bins. That
account unlinks it, or the department's staff detach it at the service desk.

Pure: no I/O beyond the random source handed in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta

# Crockford's base 32: no I, L, O or U, so nothing on a receipt reads as two characters.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8  # 40 bits: at the throttled guessing rate, centuries per card
LINK_CODE_HOURS = 48
LINK_CODE_VALID = timedelta(hours=LINK_CODE_HOURS)
MASKED = "****-****"  # what a station's journal keeps of a code outside the demo
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


def code_hash(key: bytes, card_id: str, code: str) -> str | None:
    """What the server stores for a code of `card_id`: HMAC-SHA256 under the server's link
    secret `key` (None for text that is no code)."""
    printed = normalise(code)
    if printed is None:
        return None
    msg = f"onecity-card-link\0{card_id}\0{printed}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()
