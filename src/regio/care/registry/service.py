"""The registry's only writer, and the reads the portal and the API answer with.

Writes: one transaction each, audited, duplicates decided by unique constraints and status
changes by a conditional UPDATE on the row's version. Reads show only listed hospitals to the
public; doctors' and pharmacists' licence numbers show in full only to admins, and such a read
is audited. Doctors' names, titles and departments are the professional facts hospitals publish,
so masked public reads are not audited.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.registry import errors, importing, policies, reference, repository
from regio.care.registry.enums import LEVEL_EN, TITLE_EN, DoctorTitle, HospitalLevel, HospitalStatus
from regio.care.registry.models import Doctor, Hospital, Pharmacist
from regio.care.registry.policies import Action, HospitalRef, Problem
from regio.care.registry.schemas import (
    CityOut,
    DepartmentOut,
    DepartmentsIn,
    DoctorIn,
    DoctorOut,
    DoctorPage,
    HospitalIn,
    HospitalOut,
    HospitalPage,
    HospitalPatch,
    PharmacistIn,
    PharmacistOut,
    PracticeSiteIn,
    PracticeSiteOut,
)
from regio.core import audit
from regio.core.access import SYSTEM, Principal, ScopeKind, require
from regio.core.db import integrity_error_mentions, transaction, utcnow
from regio.core.errors import DomainError, Forbidden
from regio.core.identity import scopes

# The operator running `regio care import` and `regio demo load` on the server itself: the platform's
# one SYSTEM principal, named here too because the CLI and the demo loader reach it through this module.
__all__ = ["SYSTEM"]

MAX_PAGE_SIZE = 50


def today() -> date:
    """Today's date in China, the day licences and years of practice are counted on."""
    return policies.shanghai_today(utcnow())


def _ref(hospital: Hospital) -> HospitalRef:
    return HospitalRef(id=hospital.id, region_adcode=hospital.region_adcode)


def _raise_first(problems: list[Problem]) -> None:
    """Refuses with the first problem's code; the details list every problem found."""
    if problems:
        error = problems[0].as_error()
        error.details["problems"] = [
            {
                "field": p.field,
                "code": p.error.code,
                "message_zh": p.reason("zh"),
                "message_en": p.reason("en"),
            }
            for p in problems
        ]
        raise error


async def _reload_hospital(session: AsyncSession, hospital_id: int) -> Hospital:
    """A hospital this transaction just wrote, read back with its departments."""
    hospital = await repository.get_hospital(session, hospital_id)
    if hospital is None:
        raise RuntimeError(f"hospital {hospital_id} vanished inside the transaction that wrote it")
    return hospital


async def _reload_doctor(session: AsyncSession, doctor_id: int) -> Doctor:
    """A doctor this transaction just wrote, read back with their sites."""
    doctor = await repository.get_doctor(session, doctor_id)
    if doctor is None:
        raise RuntimeError(f"doctor {doctor_id} vanished inside the transaction that wrote it")
    return doctor


async def _reload_pharmacist(session: AsyncSession, pharmacist_id: int) -> Pharmacist:
    """A pharmacist this transaction just wrote, read back with their hospital."""
    pharmacist = await repository.get_pharmacist(session, pharmacist_id)
    if pharmacist is None:
        raise RuntimeError(f"pharmacist {pharmacist_id} vanished inside the transaction that wrote it")
    return pharmacist


# ---- views -------------------------------------------------------------------------------------------


def department_view(code: str) -> DepartmentOut:
    """A standard department as the API shows it."""
    department = reference.departments_by_code()[code]
    return DepartmentOut(
        code=department.code,
        name_zh=department.name_zh,
        name_en=department.name_en,
        catalogue_code=department.catalogue_code,
        around_the_clock=department.around_the_clock,
    )


def _hospital_view(hospital: Hospital, on: date) -> HospitalOut:
    codes = [
        d.department_code
        for d in hospital.departments
        if d.department_code in reference.departments_by_code()
    ]
    return HospitalOut(
        id=hospital.id,
        name=hospital.name,
        name_en=hospital.name_en,
        level=hospital.level,
        level_en=LEVEL_EN.get(HospitalLevel(hospital.level), hospital.level),
        city_adcode=hospital.city_adcode,
        city_name_zh=reference.city_name(hospital.city_adcode, "zh"),
        city_name_en=reference.city_name(hospital.city_adcode, "en"),
        region_adcode=hospital.region_adcode,
        address=hospital.address,
        licence_no=hospital.licence_no,
        licence_valid_from=hospital.licence_valid_from,
        licence_valid_to=hospital.licence_valid_to,
        status=hospital.status,
        listed=_listed(hospital, on),
        version=hospital.version,
        department_count=len(codes),
        departments=[department_view(code) for code in codes],
    )


