"""Citizens' reports about iTrash stations, through the city's one Open311 endpoint.

Two service codes: a station that is broken and a compartment that is full. A report opens a
crew job (or joins the open job for the same problem, so ten reports of one full compartment
send one truck), and the crew's closing of that job answers every report it carries: the
citizen sees the request closed, with the crew's note."""

from __future__ import annotations

from sqlalchemy.orm import Session

from onecity.core.errors import Invalid
from onecity.core.models import Device, Open311Request
from onecity.core.open311 import Attribute, AttributeValue, Open311Service
from onecity.waste.jobs.monitor import StationMonitor
from onecity.waste.monitoring.readings import AlertKind
from onecity.waste.monitoring.telemetry import COMPARTMENTS
from onecity.waste.rules.stations import STATION_TYPE

BROKEN = "waste.station_broken"
FULL = "waste.station_full"
# The department that runs the stations in the bundled city profiles (docs/waste.md).
DEPARTMENT = "epb"

_COMPARTMENT_NAMES = {
    "garbage": {"zh-TW": "一般垃圾", "en": "Garbage"},
    "recycling_pet": {"zh-TW": "寶特瓶回收", "en": "PET bottles"},
    "recycling_can": {"zh-TW": "鋁罐回收", "en": "Cans"},
}
# What a citizen can tell is wrong; the first four are the faults the station reports itself.
PROBLEMS = {
    "card_reader": {"zh-TW": "刷卡機無法感應", "en": "The card reader does not work"},
    "door": {"zh-TW": "投入口打不開或關不上", "en": "A door will not open or close"},
    "scale": {"zh-TW": "秤重異常", "en": "The weight shown is wrong"},
    "printer_paper": {"zh-TW": "收據印不出來", "en": "No receipt comes out"},
    "other": {"zh-TW": "其他問題", "en": "Something else"},
}

_STATION = Attribute(
    code="station_id",
    description={"zh-TW": "站點編號（站上標示）", "en": "Station number (shown on the station)"},
    datatype="string",
    required=True,
)
_COMPARTMENT = Attribute(
    code="compartment",
    description={"zh-TW": "哪一個投入口", "en": "Which compartment"},
    datatype="singlevaluelist",
    values=tuple(AttributeValue(k, v) for k, v in _COMPARTMENT_NAMES.items()),
)


def _station(s: Session, row: Open311Request) -> Device:
    sid = str(row.attributes.get("station_id", "")).strip()
    dev = s.get(Device, sid) if sid else None
    if dev is None or dev.type != STATION_TYPE:
        raise Invalid(
            f"no iTrash station '{sid}': give the number shown on the station",
            field="attribute[station_id]",
        )
    return dev


def _on_full(s: Session, row: Open311Request) -> None:
    dev = _station(s, row)
    compartment = str(row.attributes.get("compartment") or "garbage")
    if compartment not in COMPARTMENTS:  # the catalog checked it; this keeps the job sane
        raise Invalid(f"unknown compartment '{compartment}'", field="attribute[compartment]")
    StationMonitor().citizen_report(s, dev, AlertKind.FULL, compartment, None, row)


def _on_broken(s: Session, row: Open311Request) -> None:
    dev = _station(s, row)
    problem = str(row.attributes.get("problem") or "other")
    compartment = row.attributes.get("compartment")
    StationMonitor().citizen_report(
        s, dev, AlertKind.FAULT, str(compartment) if compartment else None, problem, row
    )


SERVICES = (
    Open311Service(
        service_code=FULL,
        service_name={"zh-TW": "智慧垃圾站已滿", "en": "iTrash station full"},
        department_code=DEPARTMENT,
        description={
            "zh-TW": "投入口已滿、無法投入。清運班會收到工作單。",
            "en": "A compartment is full and refuses deposits. A collection crew gets a job.",
        },
        group={"zh-TW": "智慧垃圾站", "en": "iTrash stations"},
        keywords=("itrash", "garbage", "full", "垃圾", "滿"),
        attributes=(_STATION, _COMPARTMENT),
        service_notice={
            "zh-TW": "清運班目標於 4 小時內到場。",
            "en": "A crew aims to be there within 4 hours.",
        },
        on_request=_on_full,
    ),
    Open311Service(
        service_code=BROKEN,
        service_name={"zh-TW": "智慧垃圾站故障", "en": "iTrash station broken"},
        department_code=DEPARTMENT,
        description={
            "zh-TW": "站點故障（刷卡、投入口、秤重、收據等）。維修班會收到工作單。",
            "en": "Something at the station does not work (card, door, scale, receipt…). "
            "A repair crew gets a job.",
        },
        group={"zh-TW": "智慧垃圾站", "en": "iTrash stations"},
        keywords=("itrash", "broken", "repair", "故障"),
        attributes=(
            _STATION,
            Attribute(
                code="problem",
                description={"zh-TW": "哪裡故障", "en": "What is wrong"},
                datatype="singlevaluelist",
                required=True,
                values=tuple(AttributeValue(k, v) for k, v in PROBLEMS.items()),
            ),
            _COMPARTMENT,
        ),
        service_notice={
            "zh-TW": "維修班目標於 24 小時內修復。",
            "en": "A repair crew aims to fix it within 24 hours.",
        },
        on_request=_on_broken,
    ),
)
