"""Password hashing (argon2), TOTP, and opaque tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("onecity-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return str(pyotp.random_base32())


def check_totp(secret: str, code: str) -> bool:
    return bool(pyotp.TOTP(secret).verify(code.strip(), valid_window=1))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_device_key() -> tuple[str, str, str]:
    """Returns (key_id, secret, full key). Device keys are 256-bit random, so SHA-256 suffices."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"ock_{key_id}_{secret}"


def split_device_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ock" or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