def _listed(hospital: Hospital, on: date) -> bool:
    return policies.is_listed(
        status=hospital.status,
        licence_valid_from=hospital.licence_valid_from,
        licence_valid_to=hospital.licence_valid_to,
        today=on,
    )


def _doctor_view(
    doctor: Doctor, *, on: date, vis: policies.Visibility, full_licence: bool, hospital_id: int | None = None
) -> DoctorOut:
    """Shows only the sites at hospitals the viewer may see (and, if given, at one hospital)."""
    sites = [
        site
        for site in doctor.practice_sites
        if policies.hospital_visible(vis, _ref(site.hospital), listed=_listed(site.hospital, on))
        and (hospital_id is None or site.hospital_id == hospital_id)
    ]
    blocks = policies.consult_blocks(
        real_name_verified=doctor.real_name_verified,
        independent_practice_since=doctor.independent_practice_since,
        today=on,
    )
    return DoctorOut(
        id=doctor.id,
        real_name=doctor.real_name,
        title=doctor.title,
        title_en=TITLE_EN.get(DoctorTitle(doctor.title), doctor.title),
        licence_no=doctor.licence_no if full_licence else policies.mask_licence(doctor.licence_no),
        licence_masked=not full_licence,
        years_of_practice=policies.full_years_between(doctor.independent_practice_since, on),
        real_name_verified=doctor.real_name_verified,
        may_consult_online=not blocks,
        consult_blocks=[block.value for block in blocks],
        sites=[
            PracticeSiteOut(
                hospital_id=site.hospital_id,
                hospital_name=site.hospital.name,
                department_code=site.department_code,
                department_name_zh=department_view(site.department_code).name_zh,
                department_name_en=department_view(site.department_code).name_en,
            )
            for site in sites
        ],
    )


def _pharmacist_view(pharmacist: Pharmacist, *, full_licence: bool) -> PharmacistOut:
    return PharmacistOut(
        id=pharmacist.id,
        real_name=pharmacist.real_name,
        licence_no=pharmacist.licence_no if full_licence else policies.mask_licence(pharmacist.licence_no),
        licence_masked=not full_licence,
        hospital_id=pharmacist.hospital_id,
        hospital_name=pharmacist.hospital.name,
    )


# ---- reference data ----------------------------------------------------------------------------------


def list_departments() -> list[DepartmentOut]:
    """The standard department list (医疗机构诊疗科目名录 naming)."""
    return [department_view(department.code) for department in reference.departments()]


def list_cities() -> list[CityOut]:
    """The cities the portal offers as a filter."""
    return [
        CityOut(adcode=place.adcode, name_zh=place.name_zh, name_en=place.name_en)
        for place in reference.known_cities().values()
    ]


def _check_filters(city: str | None, department: str | None) -> str | None:
    if city:
        problem = policies.adcode_problem("city", city, reference.places())
        if problem:
            raise problem.as_error()
    if department:
        code = reference.department_code_for(department)
        if code is None:
            raise errors.UnknownDepartment(field="department", value=department)
        return code
    return None


# ---- hospital reads ----------------------------------------------------------------------------------


