"""One citizen's visit to the station, as an explicit state machine.

Garbage:   IDLE → CARD_READ → DOOR_OPEN → WEIGHING → SETTLED → RECEIPT → IDLE
Recycling: IDLE → CARD_READ → RECYCLING → SETTLED → RECEIPT → IDLE
A door jam sends the station to OUT_OF_SERVICE until a technician calls `repair`.

Every transition and every refusal is an event in the journal, with what the screen shows in
zh-TW and English.

The money path's order is what makes the station crash-safe:

1. take a transaction number and commit an *intent* (what is about to be written) — before
   the card is touched;
2. write the card; if the citizen pulls it mid-write, ask for it again and retry with the
   SAME number (the card answers a retry with its first result), at most `max_retries`
   times; if it never comes back, the intent ends `unknown` (an event, not a transaction);
3. commit the transaction right after the card write returns — before printing;
4. print; an empty paper roll is an event and a flag, never a lost transaction.

On restart, an intent with no transaction (the station stopped between 2 and 3) becomes an
"unknown outcome" event. A number is never handed out twice.

A drop that costs more than the card holds (possible only near NT$100 with a heavy drop: the
door opens at NT$100 and 50 kg costs up to NT$1,100): the card cannot go below zero and the
server recomputes the charge from the tariff, so a partial charge would be refused. The
station does not write the card at all: it keeps the garbage (it cannot hand it back),
charges nothing and journals an `insufficient_value` refusal with card, weight and charge so
the city can follow up. Likewise a rebate that would take a card over NT$10,000."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from onecity.waste.kiosk.cards import CardAdapter, CardError, CardState, CardWrite
from onecity.waste.kiosk.hardware import (
    TAIPEI,
    Clock,
    DoorJam,
    Hardware,
    HardwareFault,
    Item,
    RejectReason,
    ScaleError,
    local_iso,
)
from onecity.waste.kiosk.journal import BatchBusy, Intent, Journal, Settlement
from onecity.waste.rules.linkcode import LINK_CODE_VALID, MASKED, new_code
from onecity.waste.rules.money import (
    CARD_MAX_BALANCE,
    MIN_BALANCE_TO_OPEN,
    Material,
    RuleError,
    can_open_door,
    check_weight,
    rebate,
)

MAX_ITEMS_PER_VISIT = 500  # the protocol's limit on items in one transaction


class State(StrEnum):
    IDLE = "idle"
    CARD_READ = "card_read"
    DOOR_OPEN = "door_open"
    WEIGHING = "weighing"
    SETTLED = "settled"
    RECEIPT = "receipt"
    RECYCLING = "recycling"
    OUT_OF_SERVICE = "out_of_service"


class Kind(StrEnum):
    GARBAGE = "garbage"
    RECYCLE = "recycle"


class Outcome(StrEnum):
    NO_CARD = "no_card"
    CHARGED = "charged"
    CREDITED = "credited"
    OUT_OF_SERVICE = "out_of_service"
    CARD_PULLED = "card_pulled"
    CARD_BLOCKED = "card_blocked"
    NOT_SIGNED_ON = "not_signed_on"
    LOW_BALANCE = "low_balance"
    COMPARTMENT_FULL = "compartment_full"
    BIN_FULL = "bin_full"
    TARIFF_UNAVAILABLE = "tariff_unavailable"
    NO_DEPOSIT = "no_deposit"
    DOOR_JAM = "door_jam"
    SCALE_ERROR = "scale_error"
    INSUFFICIENT_VALUE = "insufficient_value"
    OVER_CARD_LIMIT = "over_card_limit"
    NOTHING_ACCEPTED = "nothing_accepted"
    CARD_REFUSED = "card_refused"
    UNKNOWN_OUTCOME = "unknown_outcome"


class Bi(NamedTuple):
    """A value that reads differently in each language."""

    zh: str
    en: str


MESSAGES: dict[str, Bi] = {
    "card_read": Bi("餘額 NT${balance}", "balance NT${balance}"),
    "card_pulled": Bi("卡片已取出，本次未扣款", "card removed; no charge"),
    "card_blocked": Bi("此卡已停用，請洽市政府", "card blocked; please contact the city"),
    "not_signed_on": Bi(
        "本站尚未完成開機連線，暫不受理刷卡",
        "this station has not signed on to the city yet; it takes no cards until it has",
    ),
    "low_balance": Bi(
        "餘額 NT${balance}，未達 NT${minimum}，請先加值",
        "balance NT${balance} is below NT${minimum}; please top up",
    ),
    "compartment_full": Bi(
        "垃圾箱已滿，請至其他站點", "garbage compartment full; please use another station"
    ),
    "bin_full": Bi("回收箱已滿，請至其他站點", "recycling bin full; please use another station"),
    "out_of_service": Bi("暫停服務：{reason}", "out of service: {reason}"),
    "tariff_unavailable": Bi("無適用費率，暫停收費", "no tariff in force today; cannot charge"),
    "door_open": Bi(
        "投入口已開啟 · 請於 {seconds} 秒內投入", "door open · deposit within {seconds} s"
    ),
    "door_closed": Bi("投入口已關閉", "door closed"),
    "door_auto_close": Bi("投入時間結束，投入口關閉中", "deposit time over · closing the door"),
    "door_jam": Bi("投入口故障，暫停服務；本次未扣款", "door jammed; out of service, no charge"),
    "weighing": Bi("秤重中…", "weighing…"),
    "no_deposit": Bi(
        "{seconds} 秒內未投入，投入口已關閉，未扣款",
        "nothing deposited within {seconds} s; door closed, no charge",
    ),
    "nothing_weighed": Bi("未測得重量，未扣款", "no weight on the scale; no charge"),
    "scale_error": Bi("秤重異常，本次不收費", "scale error; no charge"),
    "weight_out_of_range": Bi(
        "重量 {kg} kg 超出範圍，本次不收費", "{kg} kg is out of range; no charge"
    ),
    "insufficient_value": Bi(
        "{kg} kg 應付 NT${charge}，餘額 NT${balance} 不足；未扣款，請加值",
        "{kg} kg costs NT${charge}, more than the NT${balance} on the card; "
        "not charged, please top up",
    ),
    "over_card_limit": Bi(
        "回饋 NT${ntd} 將超過卡片上限 NT${limit}；未入帳",
        "a NT${ntd} rebate would take the card over NT${limit}; not credited",
    ),
    "reinsert": Bi(
        "請重新插入卡片（{attempt}/{max}）", "please re-insert your card ({attempt}/{max})"
    ),
    "wrong_card": Bi("這不是原本的卡片 {card}", "this is not card {card}"),
    "unknown_outcome": Bi(
        "卡片未插回，交易 {station}/{seq} 結果未知，請洽服務人員",
        "card not returned; outcome of {station}/{seq} unknown, please contact service",
    ),
    "recovered_unknown": Bi(
        "重新啟動：交易 {station}/{seq}（{card}）結果未知",
        "restart: outcome of {station}/{seq} ({card}) unknown",
    ),
    "card_refused": Bi("卡片拒絕交易：{reason}", "the card refused: {reason}"),
    "settled_garbage": Bi(
        "{kg} kg · NT${charge} · 餘額 {before} → {after} · 收據 {station}/批次 {batch}/序號 {seq}",
        "{kg} kg · NT${charge} · balance {before} → {after} · "
        "receipt {station}/batch {batch}/seq {seq}",
    ),
    "settled_recycle": Bi(
        "{n} 件 · +NT${ntd} · 點數 {p0} → {p1} · 餘額 {before} → {after} · "
        "收據 {station}/批次 {batch}/序號 {seq}",
        "{n} items · +NT${ntd} · points {p0} → {p1} · balance {before} → {after} · "
        "receipt {station}/batch {batch}/seq {seq}",
    ),
    "link_code": Bi(
        "綁定碼 {link}：{until} 前可於「我的卡片」將本卡綁定至您的帳號（限用一次）",
        "link code {link}: link this card to your account under My cards by {until} (once)",
    ),
    "receipt": Bi("請取收據", "receipt printed"),
    "paper_out": Bi(
        "收據紙用完；交易已記錄：{station}/批次 {batch}/序號 {seq}",
        "receipt paper out; the transaction is recorded: {station}/batch {batch}/seq {seq}",
    ),
    "take_card": Bi("請取回卡片", "please take your card"),
    "recycle_ready": Bi(
        "請逐一投入寶特瓶或鋁罐", "feed PET bottles and aluminium cans one at a time"
    ),
    "item_accepted": Bi("✓ {material} · 已收 {n} 件", "✓ {material} · {n} accepted"),
    "item_rejected": Bi("✗ {barcode} 退回：{reason}", "✗ {barcode} handed back: {reason}"),
    "bin_full_now": Bi("回收箱已滿，停止收件", "recycling bin now full; no more items"),
    "item_limit": Bi("單次最多 {max} 件", "at most {max} items per visit"),
    "nothing_accepted": Bi(
        "沒有可回收的物品（退回 {rejected} 件），未入帳",
        "nothing accepted ({rejected} handed back); no credit",
    ),
    "batch_closed": Bi(
        "批次 {batch} 結帳：{count} 筆，扣款 NT${debit}，回饋 NT${credit}",
        "batch {batch} closed: {count} transactions, charged NT${debit}, rebated NT${credit}",
    ),
    "repaired": Bi("維修完成，恢復服務", "repaired; back in service"),
}

REASONS: dict[str, Bi] = {
    RejectReason.UNKNOWN_BARCODE: Bi("條碼不在回收清單", "unknown barcode"),
    RejectReason.NOT_EMPTY: Bi("容器內仍有液體", "not empty"),
    RejectReason.WRONG_MATERIAL: Bi(
        "非寶特瓶或鋁罐", "wrong material (PET bottles and aluminium cans only)"
    ),
    RejectReason.UNREADABLE_LABEL: Bi("標籤無法辨識", "label unreadable"),
    RejectReason.CRUSHED: Bi("容器壓扁無法辨識", "crushed; cannot be identified"),
    "insufficient_value": Bi("餘額不足", "not enough value on the card"),
    "card_blocked": Bi("此卡已停用", "card blocked"),
    "over_card_limit": Bi("超過卡片儲值上限", "over the card's limit"),
}

MATERIALS: dict[Material, Bi] = {
    Material.PET: Bi("寶特瓶", "PET bottle"),
    Material.ALUMINIUM: Bi("鋁罐", "aluminium can"),
}


def render(code: str, **kw: Any) -> Bi:
    """The screen text for `code` in both languages."""
    tpl = MESSAGES[code]
    zh_kw = {k: v.zh if isinstance(v, Bi) else v for k, v in kw.items()}
    en_kw = {k: v.en if isinstance(v, Bi) else v for k, v in kw.items()}
    return Bi(tpl.zh.format(**zh_kw), tpl.en.format(**en_kw))


def reason_text(code: str, fallback: str = "") -> Bi:
    return REASONS.get(code, Bi(fallback or code, fallback or code))


def kg(grams: int) -> str:
    return f"{grams / 1000:.2f}"


@dataclass(frozen=True)
class ScreenLine:
    """One thing the screen showed."""

    at: str
    state: State
    code: str
    zh: str
    en: str
    card_id: str | None = None
    terminal_seq: int | None = None

    def text(self, lang: str = "en") -> str:
        body = {"en": self.en, "zh": self.zh}.get(lang, f"{self.zh} / {self.en}")
        return f"{self.card_id} · {body}" if self.card_id else body


@dataclass
class SessionResult:
    kind: Kind
    outcome: Outcome
    card_id: str | None = None
    terminal_seq: int | None = None
    batch_no: int | None = None
    txn: dict[str, Any] | None = None
    receipt_printed: bool = False
    lines: list[ScreenLine] = field(default_factory=list)

    @property
    def amount(self) -> int:
        return 0 if self.txn is None else int(self.txn["amount"])


@dataclass(frozen=True)
class Timeouts:
    deposit_s: float = 15.0  # the citizen has this long to deposit once the door opens
    reinsert_s: float = 20.0  # per request to put a pulled card back
    item_s: float = 20.0  # between bottles; after that the visit is over


def recover_open_intents(journal: Journal) -> list[Intent]:
    """After a restart: an intent with no transaction is an unknown outcome. The card may
    or may not have been written; the server's reconciliation will tell (a counter gap)."""
    found = journal.open_intents()
    for it in found:
        journal.resolve_intent(
            it.terminal_seq, "unknown", "the station stopped between the card write and the journal"
        )
        text = render(
            "recovered_unknown", station=journal.station, seq=it.terminal_seq, card=it.card_id
        )
        journal.event(
            State.IDLE,
            "unknown_outcome",
            text.zh,
            text.en,
            card_id=it.card_id,
            terminal_seq=it.terminal_seq,
            data={
                "kind": it.kind,
                "amount": it.amount,
                "points_after": it.points_after,
                "batch_no": it.batch_no,
                "occurred_at": it.occurred_at,
                "detail": it.detail,
                "cause": "restart",
            },
        )
    return found


