"""Demo registry for Zhejiang, loaded through the same CSV import as real data (idempotent).

The files under data/demo_*.csv hold year placeholders such as {Y-2} (two years before the
current year in Asia/Shanghai), so that licences stay valid, the expired one stays expired and
each doctor's whole years of practice stay the same all year, whenever the demo is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.registry import importing, policies, reference, repository, service
from regio.care.registry.errors import InvalidImportFile

PROVINCE_ADCODE = "330000"
SUSPENDED_LICENCE = "DEMO-ZJIH-0901"
EXPIRED_LICENCE = "DEMO-ZJIH-0902"

_YEAR = re.compile(r"\{Y([+-]\d+)?\}")


@dataclass(frozen=True, slots=True)
class DemoRegistry:
    """Ids the platform demo loader needs to create users with the right scopes."""

    province_adcode: str
    first_hospital_id: int
    hospital_ids: list[int]  # listed ones, in file order
    suspended_hospital_id: int
    expired_hospital_id: int
    # one doctor per listed hospital who may consult online, and one pharmacist per hospital
    doctor_id_by_hospital: dict[int, int] = field(default_factory=dict)
    pharmacist_id_by_hospital: dict[int, int] = field(default_factory=dict)


def demo_text(name: str, today: date) -> str:
    """A demo file with its year placeholders filled in for `today`."""
    text = (reference.DATA_DIR / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return _YEAR.sub(lambda match: str(today.year + int(match.group(1) or 0)), body) + "\n"


async def _import(session: AsyncSession, kind: str, today: date) -> importing.ImportReport:
    data = demo_text(f"demo_{kind}.csv", today).encode("utf-8")
    report = await service.import_csv(session=session, principal=service.SYSTEM, kind=kind, data=data)
    if report.errors:
        # the demo files ship with the code; a bad row is a bug, not something to skip quietly
        raise InvalidImportFile(
            reason_zh="演示数据有误：" + "; ".join(error.line() for error in report.errors),
            reason_en="demo data is broken: " + "; ".join(error.line() for error in report.errors),
        )
    return report


async def load_demo(*, session: AsyncSession) -> DemoRegistry:
    """Loads (or refreshes) the demo hospitals, doctors and pharmacists; running it twice changes nothing."""
    today = service.today()
    for kind in ("hospitals", "doctors", "pharmacists"):
        await _import(session, kind, today)

    hospital_rows = importing.read_csv("hospitals", demo_text("demo_hospitals.csv", today).encode()).rows
    doctor_rows = importing.read_csv("doctors", demo_text("demo_doctors.csv", today).encode()).rows
    hospitals = await repository.hospitals_by_licence(
        session, [values["licence_no"] for _, values in hospital_rows]
    )
    doctors = await repository.doctor_ids_by_licence(
        session, [values["licence_no"] for _, values in doctor_rows]
    )

    listed = [
        hospitals[values["licence_no"]].id
        for _, values in hospital_rows
        if values["licence_no"] not in (SUSPENDED_LICENCE, EXPIRED_LICENCE)
    ]
    doctor_by_hospital: dict[int, int] = {}
    for _, values in doctor_rows:
        hospital_id = hospitals[values["hospital_licence_no"]].id
        since = date.fromisoformat(values["independent_practice_since"])
        eligible = policies.may_consult_online(
            real_name_verified=values["real_name_verified"] in importing.YES,
            independent_practice_since=since,
            today=today,
        )
        if eligible and hospital_id not in doctor_by_hospital:
            doctor_by_hospital[hospital_id] = doctors[values["licence_no"]]

    pharmacist_by_hospital: dict[int, int] = {}
    for hospital in hospitals.values():
        for pharmacist in await repository.pharmacists_at(session, hospital.id):
            pharmacist_by_hospital.setdefault(hospital.id, pharmacist.id)
    registry = DemoRegistry(
        province_adcode=PROVINCE_ADCODE,
        first_hospital_id=listed[0],
        hospital_ids=listed,
        suspended_hospital_id=hospitals[SUSPENDED_LICENCE].id,
        expired_hospital_id=hospitals[EXPIRED_LICENCE].id,
        doctor_id_by_hospital=doctor_by_hospital,
        pharmacist_id_by_hospital=pharmacist_by_hospital,
    )
    await session.rollback()  # only reads since the last import; end their transaction
    return registry


async def doctor_id(*, session: AsyncSession, licence_no: str) -> int:
    """The id of one demo doctor by licence number (the demo gives some of them accounts and rosters)."""
    found = await repository.doctor_ids_by_licence(session, [licence_no])
    await session.rollback()  # a read only; end its transaction
    return found[licence_no]
