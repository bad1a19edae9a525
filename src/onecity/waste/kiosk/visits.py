"""The two visits a station serves once the card is read: a garbage drop (door, scale,
tariff, charge) and a recycling run (bottles and cans one by one, rebate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecity.waste.kiosk.cards import CardAdapter, CardState, CardWrite
from onecity.waste.kiosk.cardwrite import CardWriter, Write
from onecity.waste.kiosk.hardware import (
    TAIPEI,
    Clock,
    DoorJam,
    Hardware,
    Item,
    RejectReason,
    ScaleError,
)
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.records import Intent
from onecity.waste.kiosk.screen import MATERIALS, Bi, Screen, SessionResult, kg, reason_text
from onecity.waste.kiosk.states import MAX_ITEMS_PER_VISIT, Kind, Outcome, State, Stop, Timeouts
from onecity.waste.rules.money import (
    CARD_MAX_BALANCE,
    MIN_BALANCE_TO_OPEN,
    Material,
    RuleError,
    Tariff,
    TariffTable,
    can_open_door,
    check_weight,
    rebate,
)


class Visits:
    def __init__(
        self,
        journal: Journal,
        hardware: Hardware,
        clock: Clock,
        display: Screen,
        timeouts: Timeouts,
        writer: CardWriter,
    ) -> None:
        self.journal = journal
        self.hw = hardware
        self.clock = clock
        self.display = display
        self.timeouts = timeouts
        self.writer = writer

    # --- garbage ----------------------------------------------------------------------

    def garbage(self, card: CardAdapter, st: CardState, result: SessionResult) -> None:
        refuse = self.display.refuse
        if not can_open_door(st.balance):
            raise refuse(Outcome.LOW_BALANCE, balance=st.balance, minimum=MIN_BALANCE_TO_OPEN)
        if self.hw.fill.garbage_full():
            raise refuse(Outcome.COMPARTMENT_FULL)
        table = self.journal.tariff_table()
        self._tariff(table, self.clock.now())  # none in force: refuse before the door opens
        grams = self._weigh()
        occurred = self.clock.now()
        tariff = self._tariff(table, occurred)
        charge = tariff.charge(grams)
        if charge > st.balance:
            raise refuse(
                Outcome.INSUFFICIENT_VALUE,
                data={"grams": grams, "charge": charge, "balance": st.balance, "kept": True},
                kg=kg(grams),
                charge=charge,
                balance=st.balance,
            )
        tariff_from = tariff.effective_from.isoformat()

        def build(w: CardWrite, it: Intent) -> dict[str, Any]:
            return self.writer.payload(w, it, grams=grams, tariff_from=tariff_from)

        req = Write(Kind.GARBAGE, -charge, None, occurred, build, {"grams": grams})
        w, it = self.writer.write(card, st, req)
        self.writer.settled(
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

    def _tariff(self, table: TariffTable, at: datetime) -> Tariff:
        try:
            return table.on(at.astimezone(TAIPEI).date())
        except RuleError as e:
            raise self.display.refuse(Outcome.TARIFF_UNAVAILABLE, data={"error": str(e)}) from e

    def _weigh(self) -> int:
        """Open the door for the deposit, close it, weigh what came in."""
        hw, show, refuse = self.hw, self.display.show, self.display.refuse
        try:
            hw.scale.tare()
        except ScaleError as e:
            raise refuse(Outcome.SCALE_ERROR, data={"error": str(e)}) from e
        seconds = f"{self.timeouts.deposit_s:g}"
        try:
            hw.door.open()
            show(State.DOOR_OPEN, "door_open", seconds=seconds)
            closed = hw.door.wait_closed(self.timeouts.deposit_s)
            if closed:
                show(State.DOOR_OPEN, "door_closed")
            else:
                show(State.DOOR_OPEN, "door_auto_close")
                hw.door.close()
        except DoorJam as e:
            self.journal.set_out_of_service(f"door jam: {e}")
            show(State.OUT_OF_SERVICE, "door_jam", data={"error": str(e)})
            raise Stop(Outcome.DOOR_JAM) from e
        show(State.WEIGHING, "weighing")
        try:
            grams = hw.scale.read_grams()
        except ScaleError as e:
            raise refuse(Outcome.SCALE_ERROR, data={"error": str(e)}) from e
        if grams <= 0:
            if closed:
                raise refuse(Outcome.NO_DEPOSIT, "nothing_weighed")
            raise refuse(Outcome.NO_DEPOSIT, "no_deposit", seconds=seconds)
        try:
            check_weight(grams)
        except RuleError as e:
            raise refuse(
                Outcome.SCALE_ERROR, "weight_out_of_range", data={"grams": grams}, kg=kg(grams)
            ) from e
        return grams

    # --- recycling --------------------------------------------------------------------

    def recycle(self, card: CardAdapter, st: CardState, result: SessionResult) -> None:
        refuse = self.display.refuse
        if self.hw.fill.recycle_full():
            raise refuse(Outcome.BIN_FULL)
        self.display.show(State.RECYCLING, "recycle_ready")
        accepted, rejected = self._take_items()
        if not accepted:
            raise refuse(Outcome.NOTHING_ACCEPTED, rejected=len(rejected))
        try:
            r = rebate(st.points, [i.material for i in accepted if i.material is not None])
        except RuleError as e:
            raise refuse(Outcome.CARD_REFUSED, "card_refused", reason=Bi(str(e), str(e))) from e
        if st.balance + r.ntd > CARD_MAX_BALANCE:
            raise refuse(
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

        def build(w: CardWrite, it: Intent) -> dict[str, Any]:
            return self.writer.payload(w, it, items=items, rejected=refused)

        detail = {"items": len(items), "rejected": len(refused)}
        req = Write(Kind.RECYCLE, r.ntd, r.points_left, self.clock.now(), build, detail)
        w, it = self.writer.write(card, st, req)
        pet = sum(1 for i in items if i["material"] == Material.PET.value)
        self.writer.settled(
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

    def _take_items(self) -> tuple[list[Item], list[tuple[str, str]]]:
        """Bottles and cans one at a time until the citizen stops, the bin fills or the
        visit reaches the protocol's limit: (accepted, (barcode, reason) handed back)."""
        show = self.display.show
        accepted: list[Item] = []
        rejected: list[tuple[str, str]] = []
        while True:
            if len(accepted) + len(rejected) >= MAX_ITEMS_PER_VISIT:
                show(State.RECYCLING, "item_limit", max=MAX_ITEMS_PER_VISIT)
                break
            item = self.hw.recogniser.next_item(self.timeouts.item_s)
            if item is None:
                break
            if item.accepted and item.material is not None:
                accepted.append(item)
                show(
                    State.RECYCLING,
                    "item_accepted",
                    data={"barcode": item.barcode, "material": item.material.value},
                    material=MATERIALS[item.material],
                    n=len(accepted),
                )
                if self.hw.fill.recycle_full():
                    show(State.RECYCLING, "bin_full_now")
                    break
            else:
                reason = item.reject_reason or RejectReason.WRONG_MATERIAL
                rejected.append((item.barcode, reason))
                show(
                    State.RECYCLING,
                    "item_rejected",
                    data={"barcode": item.barcode, "reason": reason},
                    barcode=item.barcode or "?",
                    reason=reason_text(reason),
                )
        return accepted, rejected
