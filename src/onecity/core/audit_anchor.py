"""Signed checkpoints: the audit chain anchored outside the database.

The hash chain (core/audit.py) shows an edit or a gap, but whoever can write the database can
also recompute every hash from some record on, or delete the newest records, and move the head:
the chain then verifies. A checkpoint is the head's sequence number and hash, signed with an
Ed25519 key the database does not hold, appended as one JSON line to a file outside the
database. `verify` checks the chain against every checkpoint it can read: a record at a
checkpointed number that hashes differently was rewritten; a log shorter than a checkpoint was
truncated; a line whose signature does not verify was forged. Production ships the file on to
storage the application cannot rewrite (WORM, syslog); see docs/operations.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.audit import Finding
from onecity.core.audit_keys import SigningKeyError, configured_signing_key, public_keys
from onecity.core.audit_keys import seed as read_seed
from onecity.core.db import Database, utcnow
from onecity.core.models import AuditHead, AuditRecord
from onecity.settings import Settings

log = logging.getLogger(__name__)

FILE_NAME = "checkpoints.jsonl"
DEV_KEY_NAME = "signing-dev.key"  # demo/dev/test only: generated when no key is configured


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    head_hash: str
    count: int
    at: str
    key_id: str


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def _payload(seq: int, head_hash: str, count: int, at: str, kid: str) -> bytes:
    return json.dumps([seq, head_hash, count, at, kid], separators=(",", ":")).encode()


def _dev_key(directory: Path) -> Ed25519PrivateKey:
    """Read the generated development key, creating it first if needed. Created under a
    temporary name and linked into place, so concurrent first callers agree on one key."""
    path = directory / DEV_KEY_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{DEV_KEY_NAME}.{os.getpid()}"
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        tmp.write_text(base64.b64encode(seed).decode() + "\n")
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return read_seed(path.read_text())


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key from ONECITY_AUDIT_SIGNING_KEY (a file holding a base64 seed or a PEM key, or
    the base64 seed itself); in demo/dev/test, a generated one when none is configured."""
    value = settings.audit_signing_key.strip()
    if not value:
        if settings.environment == "production":
            raise SigningKeyError("ONECITY_AUDIT_SIGNING_KEY is not set")
        return _dev_key(Path(settings.audit_checkpoint_dir))
    return configured_signing_key(value)


def verify_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """Public keys checkpoints may be signed with: ONECITY_AUDIT_VERIFY_KEYS (base64, for
    retired keys or a machine that only verifies) and the signing key's own public half."""
    keys: dict[str, Ed25519PublicKey] = {}
    for pub in public_keys(settings.audit_verify_keys):
        keys[key_id(pub)] = pub
    pub = signing_key(settings).public_key()
    keys[key_id(pub)] = pub
    return keys


def _file(settings: Settings) -> Path:
    return Path(settings.audit_checkpoint_dir) / FILE_NAME


def _last_line(path: Path) -> dict[str, object] | None:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().splitlines()
    except FileNotFoundError:
        return None
    try:
        last = json.loads(tail[-1]) if tail else None
    except ValueError:
        return None
    return last if isinstance(last, dict) else None


