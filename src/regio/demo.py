"""The demo region: Zhejiang's hospitals, one user per role, and a patient with family members.

Everything here is fictional demo data (names, ID numbers, phones, licence numbers) and is
refused outside development and test, so a production database never holds a known password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking import service as booking_service
from regio.care.booking.schemas import TemplateIn
from regio.care.patients import service as patients_service
from regio.care.patients.errors import PatientExists, SelfAlreadyRegistered
from regio.care.patients.models import Relation
from regio.care.records import demo as records_demo
from regio.care.registry import demo as registry_demo
from regio.care.registry import service as registry_service
from regio.config import Settings
from regio.core.access import Principal, Role, RoleGrant, ScopeKind
from regio.core.errors import DomainError
from regio.core.identity import passwords
from regio.core.identity import repository as identity_repository
from regio.core.identity import service as identity_service
from regio.core.identity.errors import UsernameTaken
from regio.core.identity.models import User
from regio.core.identity.service import principal_for_user
from regio.core.sms import MemorySmsGateway

# One shared demo password keeps the printed list short; it is only ever accepted in development.
DEMO_PASSWORD = "regio-demo-2026"  # noqa: S105 (demo data, refused in production)


@dataclass(frozen=True)
class DemoUser:
    role: str
    username: str
    display_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("patient", "zhangwei", "张伟"),
    DemoUser("doctor", "dr_chen", "陈医生"),
    DemoUser("pharmacist", "pharm_wang", "王药师"),
    DemoUser("hospital_admin", "hosp_admin", "医院管理员"),
    DemoUser("quality_officer", "qc_zhou", "周质控"),
    DemoUser("health_admin", "zj_health", "浙江省卫健委"),
    DemoUser("city_officer", "hz_officer", "杭州市应急管理局"),
    DemoUser("coordinator", "yrd_coord", "长三角协调办"),
    DemoUser("evaluator", "evaluator", "第三方评估员"),
    DemoUser("regulator", "regulator", "监管员"),
    DemoUser("platform_admin", "admin", "平台管理员"),
)


def _check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(digit) * weight for digit, weight in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def demo_id_number(area: str, born: date, sequence: str) -> str:
    """A well-formed GB 11643 number for a fictional person (valid check digit, made-up sequence)."""
    first17 = f"{area}{born:%Y%m%d}{sequence}"
    return first17 + _check_digit(first17)


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    phone: str
    relation: Relation


def demo_family(today: date) -> tuple[DemoPerson, ...]:
    """张伟 himself, his mother (elderly) and his daughter (under 6, so a guardian must be present)."""
    child_born = date(today.year - 4, 6, 1)
    return (
        DemoPerson("张伟", demo_id_number("330106", date(1986, 3, 15), "123"), "13800138000", Relation.self_),
        DemoPerson(
            "李秀英", demo_id_number("330102", date(1952, 9, 9), "024"), "13900139000", Relation.parent
        ),
        DemoPerson("张小宝", demo_id_number("330106", child_born, "042"), "13800138000", Relation.child),
    )


def _grants(role: str, registry: registry_demo.DemoRegistry) -> list[RoleGrant]:
    hospital = str(registry.first_hospital_id)
    by_role = {
        "patient": RoleGrant(Role.patient, ScopeKind.platform, ""),
        "doctor": RoleGrant(Role.doctor, ScopeKind.hospital, hospital),
        "pharmacist": RoleGrant(Role.pharmacist, ScopeKind.hospital, hospital),
        "hospital_admin": RoleGrant(Role.hospital_admin, ScopeKind.hospital, hospital),
        "quality_officer": RoleGrant(Role.quality_officer, ScopeKind.hospital, hospital),
        "health_admin": RoleGrant(Role.health_admin, ScopeKind.region, registry.province_adcode),
        "city_officer": RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100"),
        "coordinator": RoleGrant(Role.coordinator, ScopeKind.coordination_body, "yangtze-river-delta"),
        "evaluator": RoleGrant(Role.evaluator, ScopeKind.platform, ""),
        "regulator": RoleGrant(Role.regulator, ScopeKind.platform, ""),
        "platform_admin": RoleGrant(Role.platform_admin, ScopeKind.platform, ""),
    }
    return [by_role[role]]


async def load(*, session: AsyncSession, settings: Settings) -> list[DemoUser]:
    """Loads the demo region; running it again changes nothing and prints the same logins."""
    if settings.environment not in ("development", "test"):
        raise RuntimeError("demo data is refused when REGIO_ENVIRONMENT is not development or test")
    registry = await registry_demo.load_demo(session=session)
    password_hash = await passwords.hash_password(DEMO_PASSWORD)
    for demo_user in DEMO_USERS:
        try:
            await identity_service.create_user_with_hash(
                session=session,
                username=demo_user.username,
                password_hash=password_hash,
                display_name=demo_user.display_name,
                grants=_grants(demo_user.role, registry),
            )
        except UsernameTaken:
            pass  # loaded on an earlier run
    # A refused insert rolled back and expired what the session held: read the users afresh.
    users: dict[str, User] = {}
    for demo_user in DEMO_USERS:
        found = await identity_repository.user_by_username(session, demo_user.username)
        assert found is not None
        users[demo_user.role] = found
    admin = await principal_for_user(session, users["platform_admin"])
    patient = await principal_for_user(session, users["patient"])
    officer = await principal_for_user(session, users["city_officer"])
    doctor = await principal_for_user(session, users["doctor"])
    await session.commit()
    await _link_staff(session, registry, users, admin)
    await _register_family(session, settings, patient)
    await _load_rosters(session, settings, registry)
    await records_demo.load_demo(
        session=session, settings=settings, patient=patient, hospital_id=registry.first_hospital_id
    )
    from regio.care.prescription import demo as prescription_demo

    await prescription_demo.load_demo(
        session=session,
        settings=settings,
        hospital_ids=registry.hospital_ids[:5],
        province_adcode=registry.province_adcode,
        doctor=doctor,
    )
    from regio.care.patients import service as patients_service
    from regio.care.payment import demo as payment_demo
    from regio.care.reports import demo as reports_demo

    await payment_demo.load_demo(
        session=session, settings=settings, patient=patient, region_adcode=registry.province_adcode
    )

    family = await patients_service.list_patients(session=session, settings=settings, principal=patient)
    await reports_demo.load_demo(
        session=session,
        settings=settings,
        patient_ids=[item.patient.id for item in family],
        hospital_id=registry.first_hospital_id,
    )
    psychiatrist = await _load_psychiatrist(session, password_hash, admin)
    await _load_duty_rosters(session, settings, registry)
    await _load_geography(session)
    from regio.risk.warnings import demo as warnings_demo

    officers = await warnings_demo.load_demo(session=session, password=DEMO_PASSWORD)
    await _load_risk_report(session, settings, officer)
    return list(DEMO_USERS) + [psychiatrist] + [DemoUser(*officer) for officer in officers]


# A psychiatrist with an account, so that an urgent PHQ-9 result reaches a doctor (fictional data).
PSYCHIATRIST = DemoUser("doctor", "dr_li", "李医生（精神心理科）")
PSYCHIATRIST_LICENCE = "DEMO-D-000032"  # 精神心理科 psychiatry at a Wenzhou hospital in demo_doctors.csv
PSYCHIATRY = "psychiatry"
FEVER_CLINIC = "fever_clinic"  # 发热门诊: open around the clock in real hospitals


async def _load_psychiatrist(session: AsyncSession, password_hash: str, admin: Principal) -> DemoUser:
    """Gives the demo psychiatrist an account with the doctor role at the hospital he practises in."""
    doctor_id = await registry_demo.doctor_id(session=session, licence_no=PSYCHIATRIST_LICENCE)
    doctor = await registry_service.require_may_consult_online(session=session, doctor_id=doctor_id)
    hospital_id = next(s.hospital_id for s in doctor.sites if s.department_code == PSYCHIATRY)
    try:
        await identity_service.create_user_with_hash(
            session=session,
            username=PSYCHIATRIST.username,
            password_hash=password_hash,
            display_name=PSYCHIATRIST.display_name,
            grants=[RoleGrant(Role.doctor, ScopeKind.hospital, str(hospital_id))],
        )
    except UsernameTaken:
        pass  # loaded on an earlier run
    user = await identity_repository.user_by_username(session, PSYCHIATRIST.username)
    assert user is not None
    user_id = user.id  # before any rollback expires it
    await session.commit()
    try:
        await registry_service.link_doctor_user(
            session=session, principal=admin, doctor_id=doctor_id, user_id=user_id
        )
    except DomainError:
        pass  # linked on an earlier run
    return PSYCHIATRIST


async def _load_duty_rosters(
    session: AsyncSession, settings: Settings, registry: registry_demo.DemoRegistry
) -> None:
    """Round-the-clock duty, so that a quick question and an urgent PHQ-9 alert find a doctor at any hour.

    dr_chen staffs his hospital's fever clinic 24 hours a day and dr_li psychiatry likewise, every day,
    in hour-long slots of one place (the morning roster's half-hour slots of two stay as they were).
    Where dr_chen's morning roster already covers the fever clinic, his duty starts when it ends.
    """
    chen = registry.doctor_id_by_hospital[registry.first_hospital_id]
    li = await registry_demo.doctor_id(session=session, licence_no=PSYCHIATRIST_LICENCE)
    li_doctor = await registry_service.require_may_consult_online(session=session, doctor_id=li)
    li_hospital = next(s.hospital_id for s in li_doctor.sites if s.department_code == PSYCHIATRY)
    for hospital_id, doctor_id, department in (
        (registry.first_hospital_id, chen, FEVER_CLINIC),
        (li_hospital, li, PSYCHIATRY),
    ):
        roster = await booking_service.list_templates(
            session=session, principal=booking_service.SYSTEM, hospital_id=hospital_id
        )
        mine = [t for t in roster if t.doctor_id == doctor_id and t.department_code == department]
        if any(t.slot_minutes == 60 for t in mine):
            continue  # loaded on an earlier run
        morning = any(t.start_time == time(8) and t.end_time == time(12) for t in mine)
        start, end = (time(12), time(8)) if morning else (time(0), time(0))  # end <= start: the next day
        for weekday in range(7):
            await booking_service.create_template(
                session=session,
                principal=booking_service.SYSTEM,
                data=TemplateIn(
                    hospital_id=hospital_id,
                    department_code=department,
                    doctor_id=doctor_id,
                    weekday=weekday,
                    start_time=start,
                    end_time=end,
                    modes=["text", "voice", "video"],
                    slot_minutes=60,
                    capacity_per_slot=1,
                    fee_fen=3000,
                ),
            )
    await booking_service.materialise(
        session=session, settings=settings, principal=booking_service.SYSTEM, days=7
    )


# A yellow (level 3) rainstorm risk on the Hangzhou–Huzhou border, so that the events list and both
# cities' dashboards have something to show. Its fixed CAP identifier makes a second load a no-op.
DEMO_REPORT_IDENTIFIER = "regio-330100-demo-rainstorm"
DEMO_REPORT_POLYGON = "30.40,119.90 30.70,119.90 30.70,120.30 30.40,120.30 30.40,119.90"


async def _load_risk_report(session: AsyncSession, settings: Settings, principal: Principal) -> None:
    """Hangzhou reports the demo rainstorm risk; the warnings to the cities it reaches follow."""
    from datetime import timedelta

    from regio.core.db import utcnow
    from regio.risk import flows
    from regio.risk.events import service as events_service
    from regio.risk.events.enums import Category, Certainty, Kind, Source, Urgency
    from regio.risk.events.errors import IdentifierTaken
    from regio.risk.events.schemas import AreaIn, ReportIn
    from regio.risk.geography.enums import Level

    now = utcnow()
    data = ReportIn(
        category=Category.natural_disaster,
        event_type="rainstorm",
        kind=Kind.risk,
        warning_level=3,
        certainty=Certainty.likely,
        urgency=Urgency.expected,
        origin_level=Level.prefecture,
        origin_adcode="330100",
        area=AreaIn(cap_polygons=[DEMO_REPORT_POLYGON]),
        detected_at=now - timedelta(hours=1),
        expires_at=now + timedelta(days=3),
        headline="杭州—湖州交界暴雨内涝风险（演示）",
        description="演示数据：未来24小时余杭、德清一带累计降雨可达100毫米以上，低洼地带可能内涝。",
        instruction="低洼地带人员注意转移，地下空间做好防汛准备。",
    )
    try:
        change = await events_service.report(
            session=session,
            principal=principal,
            holder=flows.process_index_holder(),
            data=data,
            source=Source.form,
            sender=events_service.default_sender(settings.base_url),
            duplicate_window_hours=settings.risk_duplicate_window_hours,
            identifier=DEMO_REPORT_IDENTIFIER,
        )
    except IdentifierTaken:
        return  # reported on an earlier run
    try:
        await flows.journey(session=session, bus=None, event_id=change.event.id, settings=settings)
    except Exception:  # the report's own outbox message runs the journey again, as after any report
        logging.getLogger("regio.demo").exception("the demo report's warnings are left to the outbox")
        await session.rollback()


# The Yangtze River Delta's boundaries take seconds; `regio risk geography load` loads all of China.
DEMO_PROVINCES = ("31", "32", "33", "34")


async def _load_geography(session: AsyncSession) -> None:
    """Shanghai, Jiangsu, Zhejiang and Anhui with their borders, and the coordination bodies."""
    import asyncio

    from regio.risk.geography import loader
    from regio.risk.geography import service as geography_service

    bundle = await asyncio.to_thread(loader.load_bundle, DEMO_PROVINCES)
    await geography_service.load_geography(session=session, principal=geography_service.SYSTEM, bundle=bundle)
    await geography_service.seed_bodies(session=session, principal=geography_service.SYSTEM)


async def _link_staff(
    session: AsyncSession, registry: registry_demo.DemoRegistry, users: dict[str, User], admin: Principal
) -> None:
    """Gives the demo doctor and pharmacist accounts their registry records at the first hospital."""
    hospital = registry.first_hospital_id
    doctor_user_id, pharmacist_user_id = users["doctor"].id, users["pharmacist"].id  # before any rollback
    try:
        await registry_service.link_doctor_user(
            session=session,
            principal=admin,
            doctor_id=registry.doctor_id_by_hospital[hospital],
            user_id=doctor_user_id,
        )
    except DomainError:
        pass  # linked on an earlier run
    try:
        await registry_service.link_pharmacist_user(
            session=session,
            principal=admin,
            pharmacist_id=registry.pharmacist_id_by_hospital[hospital],
            user_id=pharmacist_user_id,
        )
    except DomainError:
        pass


async def _register_family(session: AsyncSession, settings: Settings, principal: Principal) -> None:
    """Registers 张伟, then binds his mother and his small daughter to his account.

    An adult is bound only with her consent: the code goes to his mother's phone (here a gateway in
    memory) and is confirmed, as when she reads it out to him.
    """
    phone = MemorySmsGateway()
    for person in demo_family(registry_service.today()):
        try:
            answer = await patients_service.register_patient(
                session=session,
                settings=settings,
                principal=principal,
                name=person.name,
                id_number=person.id_number,
                phone=person.phone,
                relation=person.relation,
                sms=phone,
            )
        except (PatientExists, SelfAlreadyRegistered):
            continue  # registered on an earlier run
        code = phone.last_code(person.phone)
        if answer.consent is not None and code is not None:
            await patients_service.confirm_code(
                session=session,
                settings=settings,
                principal=principal,
                claim_id=answer.consent.claim_id,
                code=code,
            )


async def _load_rosters(
    session: AsyncSession, settings: Settings, registry: registry_demo.DemoRegistry
) -> None:
    """A weekly roster for each listed hospital's demo doctor, made into bookable slots for 7 days.

    Mornings 08:00–12:00 every day, 30-minute slots of 2 places, text or video; run again, it adds nothing.
    """
    for hospital_id, doctor_id in registry.doctor_id_by_hospital.items():
        if await booking_service.list_templates(
            session=session, principal=booking_service.SYSTEM, hospital_id=hospital_id
        ):
            continue
        doctor = await registry_service.require_may_consult_online(session=session, doctor_id=doctor_id)
        site = next((s for s in doctor.sites if s.hospital_id == hospital_id), None)
        if site is None:
            continue
        for weekday in range(7):
            await booking_service.create_template(
                session=session,
                principal=booking_service.SYSTEM,
                data=TemplateIn(
                    hospital_id=hospital_id,
                    department_code=site.department_code,
                    doctor_id=doctor_id,
                    weekday=weekday,
                    start_time=time(8),
                    end_time=time(12),
                    modes=["text", "video"],
                    slot_minutes=30,
                    capacity_per_slot=2,
                    fee_fen=2000,
                ),
            )
    await booking_service.materialise(
        session=session, settings=settings, principal=booking_service.SYSTEM, days=7
    )


def login_lines(users: list[DemoUser]) -> list[str]:
    """One line per user: role, username, password, separated by spaces."""
    return [f"{user.role} {user.username} {DEMO_PASSWORD}" for user in users]
