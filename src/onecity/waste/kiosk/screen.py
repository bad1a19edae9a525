"""What the station's screen says, in zh-TW and English, and the screen itself: every line
it shows is also an event in the journal (link codes masked unless the station keeps them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from onecity.waste.kiosk.hardware import Clock, RejectReason, local_iso
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.states import Kind, Outcome, State, Stop
from onecity.waste.rules.linkcode import MASKED
from onecity.waste.rules.money import Material


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


class Screen:
    """The screen of one station: the state it shows, the card in the reader, the lines of
    the current visit."""

    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        callback: Callable[[ScreenLine], None] | None,
        *,
        journal_link_codes: bool,
        state: State,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.callback = callback
        # The journal keeps the screen's link codes masked: a copy of its file must not link
        # cards. Only the demo's simulated stations keep them, to let a visitor try linking.
        self.journal_link_codes = journal_link_codes
        self.state = state
        self.card_id: str | None = None
        self.lines: list[ScreenLine] = []

    def show(
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
            local_iso(self.clock.now()), state, code, text.zh, text.en, self.card_id, txn_seq
        )
        kept = text
        if not self.journal_link_codes:
            if "link" in kw:
                kept = render(code, **(kw | {"link": MASKED}))
            if data is not None and data.get("link_code"):
                data = data | {"link_code": MASKED}
        self.journal.event(
            state, code, kept.zh, kept.en, card_id=self.card_id, terminal_seq=txn_seq, data=data
        )
        self.lines.append(line)
        if self.callback is not None:
            self.callback(line)
        return line

    def refuse(self, outcome: Outcome, code: str | None = None, **kw: Any) -> Stop:
        """Say why the visit ends here; the Stop to raise."""
        self.show(self.state, code or outcome.value, **kw)
        return Stop(outcome)