class CheckpointRefused(Exception):
    """The chain does not hold, so its head is not signed."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__(f"{len(findings)} problem(s) in the audit chain")
        self.findings = list(findings)


def _refusals(
    s: Session,
    settings: Settings,
    checkpoints: Sequence[Checkpoint],
    head: tuple[int, str],
    first: bool,
) -> list[Finding]:
    """Why the head must not be signed: the chain disagrees with a signed checkpoint, or
    does not verify from the newest one to the head, or (unless `first`) no checkpoint
    exists although the log is older than the worker would have let it go unsigned."""
    problems = check(s, checkpoints)
    if problems:
        return problems
    if checkpoints:
        latest = max(checkpoints, key=lambda c: c.seq)
        return audit.verify_from(s, latest.seq, latest.head_hash, *head)
    if not first and (missing := unsigned_too_long(s, settings, checkpoints)):
        return missing
    return audit.verify_from(s, 0, audit.GENESIS, *head)


def write_checkpoint(db: Database, settings: Settings, *, first: bool = False) -> Checkpoint | None:
    """Sign the chain's head and append it to the checkpoint file (None when the log is
    empty or nothing was added since the last checkpoint). Raises CheckpointRefused, after
    logging it, when the chain does not hold: a rewrite is never signed. `first`: sign
    although there is no checkpoint yet and the log is old (an operator's decision)."""
    key = signing_key(settings)
    checkpoints, _ = read_checkpoints(settings)
    with db.read() as s:
        head = s.get(AuditHead, 1)
        if head is None or head.seq == 0:
            return None
        seq, head_hash = int(head.seq), str(head.last_hash)
        problems = _refusals(s, settings, checkpoints, (seq, head_hash), first)
        if problems:
            # Record numbers and counts only: findings never carry a record's contents.
            log.error(
                "audit checkpoint refused: %d problem(s), first at record %d; the head "
                "(record %d) is not signed. Run `onecity audit verify`.",
                len(problems),
                problems[0].seq,
                seq,
            )
            raise CheckpointRefused(problems)
        count = int(s.execute(select(func.count()).where(AuditRecord.seq <= seq)).scalar_one())
    path = _file(settings)
    last = _last_line(path)
    if last is not None and last.get("seq") == seq and last.get("head_hash") == head_hash:
        return None
    return _append(path, key, seq, head_hash, count)


def _append(path: Path, key: Ed25519PrivateKey, seq: int, head_hash: str, count: int) -> Checkpoint:
    kid = key_id(key.public_key())
    at = utcnow().isoformat(timespec="seconds")
    signature = key.sign(_payload(seq, head_hash, count, at, kid))
    line = {
        "seq": seq,
        "head_hash": head_hash,
        "count": count,
        "at": at,
        "key_id": kid,
        "signature": base64.b64encode(signature).decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: one write per line lands whole at the end, whoever else appends at once.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Checkpoint(0, seq, head_hash, count, at, kid)


def read_checkpoints(settings: Settings) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints whose signatures verify, and a finding for every line that does not."""
    keys = verify_keys(settings)
    good: list[Checkpoint] = []
    bad: list[Finding] = []
    try:
        lines = _file(settings).read_bytes().splitlines()
    except FileNotFoundError:
        return good, bad
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        cp, problem = _parse(n, raw, keys)
        if cp is not None:
            good.append(cp)
        else:
            bad.append(Finding(0, f"checkpoint line {n}: {problem}"))
    return good, bad


def _parse(n: int, raw: bytes, keys: dict[str, Ed25519PublicKey]) -> tuple[Checkpoint | None, str]:
    try:
        d = json.loads(raw)
        cp = Checkpoint(
            n, int(d["seq"]), str(d["head_hash"]), int(d["count"]), str(d["at"]), str(d["key_id"])
        )
        signature = base64.b64decode(str(d["signature"]), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None, "not a checkpoint (unreadable line) — forged or damaged"
    public = keys.get(cp.key_id)
    if public is None:
        return None, (
            f"signed by an unknown key ({cp.key_id}) — forged, or a retired key missing "
            "from ONECITY_AUDIT_VERIFY_KEYS"
        )
    try:
        public.verify(signature, _payload(cp.seq, cp.head_hash, cp.count, cp.at, cp.key_id))
    except InvalidSignature:
        return None, "signature does not verify — forged or altered checkpoint"
    return cp, ""


def _hashes(s: Session, seqs: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(seqs))
    out: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        q = select(AuditRecord.seq, AuditRecord.hash).where(AuditRecord.seq.in_(chunk))
        out.update({int(a): str(b) for a, b in s.execute(q)})
    return out


def check(s: Session, checkpoints: Sequence[Checkpoint]) -> list[Finding]:
    """Compare the stored chain with signed checkpoints: rewrites, deletions, truncation."""
    if not checkpoints:
        return []
    found = _hashes(s, (cp.seq for cp in checkpoints))
    last_seq = s.execute(select(func.max(AuditRecord.seq))).scalar_one_or_none() or 0
    findings: list[Finding] = []
    last_good = 0
    first_bad: Checkpoint | None = None
    for cp in sorted(checkpoints, key=lambda c: (c.seq, c.line)):
        have = found.get(cp.seq)
        if have == cp.head_hash:
            if first_bad is None:
                last_good = cp.seq
        elif have is not None:
            first_bad = first_bad or cp
        elif cp.seq <= last_seq:
            findings.append(
                Finding(cp.seq, f"record deleted: the signed checkpoint of {cp.at} names it")
            )
    if first_bad is not None:
        where = (
            f"records {last_good + 1} to {first_bad.seq} rewritten; the chain matches the "
            f"checkpoints up to record {last_good}"
            if last_good
            else f"a record up to {first_bad.seq} was rewritten"
        )
        findings.append(
            Finding(
                first_bad.seq,
                "record rewritten: its hash differs from the signed checkpoint of "
                f"{first_bad.at} ({where})",
            )
        )
    latest = max(checkpoints, key=lambda c: c.seq)
    if latest.seq > last_seq:
        findings.append(
            Finding(
                latest.seq,
                f"log truncated: the signed checkpoint of {latest.at} counted {latest.count} "
                f"records up to record {latest.seq}; the log now ends at record {last_seq}",
            )
        )
    else:
        kept = s.execute(select(func.count()).where(AuditRecord.seq <= latest.seq)).scalar_one()
        if int(kept) < latest.count:
            findings.append(
                Finding(
                    latest.seq,
                    f"records deleted: the signed checkpoint of {latest.at} counted "
                    f"{latest.count} records up to record {latest.seq}; {kept} remain",
                )
            )
    return findings


def unsigned_too_long(
    s: Session, settings: Settings, checkpoints: Sequence[Checkpoint]
) -> list[Finding]:
    """A finding when the oldest record no checkpoint covers is older than twice the
    checkpoint interval: the worker signs every interval, so either the checkpoint file
    was removed, moved or emptied (none left), or it lost its latest lines, or no worker
    runs. A fresh installation whose records are newer than that is fine."""
    covered = max((cp.seq for cp in checkpoints), default=0)
    q = select(AuditRecord.at).where(AuditRecord.seq > covered).order_by(AuditRecord.seq)
    oldest = s.execute(q.limit(1)).scalar_one_or_none()
    grace = timedelta(minutes=2 * settings.audit_checkpoint_minutes)
    if oldest is None or utcnow() - oldest <= grace:
        return []
    age = int((utcnow() - oldest).total_seconds() // 60)
    if not checkpoints:
        return [
            Finding(
                0,
                f"no signed checkpoints found at {_file(settings)}, though the log has had "
                f"records for {age} minutes: the file was removed, emptied or moved, or no "
                "checkpoint worker runs (a new installation: `onecity audit checkpoint --first`)",
            )
        ]
    return [
        Finding(
            0,
            f"records after {covered} have no signed checkpoint for {age} minutes: the "
            "checkpoint file lost its latest lines, or no checkpoint worker runs",
        )
    ]


def verify(db: Database, settings: Settings) -> tuple[int, int, list[Finding]]:
    """The whole check: (records walked, signed checkpoints used, findings)."""
    checkpoints, bad_lines = read_checkpoints(settings)
    with db.read() as s:
        n, findings = audit.verify(s)
        findings = (
            findings
            + check(s, checkpoints)
            + unsigned_too_long(s, settings, checkpoints)
            + bad_lines
        )
    return n, len(checkpoints), findings
