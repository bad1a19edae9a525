"""Append-only, hash-chained audit log: who did what, when, from where, and how it ended.

Each record's hash covers its own fields and the previous record's hash, so editing a record
breaks its own hash and deleting one breaks the sequence or the chain. The single `audit_head`
row is updated first in every append, which serialises appenders on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onecity.core.db import Database, insert_for, utcnow
from onecity.core.models import AuditHead, AuditRecord

GENESIS = "0" * 64


def record_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    source: str,
    outcome: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, at.isoformat(), actor, action, target, source, outcome, detail, prev_hash],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str = "ok",
    target: str = "",
    source: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one record in the caller's transaction (it commits with the change it describes)."""
    bump = (
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    )
    head = session.execute(bump).one_or_none()
    if head is None:
        # The very first record. Two first appenders may race: ON CONFLICT makes the loser
        # wait for the winner's head row and then take the next number after it.
        session.execute(
            insert_for(session)(AuditHead)
            .values(id=1, seq=0, last_hash=GENESIS)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        head = session.execute(bump).one()
    seq, prev = int(head[0]), str(head[1])
    now = utcnow()
    at = now.replace(microsecond=(now.microsecond // 1000) * 1000)
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor": actor[:100],
        "action": action,
        "target": target[:200],
        "source": source[:64],
        "outcome": outcome,
        "detail": detail or {},
    }
    h = record_hash(prev_hash=prev, **fields)
    rec = AuditRecord(prev_hash=prev, hash=h, **fields)
    session.add(rec)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=h))
    return rec


def recent(db: Database, before: int | None, limit: int) -> list[AuditRecord]:
    """The newest `limit` records, newest first; with `before`, those older than that seq."""
    q = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
    if before:
        q = q.where(AuditRecord.seq < before)
    with db.read() as s:
        return list(s.execute(q).scalars())


@dataclass(frozen=True)
class Finding:
    seq: int
    problem: str


def _walk(
    rows: Iterable[AuditRecord], expected_seq: int, prev: str, findings: list[Finding]
) -> tuple[int, int, str]:
    """Check records in order, starting after the record whose hash is `prev`. Returns
    (records checked, the next expected seq, the last record's hash)."""
    count = 0
    for rec in rows:
        count += 1
        if rec.seq != expected_seq:
            for missing in range(expected_seq, rec.seq):
                findings.append(Finding(missing, "record deleted (sequence gap)"))
        if rec.prev_hash != prev:
            findings.append(Finding(rec.seq, "chain broken: previous hash does not match"))
        recomputed = record_hash(
            seq=rec.seq,
            at=rec.at,
            actor=rec.actor,
            action=rec.action,
            target=rec.target,
            source=rec.source,
            outcome=rec.outcome,
            detail=rec.detail,
            prev_hash=rec.prev_hash,
        )
        if recomputed != rec.hash:
            findings.append(Finding(rec.seq, "record edited: contents do not match its hash"))
        prev = rec.hash
        expected_seq = rec.seq + 1
    return count, expected_seq, prev


def _check_head(
    session: Session, count: int, expected_seq: int, prev: str, findings: list[Finding]
) -> None:
    head = session.get(AuditHead, 1)
    if head is None and count:
        findings.append(Finding(expected_seq - 1, "chain tip (audit_head) deleted"))
    if head is not None:
        if head.seq >= expected_seq:
            for missing in range(expected_seq, head.seq + 1):
                findings.append(Finding(missing, "record deleted (after the last one kept)"))
        elif head.last_hash != prev:
            findings.append(Finding(head.seq, "chain tip does not match the last record"))


def verify(session: Session) -> tuple[int, list[Finding]]:
    """Walk the chain. Returns (records checked, findings); no findings means intact."""
    findings: list[Finding] = []
    rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars()
    count, expected_seq, prev = _walk(rows, 1, GENESIS, findings)
    _check_head(session, count, expected_seq, prev, findings)
    return count, findings


def verify_from(
    session: Session, seq: int, hash_at_seq: str, head: int, head_hash: str
) -> list[Finding]:
    """Walk the chain from the record after `seq`, whose hash is known to be `hash_at_seq`
    (a signed checkpoint's, or GENESIS at 0), up to the head read before (`head`,
    `head_hash`): what a new checkpoint would vouch for. Records appended meanwhile are
    left to the next checkpoint."""
    findings: list[Finding] = []
    q = (
        select(AuditRecord)
        .where(AuditRecord.seq > seq, AuditRecord.seq <= head)
        .order_by(AuditRecord.seq)
    )
    _, expected_seq, prev = _walk(session.execute(q).scalars(), seq + 1, hash_at_seq, findings)
    for missing in range(expected_seq, head + 1):
        findings.append(Finding(missing, "record deleted (after the last one kept)"))
    if expected_seq == head + 1 and prev != head_hash:
        findings.append(Finding(head, "chain tip does not match the last record"))
    return findings
