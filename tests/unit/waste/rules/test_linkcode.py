"""Link codes as a station prints them and as citizens type them (waste/linkcode.py)."""

from __future__ import annotations

import base64
import hashlib
import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from onecity.settings import Settings
from onecity.waste.ledger.card_links import card_link_key
from onecity.waste.rules.linkcode import ALPHABET, LINK_CODE_VALID, code_hash, new_code, normalise

KEY = b"k" * 32


def test_a_code_is_eight_unambiguous_characters_and_they_differ() -> None:
    codes = {new_code() for _ in range(1000)}
    assert len(codes) == 1000
    for c in codes:
        assert len(c) == 9 and c[4] == "-"
        assert set(c.replace("-", "")) <= set(ALPHABET)
        assert not set(c) & set("ILOU")


def test_typing_variants_read_as_the_printed_code() -> None:
    for typed in ("k7qm-x2ma", "K7QMX2MA", " k7qm x2ma ", "K7QM-X2MA"):
        assert normalise(typed) == "K7QM-X2MA"
    assert normalise("1O1L-I000") == "1011-1000"  # O reads as 0, I and L as 1
    for bad in ("", "K7QM-X2M", "K7QM-X2MAA", "K7QM-X2MU", "K7QM_X2MA"):
        assert normalise(bad) is None


def test_the_hash_binds_the_code_to_its_card() -> None:
    code = new_code(random.Random(1).randrange)
    assert code_hash(KEY, "EC-1", code) == code_hash(KEY, "EC-1", code.lower().replace("-", ""))
    assert code_hash(KEY, "EC-1", code) != code_hash(KEY, "EC-2", code)
    assert code_hash(KEY, "EC-1", "no code!") is None


def test_the_hash_needs_the_servers_secret() -> None:
    """Without the key a database does not hold, its hashes give no code by brute force."""
    code = "K7QM-X2MA"
    stored = code_hash(KEY, "EC-1", code)
    assert stored != code_hash(b"x" * 32, "EC-1", code)
    assert stored != hashlib.sha256(f"onecity-card-link\0EC-1\0{code}".encode()).hexdigest()


def test_production_without_a_card_link_secret_does_not_start() -> None:
    audit_key = base64.b64encode(bytes(32)).decode()  # a well-formed Ed25519 seed
    with pytest.raises(ValidationError, match="ONECITY_CARD_LINK_SECRET"):
        Settings(environment="production", audit_signing_key=audit_key)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment="production", audit_signing_key=audit_key, card_link_secret="short")
    Settings(environment="production", audit_signing_key=audit_key, card_link_secret="s" * 32)


def test_a_code_is_valid_for_48_hours() -> None:
    assert LINK_CODE_VALID.total_seconds() == 48 * 3600


def test_the_key_comes_from_the_secret_or_its_file_or_a_generated_dev_file(
    tmp_path: Path,
) -> None:
    secret = "s" * 40
    assert card_link_key(Settings(card_link_secret=secret)) == secret.encode()
    (tmp_path / "link.secret").write_text(secret + "\n")
    assert card_link_key(Settings(card_link_secret=str(tmp_path / "link.secret"))) == (
        secret.encode()
    )
    dev = Settings(environment="dev", audit_checkpoint_dir=tmp_path / "audit")
    first = card_link_key(dev)
    assert len(first) >= 32 and card_link_key(dev) == first  # generated once, then kept