def batch_due(opened_at: datetime, now: datetime, batch_minutes: float | None) -> bool:
    """Is the open batch due to close: after `batch_minutes`, or else at local midnight."""
    if batch_minutes is not None:
        return now - opened_at >= timedelta(minutes=batch_minutes)
    return now.astimezone(TAIPEI).date() > opened_at.astimezone(TAIPEI).date()


def close_batch_now(journal: Journal, state: State = State.IDLE) -> Settlement:
    """Close the open batch (totals from the journal), open the next, and say so.
    BatchBusy while a card write of the batch is in flight."""
    s = journal.close_batch()
    text = render(
        "batch_closed",
        batch=s.batch_no,
        count=s.count,
        debit=s.debit_total,
        credit=s.credit_total,
    )
    journal.event(state, "batch_closed", text.zh, text.en, data=s.payload())
    return s


class _Stop(Exception):
    """Ends a visit early with its outcome (the screen already said why)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


BuildTxn = Callable[[CardWrite, Intent], dict[str, Any]]


class KioskMachine:
    """The station's session logic over its hardware and its journal.

    `session(kind)` serves one citizen: it waits for a card on the reader and runs the
    visit to the end (the card is always handed back). `screen` is called with every line
    the screen shows."""

    def __init__(
        self,
        station: str,
        journal: Journal,
        hardware: Hardware,
        clock: Clock,
        *,
        screen: Callable[[ScreenLine], None] | None = None,
        timeouts: Timeouts | None = None,
        max_retries: int = 3,
        link_codes: Callable[[], str] = new_code,
        journal_link_codes: bool = False,
    ) -> None:
        if journal.station != station:
            raise ValueError(f"the journal belongs to station {journal.station}")
        self.station = station
        self.journal = journal
        self.hw = hardware
        self.clock = clock
        self.screen = screen
        self.timeouts = timeouts or Timeouts()
        self.max_retries = max_retries
        self.link_codes = link_codes  # a fresh one-time code per transaction (linkcode.py)
        # The journal keeps the screen's link codes masked: a copy of its file must not link
        # cards. Only the demo's simulated stations keep them, to let a visitor try linking.
        self.journal_link_codes = journal_link_codes
        self.recovered = recover_open_intents(journal)
        self.state = State.OUT_OF_SERVICE if journal.out_of_service() else State.IDLE
        self._lines: list[ScreenLine] = []
        self._card_id: str | None = None

    # --- the screen -----------------------------------------------------------------

    def _show(
        self,
        state: State,
        code: str,
        *,
        txn_seq: int | None = None,
        data: dict[str, Any] | None = None,
        **kw: Any,
    ) -> ScreenLine:
        self.state = state
        text = render(code, **kw)
        line = ScreenLine(
            local_iso(self.clock.now()), state, code, text.zh, text.en, self._card_id, txn_seq
        )
        kept = text
        if not self.journal_link_codes:
            if "link" in kw:
                kept = render(code, **(kw | {"link": MASKED}))
            if data is not None and data.get("link_code"):
                data = data | {"link_code": MASKED}
        self.journal.event(
            state, code, kept.zh, kept.en, card_id=self._card_id, terminal_seq=txn_seq, data=data
        )
        self._lines.append(line)
        if self.screen is not None:
            self.screen(line)
        return line

    def _refuse(self, outcome: Outcome, code: str | None = None, **kw: Any) -> _Stop:
        self._show(self.state, code or outcome.value, **kw)
        return _Stop(outcome)

    # --- operations -------------------------------------------------------------------

    @property
    def out_of_service(self) -> bool:
        return self.state is State.OUT_OF_SERVICE

    def take_out_of_service(self, reason: str) -> None:
        self.journal.set_out_of_service(reason)
        self._card_id = None
        self._show(State.OUT_OF_SERVICE, "out_of_service", reason=reason)

    def repair(self) -> None:
        """A technician fixed the station."""
        self.journal.set_out_of_service(None)
        self._card_id = None
        self._show(State.IDLE, "repaired")

    def close_batch(self) -> Settlement | None:
        """Close the open batch now (None while a card write is in flight)."""
        try:
            s = self.journal.close_batch()
        except BatchBusy:
            return None
        self._card_id = None
        self._show(
            self.state,
            "batch_closed",
            data=s.payload(),
            batch=s.batch_no,
            count=s.count,
            debit=s.debit_total,
            credit=s.credit_total,
        )
        return s

    # --- a visit ----------------------------------------------------------------------

    def session(self, kind: Kind, card_timeout_s: float = 1.0) -> SessionResult:
        """Serve one citizen at the garbage door or the bottle/can intake."""
        self._lines = []
        self._card_id = None
        result = SessionResult(kind, Outcome.NO_CARD, lines=self._lines)
        card = self.hw.reader.wait_for_card(card_timeout_s)
        if card is None:
            return result
        self.journal.add("sessions")
        try:
            self._serve(kind, card, result)
        except _Stop as stop:
            result.outcome = stop.outcome
        except HardwareFault as e:  # a device failed in a way the visit does not handle
            self.journal.set_out_of_service(f"{e.code}: {e}")
            self._show(State.OUT_OF_SERVICE, "out_of_service", reason=f"{e.code}: {e}")
            result.outcome = Outcome.OUT_OF_SERVICE
        finally:
            self.hw.reader.eject()
            after = State.OUT_OF_SERVICE if self.journal.out_of_service() else State.IDLE
            self._show(after, "take_card")
            self._card_id = None
        return result

    def _serve(self, kind: Kind, card: CardAdapter, result: SessionResult) -> None:
        oos = self.journal.out_of_service()
        if oos is not None:
            raise self._refuse(Outcome.OUT_OF_SERVICE, reason=oos)
        try:
            st = card.read()
        except CardError as e:
            raise self._refuse(Outcome.CARD_PULLED, "card_pulled", data={"code": e.code}) from e
        self._card_id = result.card_id = st.card_id
        self._show(State.CARD_READ, "card_read", data={"kind": kind.value}, balance=st.balance)
        if self.journal.blocklist_version() is None:
            # Never signed on: without the blocklist it could take value from a blocked card
            # that the city would then refuse to record. After one sign-on it works offline.
            raise self._refuse(Outcome.NOT_SIGNED_ON)
        if st.blocked or self.journal.is_blocked(st.card_id):
            raise self._refuse(Outcome.CARD_BLOCKED)
        if kind is Kind.GARBAGE:
            self._garbage(card, st, result)
        else:
            self._recycle(card, st, result)

    def _garbage(self, card: CardAdapter, st: CardState, result: SessionResult) -> None:
        hw, t = self.hw, self.timeouts
        if not can_open_door(st.balance):
            raise self._refuse(Outcome.LOW_BALANCE, balance=st.balance, minimum=MIN_BALANCE_TO_OPEN)
        if hw.fill.garbage_full():
            raise self._refuse(Outcome.COMPARTMENT_FULL)
        table = self.journal.tariff_table()
        try:
            table.on(self.clock.now().astimezone(TAIPEI).date())
        except RuleError as e:
            raise self._refuse(Outcome.TARIFF_UNAVAILABLE, data={"error": str(e)}) from e
        try:
            hw.scale.tare()
        except ScaleError as e:
            raise self._refuse(Outcome.SCALE_ERROR, data={"error": str(e)}) from e
        seconds = f"{t.deposit_s:g}"
        try:
            hw.door.open()
            self._show(State.DOOR_OPEN, "door_open", seconds=seconds)
            closed = hw.door.wait_closed(t.deposit_s)
            if closed:
                self._show(State.DOOR_OPEN, "door_closed")
            else:
                self._show(State.DOOR_OPEN, "door_auto_close")
                hw.door.close()
        except DoorJam as e:
            self.journal.set_out_of_service(f"door jam: {e}")
            self._show(State.OUT_OF_SERVICE, "door_jam", data={"error": str(e)})
            raise _Stop(Outcome.DOOR_JAM) from e
        self._show(State.WEIGHING, "weighing")
        try:
            grams = hw.scale.read_grams()
        except ScaleError as e:
            raise self._refuse(Outcome.SCALE_ERROR, data={"error": str(e)}) from e
        if grams <= 0:
            if closed:
                raise self._refuse(Outcome.NO_DEPOSIT, "nothing_weighed")
            raise self._refuse(Outcome.NO_DEPOSIT, "no_deposit", seconds=seconds)
        try:
            check_weight(grams)
        except RuleError as e:
            raise self._refuse(
                Outcome.SCALE_ERROR, "weight_out_of_range", data={"grams": grams}, kg=kg(grams)
            ) from e
        occurred = self.clock.now()
        try:
            tariff = table.on(occurred.astimezone(TAIPEI).date())
        except RuleError as e:
            raise self._refuse(Outcome.TARIFF_UNAVAILABLE, data={"error": str(e)}) from e
        charge = tariff.charge(grams)
        if charge > st.balance:
            raise self._refuse(
                Outcome.INSUFFICIENT_VALUE,
                data={"grams": grams, "charge": charge, "balance": st.balance, "kept": True},
                kg=kg(grams),
                charge=charge,
                balance=st.balance,
            )
        tariff_from = tariff.effective_from.isoformat()

        def build(w: CardWrite, it: Intent) -> dict[str, Any]:
            return self._payload(w, it, grams=grams, tariff_from=tariff_from)

        w, it = self._write(
            card, st, Kind.GARBAGE, -charge, None, occurred, build, {"grams": grams}
        )
        self._settled(
            result,
            it,
            "settled_garbage",
            receipt=[
                f"Garbage 垃圾 {kg(grams)} kg  (tariff {tariff_from})",
                f"Charge 扣款 NT${charge}",
                f"Balance 餘額 NT${w.balance_before} -> NT${w.balance_after}",
            ],
            kg=kg(grams),
            charge=charge,
            before=w.balance_before,
            after=w.balance_after,
        )

    def _recycle(self, card: CardAdapter, st: CardState, result: SessionResult) -> None:
        hw = self.hw
        if hw.fill.recycle_full():
            raise self._refuse(Outcome.BIN_FULL)
        self._show(State.RECYCLING, "recycle_ready")
        accepted: list[Item] = []
        rejected: list[tuple[str, str]] = []
        while True:
            if len(accepted) + len(rejected) >= MAX_ITEMS_PER_VISIT:
                self._show(State.RECYCLING, "item_limit", max=MAX_ITEMS_PER_VISIT)
                break
            item = hw.recogniser.next_item(self.timeouts.item_s)
            if item is None:
                break
            if item.accepted and item.material is not None:
                accepted.append(item)
                self._show(
                    State.RECYCLING,
                    "item_accepted",
                    data={"barcode": item.barcode, "material": item.material.value},
                    material=MATERIALS[item.material],
                    n=len(accepted),
                )
                if hw.fill.recycle_full():
                    self._show(State.RECYCLING, "bin_full_now")
                    break
            else:
                reason = item.reject_reason or RejectReason.WRONG_MATERIAL
                rejected.append((item.barcode, reason))
                self._show(
                    State.RECYCLING,
                    "item_rejected",
                    data={"barcode": item.barcode, "reason": reason},
                    barcode=item.barcode or "?",
                    reason=reason_text(reason),
                )
        if not accepted:
            raise self._refuse(Outcome.NOTHING_ACCEPTED, rejected=len(rejected))
        try:
            r = rebate(st.points, [i.material for i in accepted if i.material is not None])
        except RuleError as e:
            raise self._refuse(
                Outcome.CARD_REFUSED, "card_refused", reason=Bi(str(e), str(e))
            ) from e
        if st.balance + r.ntd > CARD_MAX_BALANCE:
            raise self._refuse(
                Outcome.OVER_CARD_LIMIT,
                data={"ntd": r.ntd, "balance": st.balance, "items": len(accepted)},
                ntd=r.ntd,
                limit=CARD_MAX_BALANCE,
            )
        items = [
            {"barcode": i.barcode, "material": i.material.value}
            for i in accepted
            if i.material is not None
        ]
        refused = [{"barcode": b, "reason": why} for b, why in rejected]
        occurred = self.clock.now()

        def build(w: CardWrite, it: Intent) -> dict[str, Any]:
            return self._payload(w, it, items=items, rejected=refused)

        w, it = self._write(
            card,
            st,
            Kind.RECYCLE,
            r.ntd,
            r.points_left,
            occurred,
            build,
            {"items": len(items), "rejected": len(refused)},
        )
        pet = sum(1 for i in items if i["material"] == Material.PET.value)
        self._settled(
            result,
            it,
            "settled_recycle",
            receipt=[
                f"PET 寶特瓶 {pet}  Aluminium 鋁罐 {len(items) - pet}  "
                f"Handed back 退回 {len(refused)}",
                f"Rebate 回饋 NT${w.amount}  Points 點數 {w.points_before} -> {w.points_after}",
                f"Balance 餘額 NT${w.balance_before} -> NT${w.balance_after}",
            ],
            n=len(items),
            ntd=w.amount,
            p0=w.points_before,
            p1=w.points_after,
            before=w.balance_before,
            after=w.balance_after,
        )

    # --- the card write ---------------------------------------------------------------

    def _payload(
        self,
        w: CardWrite,
        it: Intent,
        *,
        grams: int | None = None,
        tariff_from: str | None = None,
        items: list[dict[str, str]] | None = None,
        rejected: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The protocol's Txn, from what the card answered."""
        return {
            "terminal_seq": it.terminal_seq,
            "batch_no": it.batch_no,
            "kind": it.kind,
            "occurred_at": it.occurred_at,
            "card_id": w.card_id,
            "card_counter": w.counter,
            "amount": w.amount,
            "balance_before": w.balance_before,
            "balance_after": w.balance_after,
            "points_before": w.points_before,
            "points_after": w.points_after,
            "grams": grams,
            "tariff_from": tariff_from,
            "items": items or [],
            "rejected": rejected or [],
            "link_code": self.link_codes(),
        }

    def _write(
        self,
        card: CardAdapter,
        st: CardState,
        kind: Kind,
        amount: int,
        points_after: int | None,
        occurred: datetime,
        build: BuildTxn,
        detail: dict[str, Any],
    ) -> tuple[CardWrite, Intent]:
        it = self.journal.open_intent(
            kind.value, st.card_id, amount, points_after, local_iso(occurred), detail
        )
        self.state = State.SETTLED
        seq = it.terminal_seq
        current: CardAdapter | None = card
        prompts = 0
        while True:
            if current is not None:
                try:
                    if amount < 0:
                        w = current.debit(-amount, self.station, seq)
                    else:
                        w = current.credit(amount, self.station, seq, points_after=points_after)
                except CardError as e:
                    if e.code != "card_removed":
                        self._card_refused(it, e.code, str(e))
                    current = None
                except RuleError as e:
                    self._card_refused(it, "card_rule", str(e))
                else:
                    self.journal.record_transaction(seq, build(w, it))
                    return w, it
            if prompts >= self.max_retries:
                self.journal.resolve_intent(
                    seq, "unknown", f"the card was not returned after {prompts} requests"
                )
                self._show(
                    State.SETTLED,
                    "unknown_outcome",
                    txn_seq=seq,
                    data={
                        "kind": kind.value,
                        "amount": amount,
                        "points_after": points_after,
                        "batch_no": it.batch_no,
                        "occurred_at": it.occurred_at,
                        "detail": detail,
                        "cause": "card_not_returned",
                    },
                    station=self.station,
                    seq=seq,
                )
                raise _Stop(Outcome.UNKNOWN_OUTCOME)
            prompts += 1
            self._show(
                State.SETTLED, "reinsert", txn_seq=seq, attempt=prompts, max=self.max_retries
            )
            back = self.hw.reader.wait_for_card(self.timeouts.reinsert_s)
            if back is None:
                continue
            try:
                back_id = back.read().card_id
            except CardError:
                continue
            if back_id != st.card_id:
                self._show(State.SETTLED, "wrong_card", txn_seq=seq, card=st.card_id)
                self.hw.reader.eject()
                continue
            current = back

    def _card_refused(self, it: Intent, code: str, message: str) -> None:
        """The card said no: nothing was written. The number stays used."""
        self.journal.resolve_intent(it.terminal_seq, "refused", f"{code}: {message}")
        outcome = {
            "insufficient_value": Outcome.INSUFFICIENT_VALUE,
            "over_card_limit": Outcome.OVER_CARD_LIMIT,
            "card_blocked": Outcome.CARD_BLOCKED,
        }.get(code, Outcome.CARD_REFUSED)
        self._show(
            State.SETTLED,
            "card_refused",
            seq=it.terminal_seq,
            data={"code": code, "message": message, "amount": it.amount},
            reason=reason_text(code, message),
        )
        raise _Stop(outcome)

    def _settled(
        self,
        result: SessionResult,
        it: Intent,
        code: str,
        *,
        receipt: list[str],
        **kw: Any,
    ) -> None:
        seq, batch = it.terminal_seq, it.batch_no
        txn = self.journal.transaction(seq)
        result.terminal_seq, result.batch_no, result.txn = seq, batch, txn
        result.outcome = Outcome.CHARGED if it.kind == Kind.GARBAGE else Outcome.CREDITED
        ref = {"station": self.station, "batch": batch, "seq": seq}
        self._show(State.SETTLED, code, txn_seq=seq, data=txn, **ref, **kw)
        occurred = datetime.fromisoformat(it.occurred_at)
        local = occurred.strftime("%Y-%m-%d %H:%M:%S")
        lines = [
            "OneCity iTrash 臺北市智慧垃圾站",
            f"Station 站號 {self.station}  Batch 批次 {batch}  Seq 序號 {seq}",
            f"{local}  Card 卡號 {it.card_id}",
            *receipt,
        ]
        link = txn.get("link_code") if txn else None
        if link:
            # On the screen too: a citizen without a receipt (paper out, or none wanted).
            until = (occurred + LINK_CODE_VALID).strftime("%Y-%m-%d %H:%M")
            self._show(State.SETTLED, "link_code", txn_seq=seq, link=link, until=until)
            lines.append(f"Link code 綁定碼 {link}  (until 至 {until}, once 限用一次)")
        try:
            self.hw.printer.print_receipt(lines)
        except HardwareFault as e:
            self.journal.put("paper_out", True)
            self._show(State.RECEIPT, "paper_out", txn_seq=seq, data={"error": str(e)}, **ref)
            return
        if self.journal.get("paper_out"):
            self.journal.put("paper_out", False)
        result.receipt_printed = True
        self._show(State.RECEIPT, "receipt", txn_seq=seq)