async def search_hospitals(
    *,
    session: AsyncSession,
    principal: Principal,
    city: str | None = None,
    department: str | None = None,
    q: str | None = None,
    page: int = 1,
    page_size: int = 20,
    include_unlisted: bool = False,
    on: date | None = None,
) -> HospitalPage:
    """Listed hospitals matching the filters; unlisted ones too for those who may see them."""
    on = on or today()
    code = _check_filters(city, department)
    vis = policies.visibility(principal)
    if include_unlisted:
        require(vis.anything_unlisted, action=Action.read_unlisted.value)
        where = repository.visible_clause(vis, on)
    else:
        where = repository.listed_clause(on)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    rows, total = await repository.search_hospitals(
        session,
        where=where,
        city=city or None,
        department=code,
        q=(q or "").strip() or None,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return HospitalPage(
        items=[_hospital_view(row, on) for row in rows], total=total, page=page, page_size=page_size
    )


async def _visible_hospital(
    session: AsyncSession, principal: Principal, hospital_id: int, on: date
) -> Hospital:
    hospital = await repository.get_hospital(session, hospital_id)
    # an unlisted hospital answers 404, not 403, so that its existence does not leak to the public
    if hospital is None or not policies.hospital_visible(
        policies.visibility(principal), _ref(hospital), listed=_listed(hospital, on)
    ):
        raise errors.HospitalNotFound(hospital_id=hospital_id)
    return hospital


async def get_hospital(
    *, session: AsyncSession, principal: Principal, hospital_id: int, on: date | None = None
) -> HospitalOut:
    """One hospital, if listed or the principal may see it unlisted."""
    on = on or today()
    return _hospital_view(await _visible_hospital(session, principal, hospital_id, on), on)


async def hospital_doctors(
    *, session: AsyncSession, principal: Principal, hospital_id: int, on: date | None = None
) -> list[DoctorOut]:
    """The doctors practising at a visible hospital, with their departments there."""
    on = on or today()
    async with transaction(session):
        hospital = await _visible_hospital(session, principal, hospital_id, on)
        full = policies.may(principal, Action.see_licence_numbers, _ref(hospital))
        vis = policies.visibility(principal)
        doctors = await repository.doctors_at(session, hospital_id)
        views = [
            _doctor_view(doctor, on=on, vis=vis, full_licence=full, hospital_id=hospital_id)
            for doctor in doctors
        ]
        if full and doctors:
            await audit.record(
                session,
                principal,
                "doctor.list",
                object_type="hospital",
                object_id=hospital_id,
                details={"doctor_ids": [doctor.id for doctor in doctors], "licence_numbers": "shown"},
            )
    return views


async def hospital_pharmacists(
    *, session: AsyncSession, principal: Principal, hospital_id: int, on: date | None = None
) -> list[PharmacistOut]:
    """The pharmacists of a visible hospital."""
    on = on or today()
    async with transaction(session):
        hospital = await _visible_hospital(session, principal, hospital_id, on)
        full = policies.may(principal, Action.see_licence_numbers, _ref(hospital))
        pharmacists = await repository.pharmacists_at(session, hospital_id)
        if full and pharmacists:
            await audit.record(
                session,
                principal,
                "pharmacist.list",
                object_type="hospital",
                object_id=hospital_id,
                details={"pharmacist_ids": [p.id for p in pharmacists], "licence_numbers": "shown"},
            )
    return [_pharmacist_view(pharmacist, full_licence=full) for pharmacist in pharmacists]


# ---- doctor reads ------------------------------------------------------------------------------------


async def search_doctors(
    *,
    session: AsyncSession,
    principal: Principal,
    q: str | None = None,
    department: str | None = None,
    city: str | None = None,
    page: int = 1,
    page_size: int = 20,
    on: date | None = None,
) -> DoctorPage:
    """Doctors practising at listed hospitals, by name, department and city (licences masked)."""
    on = on or today()
    code = _check_filters(city, department)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    rows, total = await repository.search_doctors(
        session,
        where=repository.listed_clause(on),
        q=(q or "").strip() or None,
        department=code,
        city=city or None,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    public = policies.Visibility()
    return DoctorPage(
        items=[_doctor_view(row, on=on, vis=public, full_licence=False) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


async def get_doctor(
    *, session: AsyncSession, principal: Principal, doctor_id: int, on: date | None = None
) -> DoctorOut:
    """One doctor with the sites the principal may see; 404 when none is visible."""
    on = on or today()
    async with transaction(session):
        doctor = await repository.get_doctor(session, doctor_id)
        if doctor is None:
            raise errors.DoctorNotFound(doctor_id=doctor_id)
        view, full = await _reveal_doctor(session, principal, doctor, on)
        if not view.sites and not full:
            raise errors.DoctorNotFound(doctor_id=doctor_id)
    return view


async def _reveal_doctor(
    session: AsyncSession, principal: Principal, doctor: Doctor, on: date
) -> tuple[DoctorOut, bool]:
    full = policies.sees_licence_numbers(principal, [_ref(site.hospital) for site in doctor.practice_sites])
    view = _doctor_view(doctor, on=on, vis=policies.visibility(principal), full_licence=full)
    if full:
        await audit.record(
            session,
            principal,
            "doctor.read",
            object_type="doctor",
            object_id=doctor.id,
            details={"licence_numbers": "shown"},
        )
    return view, full


async def doctor_for_user(*, session: AsyncSession, user_id: int, on: date | None = None) -> DoctorOut | None:
    """The doctor record a signed-in user is linked to, for later subdomains (rosters, consultations)."""
    on = on or today()
    doctor = await repository.doctor_for_user(session, user_id)
    if doctor is None:
        return None
    return _doctor_view(doctor, on=on, vis=policies.Visibility(everything=True), full_licence=False)


async def require_may_consult_online(
    *, session: AsyncSession, doctor_id: int, on: date | None = None
) -> DoctorOut:
    """Raises DoctorNotEligibleOnline unless the doctor meets the 3-year and real-name rule today."""
    on = on or today()
    doctor = await repository.get_doctor(session, doctor_id)
    if doctor is None:
        raise errors.DoctorNotFound(doctor_id=doctor_id)
    view = _doctor_view(doctor, on=on, vis=policies.Visibility(), full_licence=False)
    if not view.may_consult_online:
        raise errors.DoctorNotEligibleOnline(
            doctor_id=doctor_id, reasons=view.consult_blocks, years_of_practice=view.years_of_practice
        )
    return view


# ---- hospital writes ---------------------------------------------------------------------------------


def _hospital_problems(values: dict[str, Any]) -> list[Problem]:
    problems = [
        policies.licence_no_problem("licence_no", values["licence_no"]),
        policies.text_problem("name", values["name"], max_length=200),
        policies.text_problem("name_en", values["name_en"] or "", max_length=300, required=False),
        policies.level_problem("level", values["level"]),
        policies.adcode_problem("city_adcode", values["city_adcode"], reference.places()),
        policies.text_problem("address", values["address"], max_length=300, required=False),
        policies.status_problem("status", values["status"]),
        policies.period_problem("licence_valid_to", values["licence_valid_from"], values["licence_valid_to"]),
    ]
    return [problem for problem in problems if problem is not None]


async def create_hospital(*, session: AsyncSession, principal: Principal, data: HospitalIn) -> HospitalOut:
    """Registers an approved internet hospital in the principal's region."""
    require(policies.could_ever(principal, Action.create_hospital), action=Action.create_hospital.value)
    values: dict[str, Any] = {
        "licence_no": policies.normalize_licence_no(data.licence_no),
        "name": data.name,
        "name_en": data.name_en or None,
        "level": data.level,
        "city_adcode": data.city_adcode,
        "address": data.address,
        "licence_valid_from": data.licence_valid_from,
        "licence_valid_to": data.licence_valid_to,
        "status": data.status,
    }
    problems = _hospital_problems(values)
    codes, department_problems = policies.department_codes(
        "department_codes", data.department_codes, reference.department_lookup()
    )
    _raise_first(problems + department_problems)
    values["region_adcode"] = reference.province_of(data.city_adcode)
    require(
        policies.may(principal, Action.create_hospital, HospitalRef(None, values["region_adcode"])),
        action=Action.create_hospital.value,
    )
    async with transaction(session):
        try:
            hospital = await repository.insert_hospital(session, values)
        except IntegrityError as exc:
            if integrity_error_mentions(exc, "licence_no"):
                raise errors.HospitalExists(licence_no=values["licence_no"]) from exc
            raise
        await repository.add_departments(session, hospital.id, codes)
        await audit.record(
            session,
            principal,
            "hospital.create",
            object_type="hospital",
            object_id=hospital.id,
            details={"licence_no": hospital.licence_no, "status": hospital.status, "departments": codes},
        )
        view = _hospital_view(await _reload_hospital(session, hospital.id), today())
    return view


def parse_if_match(header: str | None) -> int | None:
    """The version in an If-Match header ("3", 3 or W/"3"); None for absent or "*"."""
    if header is None or header.strip() in ("", "*"):
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    # ASCII digits only (Python's isdigit also takes other scripts' digits) and no more than a version needs
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise errors.InvalidIfMatch(value=header)
    return int(value)


async def update_hospital(
    *,
    session: AsyncSession,
    principal: Principal,
    hospital_id: int,
    changes: HospitalPatch,
    expected_version: int | None = None,
) -> HospitalOut:
    """Approves, suspends, revokes or corrects a hospital; a stale expected_version gets 412."""
    require(policies.could_ever(principal, Action.update_hospital), action=Action.update_hospital.value)
    given = changes.model_dump(exclude_unset=True)
    reason = given.pop("reason", None)
    if not given:
        raise errors.EmptyChange()
    async with transaction(session):
        hospital = await repository.get_hospital(session, hospital_id)
        if hospital is None:
            raise errors.HospitalNotFound(hospital_id=hospital_id)
        require(
            policies.may(principal, Action.update_hospital, _ref(hospital)),
            action=Action.update_hospital.value,
        )
        if expected_version is not None and expected_version != hospital.version:
            raise errors.StaleVersion(current=hospital.version, expected=expected_version)
        merged: dict[str, Any] = {
            "licence_no": hospital.licence_no,
            "name": hospital.name,
            "name_en": hospital.name_en,
            "level": hospital.level,
            "city_adcode": hospital.city_adcode,
            "address": hospital.address,
            "licence_valid_from": hospital.licence_valid_from,
            "licence_valid_to": hospital.licence_valid_to,
            "status": hospital.status,
        }
        for key, value in given.items():
            merged[key] = value if value is not None or key == "name_en" else merged[key]
        _raise_first(_hospital_problems(merged))
        new_region = reference.province_of(merged["city_adcode"])
        require(
            policies.may(principal, Action.update_hospital, HospitalRef(hospital.id, new_region)),
            action=Action.update_hospital.value,
        )
        requested = HospitalStatus(merged["status"])
        if "status" in given and not policies.may_change_status(hospital.status, requested):
            raise errors.InvalidStatusTransition(current=hospital.status, requested=requested.value)
        before = {key: _plain(getattr(hospital, key)) for key in given}
        values = {key: merged[key] for key in given}
        if "city_adcode" in values:
            values["region_adcode"] = new_region
        done = await repository.update_hospital_if(
            session,
            hospital_id,
            version=hospital.version,
            allowed_statuses=[s.value for s in policies.STATUS_FROM[requested]]
            if "status" in given
            else None,
            values=values,
        )
        if not done:
            # someone else's write landed between our read and our UPDATE
            current = await repository.hospital_version(session, hospital_id)
            raise errors.StaleVersion(current=current, expected=hospital.version)
        await audit.record(
            session,
            principal,
            "hospital.update",
            object_type="hospital",
            object_id=hospital_id,
            details={
                "before": before,
                "after": {key: _plain(value) for key, value in values.items()},
                "reason": reason,
            },
        )
        view = _hospital_view(await _reload_hospital(session, hospital_id), today())
    return view


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


async def add_hospital_departments(
    *, session: AsyncSession, principal: Principal, hospital_id: int, data: DepartmentsIn
) -> HospitalOut:
    """Adds departments from the standard list to a hospital (repeats are no-ops)."""
    require(policies.could_ever(principal, Action.manage_departments), action=Action.manage_departments.value)
    codes, problems = policies.department_codes(
        "department_codes", data.department_codes, reference.department_lookup()
    )
    _raise_first(problems)
    async with transaction(session):
        hospital = await repository.get_hospital(session, hospital_id)
        if hospital is None:
            raise errors.HospitalNotFound(hospital_id=hospital_id)
        require(
            policies.may(principal, Action.manage_departments, _ref(hospital)),
            action=Action.manage_departments.value,
        )
        added = await repository.add_departments(session, hospital_id, codes)
        await audit.record(
            session,
            principal,
            "hospital.departments_add",
            object_type="hospital",
            object_id=hospital_id,
            details={"departments": codes, "added": added},
        )
        view = _hospital_view(await _reload_hospital(session, hospital_id), today())
    return view


# ---- staff writes ------------------------------------------------------------------------------------


async def _staff_hospital(session: AsyncSession, principal: Principal, hospital_id: int) -> Hospital:
    hospital = await repository.get_hospital(session, hospital_id)
    if hospital is None:
        raise errors.HospitalNotFound(hospital_id=hospital_id)
    require(policies.may(principal, Action.manage_staff, _ref(hospital)), action=Action.manage_staff.value)
    return hospital


def _require_may_link(principal: Principal, user_id: int | None) -> None:
    """A user account acts with a licence at every hospital the holder serves: only platform_admin links one."""
    if user_id is not None:
        require(policies.may(principal, Action.link_user), action=Action.link_user.value, field="user_id")


def _require_offered(hospital: Hospital, codes: list[str], field: str) -> None:
    offered = {department.department_code for department in hospital.departments}
    missing = [code for code in codes if code not in offered]
    if missing:
        raise errors.DepartmentNotOffered(field=field, value=missing[0], hospital_id=hospital.id)


async def create_doctor(*, session: AsyncSession, principal: Principal, data: DoctorIn) -> DoctorOut:
    """Registers a doctor practising in departments of the admin's own hospital."""
    require(policies.could_ever(principal, Action.manage_staff), action=Action.manage_staff.value)
    on = today()
    licence_no = policies.normalize_licence_no(data.licence_no)
    codes, problems = policies.department_codes(
        "department_codes", data.department_codes, reference.department_lookup()
    )
    found = [
        policies.licence_no_problem("licence_no", licence_no),
        policies.text_problem("real_name", data.real_name, max_length=100),
        policies.title_problem("title", data.title),
        policies.practice_start_problem("independent_practice_since", data.independent_practice_since, on),
    ]
    _raise_first([p for p in found if p is not None] + problems)
    _require_may_link(principal, data.user_id)
    async with transaction(session):
        hospital = await _staff_hospital(session, principal, data.hospital_id)
        _require_offered(hospital, codes, "department_codes")
        try:
            doctor = await repository.insert_doctor(
                session,
                {
                    "real_name": data.real_name,
                    "licence_no": licence_no,
                    "title": data.title,
                    "independent_practice_since": data.independent_practice_since,
                    "real_name_verified": data.real_name_verified,
                    "user_id": data.user_id,
                },
            )
        except IntegrityError as exc:
            _person_conflict(exc, errors.DoctorExists, data.user_id)
            raise
        await repository.add_sites(session, doctor.id, [(hospital.id, code) for code in codes])
        await audit.record(
            session,
            principal,
            "doctor.create",
            object_type="doctor",
            object_id=doctor.id,
            details={"hospital_id": hospital.id, "departments": codes, "user_id": data.user_id},
        )
        reloaded = await _reload_doctor(session, doctor.id)
        view = _doctor_view(reloaded, on=on, vis=policies.visibility(principal), full_licence=True)
    return view


def _person_conflict(exc: IntegrityError, exists: type[DomainError], user_id: int | None) -> None:
    # PostgreSQL names the FK constraint (which mentions user_id), SQLite only says FOREIGN KEY
    if integrity_error_mentions(exc, "foreign key"):
        raise errors.UnknownUser(field="user_id", value=user_id) from exc
    if integrity_error_mentions(exc, "licence_no"):
        raise exists() from exc
    if integrity_error_mentions(exc, "user_id"):
        raise errors.UserAlreadyLinked(user_id=user_id) from exc


async def add_practice_site(
    *, session: AsyncSession, principal: Principal, doctor_id: int, data: PracticeSiteIn
) -> DoctorOut:
    """Adds a site (hospital × department) where a doctor practises (多点执业)."""
    require(policies.could_ever(principal, Action.manage_staff), action=Action.manage_staff.value)
    code = reference.department_code_for(data.department_code)
    if code is None:
        raise errors.UnknownDepartment(field="department_code", value=data.department_code)
    on = today()
    async with transaction(session):
        doctor = await repository.get_doctor(session, doctor_id)
        if doctor is None:
            raise errors.DoctorNotFound(doctor_id=doctor_id)
        hospital = await _staff_hospital(session, principal, data.hospital_id)
        _require_offered(hospital, [code], "department_code")
        try:
            await repository.insert_site(
                session, doctor_id=doctor_id, hospital_id=hospital.id, department_code=code
            )
        except IntegrityError as exc:
            # the failed flush rolled back and expired `hospital`: use plain values only
            raise errors.PracticeSiteExists(hospital_id=data.hospital_id, department_code=code) from exc
        await audit.record(
            session,
            principal,
            "doctor.site_add",
            object_type="doctor",
            object_id=doctor_id,
            details={"hospital_id": hospital.id, "department": code},
        )
        reloaded = await _reload_doctor(session, doctor_id)
        full = policies.sees_licence_numbers(
            principal, [_ref(site.hospital) for site in reloaded.practice_sites]
        )
        view = _doctor_view(reloaded, on=on, vis=policies.visibility(principal), full_licence=full)
    return view


async def create_pharmacist(
    *, session: AsyncSession, principal: Principal, data: PharmacistIn
) -> PharmacistOut:
    """Registers a pharmacist of the admin's own hospital."""
    require(policies.could_ever(principal, Action.manage_staff), action=Action.manage_staff.value)
    licence_no = policies.normalize_licence_no(data.licence_no)
    found = [
        policies.licence_no_problem("licence_no", licence_no),
        policies.text_problem("real_name", data.real_name, max_length=100),
    ]
    _raise_first([p for p in found if p is not None])
    _require_may_link(principal, data.user_id)
    async with transaction(session):
        hospital = await _staff_hospital(session, principal, data.hospital_id)
        try:
            pharmacist = await repository.insert_pharmacist(
                session,
                {
                    "real_name": data.real_name,
                    "licence_no": licence_no,
                    "hospital_id": hospital.id,
                    "user_id": data.user_id,
                },
            )
        except IntegrityError as exc:
            _person_conflict(exc, errors.PharmacistExists, data.user_id)
            raise
        await audit.record(
            session,
            principal,
            "pharmacist.create",
            object_type="pharmacist",
            object_id=pharmacist.id,
            details={"hospital_id": hospital.id, "user_id": data.user_id},
        )
        reloaded = await _reload_pharmacist(session, pharmacist.id)
        view = _pharmacist_view(reloaded, full_licence=True)
    return view


async def link_doctor_user(
    *, session: AsyncSession, principal: Principal, doctor_id: int, user_id: int | None
) -> DoctorOut:
    """Links (or with None unlinks) the user account a doctor signs in with."""
    require(policies.may(principal, Action.link_user), action=Action.link_user.value)
    on = today()
    async with transaction(session):
        doctor = await repository.get_doctor(session, doctor_id)
        if doctor is None:
            raise errors.DoctorNotFound(doctor_id=doctor_id)
        try:
            await repository.link_doctor_user(session, doctor_id, user_id)
        except IntegrityError as exc:
            _person_conflict(exc, errors.DoctorExists, user_id)
            raise
        await audit.record(
            session,
            principal,
            "doctor.link_user",
            object_type="doctor",
            object_id=doctor_id,
            details={"user_id": user_id},
        )
        reloaded = await _reload_doctor(session, doctor_id)
        view = _doctor_view(reloaded, on=on, vis=policies.visibility(principal), full_licence=False)
    return view


async def link_pharmacist_user(
    *, session: AsyncSession, principal: Principal, pharmacist_id: int, user_id: int | None
) -> PharmacistOut:
    """Links (or with None unlinks) the user account a pharmacist signs in with."""
    require(policies.may(principal, Action.link_user), action=Action.link_user.value)
    async with transaction(session):
        pharmacist = await repository.get_pharmacist(session, pharmacist_id)
        if pharmacist is None:
            raise errors.PharmacistNotFound(pharmacist_id=pharmacist_id)
        try:
            await repository.link_pharmacist_user(session, pharmacist_id, user_id)
        except IntegrityError as exc:
            _person_conflict(exc, errors.PharmacistExists, user_id)
            raise
        await audit.record(
            session,
            principal,
            "pharmacist.link_user",
            object_type="pharmacist",
            object_id=pharmacist_id,
            details={"user_id": user_id},
        )
        reloaded = await _reload_pharmacist(session, pharmacist_id)
        view = _pharmacist_view(reloaded, full_licence=False)
    return view


# ---- CSV import --------------------------------------------------------------------------------------


def _finish_checks(report: importing.ImportReport, skip_invalid: bool) -> bool:
    """Whether to write: by default one bad row stops the whole file."""
    return not report.errors or skip_invalid


async def import_hospitals(
    *, session: AsyncSession, principal: Principal, table: importing.Table, skip_invalid: bool = False
) -> importing.ImportReport:
    """Creates or updates hospitals by licence number from a checked CSV table, all in one transaction."""
    report = importing.ImportReport(
        kind="hospitals", rows=len(table.rows), ignored_columns=table.ignored_columns
    )
    rows, found = importing.check_hospitals(table)
    async with transaction(session):
        existing = await repository.hospitals_by_licence(session, [row.values["licence_no"] for row in rows])
        good: list[importing.HospitalRow] = []
        for row in rows:
            problem = _hospital_row_problem(principal, row, existing.get(row.values["licence_no"]))
            if problem is not None:
                found.append(importing.RowError.from_problem(row.row, problem))
            else:
                good.append(row)
        report.errors = sorted(found, key=lambda error: (error.row, error.field))
        if not _finish_checks(report, skip_invalid):
            return report
        for row in good:
            hospital_id, outcome = await repository.upsert_hospital(session, row.values)
            added = await repository.add_departments(session, hospital_id, row.department_codes)
            if outcome == "unchanged" and added:
                outcome = "updated"
            _count(report, outcome)
            if outcome != "unchanged":
                await audit.record(
                    session,
                    principal,
                    f"hospital.import_{outcome}",
                    object_type="hospital",
                    object_id=hospital_id,
                    details={
                        "row": row.row,
                        "licence_no": row.values["licence_no"],
                        "departments_added": added,
                    },
                )
        report.written = True
    return report


def _hospital_row_problem(
    principal: Principal, row: importing.HospitalRow, current: Hospital | None
) -> Problem | None:
    new_ref = HospitalRef(current.id if current else None, row.values["region_adcode"])
    action = Action.update_hospital if current else Action.create_hospital
    allowed = policies.may(principal, action, new_ref) and (
        current is None or policies.may(principal, Action.update_hospital, _ref(current))
    )
    if not allowed:
        return Problem("licence_no", Forbidden)
    if current is not None and not policies.may_change_status(
        current.status, HospitalStatus(row.values["status"])
    ):
        return Problem(
            "status",
            errors.InvalidStatusTransition,
            {"current": current.status, "requested": row.values["status"]},
        )
    return None


def _count(report: importing.ImportReport, outcome: str) -> None:
    if outcome == "created":
        report.created += 1
    elif outcome == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


async def import_doctors(
    *,
    session: AsyncSession,
    principal: Principal,
    table: importing.Table,
    skip_invalid: bool = False,
    on: date | None = None,
) -> importing.ImportReport:
    """Creates or updates doctors by licence number and adds their practice sites, in one transaction."""
    on = on or today()
    report = importing.ImportReport(
        kind="doctors", rows=len(table.rows), ignored_columns=table.ignored_columns
    )
    rows, found = importing.check_doctors(table, today=on)
    async with transaction(session):
        hospitals = await repository.hospitals_by_licence(
            session, [licence for row in rows for licence, _ in row.sites]
        )
        known = await repository.doctors_by_licence(session, [row.values["licence_no"] for row in rows])
        good: list[tuple[importing.DoctorRow, list[tuple[int, str]]]] = []
        for row in rows:
            sites, problems = _doctor_sites(principal, row, hospitals)
            current = known.get(row.values["licence_no"])
            if current is not None:
                serves = [_ref(site.hospital) for site in current.practice_sites]
                problems += _person_problems(principal, current, row.values, serves)
            if problems:
                found.extend(importing.RowError.from_problem(row.row, problem) for problem in problems)
            else:
                good.append((row, sites))
        report.errors = sorted(found, key=lambda error: (error.row, error.field))
        if not _finish_checks(report, skip_invalid):
            return report
        for row, sites in good:
            doctor_id, outcome = await repository.upsert_doctor(session, row.values)
            added = await repository.add_sites(session, doctor_id, sites)
            if outcome == "unchanged" and added:
                outcome = "updated"
            _count(report, outcome)
            if outcome != "unchanged":
                await audit.record(
                    session,
                    principal,
                    f"doctor.import_{outcome}",
                    object_type="doctor",
                    object_id=doctor_id,
                    details={"row": row.row, "sites_added": added},
                )
        report.written = True
    return report


def _person_problems(
    principal: Principal, current: Doctor | Pharmacist, values: dict[str, Any], serves: list[HospitalRef]
) -> list[Problem]:
    """A row that would change someone who also serves a hospital the principal does not manage is refused.

    A row identical to the record only adds practice sites, which the site checks decide.
    """
    changes = any(getattr(current, key) != value for key, value in values.items() if key != "licence_no")
    if changes and not policies.may_change_person(principal, serves):
        return [Problem("licence_no", errors.StaffManagedElsewhere, {"value": current.licence_no})]
    return []


def _doctor_sites(
    principal: Principal, row: importing.DoctorRow, hospitals: dict[str, Hospital]
) -> tuple[list[tuple[int, str]], list[Problem]]:
    sites: list[tuple[int, str]] = []
    problems: list[Problem] = []
    for index, (licence, codes) in enumerate(row.sites):
        field = "hospital_licence_no" if index == 0 else "extra_sites"
        hospital = hospitals.get(licence)
        if hospital is None:
            problems.append(Problem(field, errors.UnknownHospital, {"value": licence}))
            continue
        if not policies.may(principal, Action.manage_staff, _ref(hospital)):
            problems.append(Problem(field, Forbidden))
            continue
        offered = {department.department_code for department in hospital.departments}
        for code in codes:
            if code not in offered:
                problems.append(
                    Problem(
                        "departments" if index == 0 else field, errors.DepartmentNotOffered, {"value": code}
                    )
                )
            else:
                sites.append((hospital.id, code))
    return sites, problems


async def import_pharmacists(
    *, session: AsyncSession, principal: Principal, table: importing.Table, skip_invalid: bool = False
) -> importing.ImportReport:
    """Creates or updates pharmacists by licence number, in one transaction."""
    report = importing.ImportReport(
        kind="pharmacists", rows=len(table.rows), ignored_columns=table.ignored_columns
    )
    rows, found = importing.check_pharmacists(table)
    async with transaction(session):
        hospitals = await repository.hospitals_by_licence(session, [row.hospital_licence_no for row in rows])
        known = await repository.pharmacists_by_licence(session, [row.values["licence_no"] for row in rows])
        good: list[tuple[importing.PharmacistRow, int]] = []
        for row in rows:
            hospital = hospitals.get(row.hospital_licence_no)
            problems: list[Problem] = []
            if hospital is None:
                problems.append(
                    Problem("hospital_licence_no", errors.UnknownHospital, {"value": row.hospital_licence_no})
                )
            elif not policies.may(principal, Action.manage_staff, _ref(hospital)):
                problems.append(Problem("hospital_licence_no", Forbidden))
            else:
                current = known.get(row.values["licence_no"])
                if current is not None:
                    values = {**row.values, "hospital_id": hospital.id}
                    problems += _person_problems(principal, current, values, [_ref(current.hospital)])
            if problems or hospital is None:
                found.extend(importing.RowError.from_problem(row.row, problem) for problem in problems)
                continue
            good.append((row, hospital.id))
        report.errors = sorted(found, key=lambda error: (error.row, error.field))
        if not _finish_checks(report, skip_invalid):
            return report
        for row, hospital_id in good:
            pharmacist_id, outcome = await repository.upsert_pharmacist(
                session, {**row.values, "hospital_id": hospital_id}
            )
            _count(report, outcome)
            if outcome != "unchanged":
                await audit.record(
                    session,
                    principal,
                    f"pharmacist.import_{outcome}",
                    object_type="pharmacist",
                    object_id=pharmacist_id,
                    details={"row": row.row, "hospital_id": hospital_id},
                )
        report.written = True
    return report


async def import_csv(
    *, session: AsyncSession, principal: Principal, kind: str, data: bytes, skip_invalid: bool = False
) -> importing.ImportReport:
    """Reads a CSV file's bytes and imports it; a file that cannot be read raises InvalidImportFile."""
    table = importing.read_csv(kind, data)
    if kind == "hospitals":
        return await import_hospitals(
            session=session, principal=principal, table=table, skip_invalid=skip_invalid
        )
    if kind == "doctors":
        return await import_doctors(
            session=session, principal=principal, table=table, skip_invalid=skip_invalid
        )
    return await import_pharmacists(
        session=session, principal=principal, table=table, skip_invalid=skip_invalid
    )


async def hospital_place(session: AsyncSession, hospital_id: str) -> str | None:
    """The city adcode of a registered hospital, so identity can tell whether a grant stays within a region.

    None for anything that is not a hospital's id (non-digits, past BIGINT) or names no hospital,
    so a grant to a hospital that does not exist is refused.
    """
    number = policies.hospital_id_of_scope(hospital_id)
    if number is None:
        return None
    hospital = await repository.get_hospital(session, number)
    return hospital.city_adcode if hospital is not None else None


# Identity knows scopes only as kind + id; this tells it where a hospital scope lies.
scopes.register_place_resolver(ScopeKind.hospital, hospital_place)
