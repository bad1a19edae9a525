"""Reading the audit checkpoints' Ed25519 keys. Apart from core/audit_anchor.py so that
settings can check the configured keys at start-up without importing the database layer."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key


class SigningKeyError(ValueError):
    """A configured key cannot be read. The message never holds the key itself."""


def seed(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a base64 32-byte seed or a PEM private key."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise SigningKeyError("the PEM key cannot be read") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("the PEM key is not an Ed25519 private key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise SigningKeyError("not base64") from e
    if len(raw) != 32:
        raise SigningKeyError("an Ed25519 seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def configured_signing_key(value: str) -> Ed25519PrivateKey:
    """ONECITY_AUDIT_SIGNING_KEY's key: a file holding a base64 seed or a PEM key, or the
    base64 seed itself (the caller handles an empty value)."""
    value = value.strip()
    path = Path(value)
    if not value.startswith("-----BEGIN") and len(value) < 4096 and path.is_file():
        try:
            return seed(path.read_text())
        except OSError as e:
            raise SigningKeyError(f"the key file {path} cannot be read") from e
    try:
        return seed(value)
    except SigningKeyError as e:
        raise SigningKeyError(
            f"neither a readable key file nor a key ({e}): expected the path of a file holding "
            "a base64 32-byte Ed25519 seed or a PEM key, or the base64 seed itself"
        ) from e


def public_keys(value: str) -> list[Ed25519PublicKey]:
    """ONECITY_AUDIT_VERIFY_KEYS: comma-separated base64 32-byte Ed25519 public keys."""
    keys: list[Ed25519PublicKey] = []
    items = [item.strip() for item in value.split(",")]
    for n, item in enumerate((i for i in items if i), start=1):
        try:
            raw = base64.b64decode(item, validate=True)
        except binascii.Error as e:
            raise SigningKeyError(f"key {n} is not base64") from e
        if len(raw) != 32:
            raise SigningKeyError(f"key {n} is not an Ed25519 public key (32 bytes)")
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys
