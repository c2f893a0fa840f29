"""JSON routes of the registry: public portal reads, admin writes. Thin: parse, call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from regio.care.registry import service
from regio.care.registry.schemas import (
    MAX_ID,
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
)
from regio.core.deps import CurrentPrincipal, OptionalPrincipal, Public, SessionDep

router = APIRouter(prefix="/api/care", tags=["registry"])

City = Annotated[str | None, Query(max_length=12, description="City adcode, e.g. 330100")]
Department = Annotated[str | None, Query(max_length=40, description="Department code or name")]
Search = Annotated[str | None, Query(max_length=100, description="Part of the name")]
Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]
HospitalId = Annotated[int, Path(ge=1, le=MAX_ID)]
DoctorId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.get("/departments", dependencies=[Public], response_model=list[DepartmentOut])
async def list_departments() -> list[DepartmentOut]:
    """The standard department list."""
    return service.list_departments()


@router.get("/hospitals", dependencies=[Public], response_model=HospitalPage)
async def list_hospitals(
    session: SessionDep,
    principal: OptionalPrincipal,
    city: City = None,
    department: Department = None,
    q: Search = None,
    page: Page = 1,
    page_size: PageSize = 20,
    include_unlisted: Annotated[bool, Query(description="Admins and regulators: unlisted too")] = False,
) -> HospitalPage:
    """Listed hospitals by city, department and name; unlisted ones too for admins and regulators."""
    return await service.search_hospitals(
        session=session,
        principal=principal,
        city=city,
        department=department,
        q=q,
        page=page,
        page_size=page_size,
        include_unlisted=include_unlisted,
    )


@router.get("/hospitals/{hospital_id}", dependencies=[Public], response_model=HospitalOut)
async def get_hospital(
    hospital_id: HospitalId, session: SessionDep, principal: OptionalPrincipal, response: Response
) -> HospitalOut:
    """One listed hospital (or one the caller may see unlisted), with its version as ETag."""
    hospital = await service.get_hospital(session=session, principal=principal, hospital_id=hospital_id)
    _etag(response, hospital.version)
    return hospital


@router.get("/hospitals/{hospital_id}/doctors", dependencies=[Public], response_model=list[DoctorOut])
async def hospital_doctors(
    hospital_id: HospitalId, session: SessionDep, principal: OptionalPrincipal
) -> list[DoctorOut]:
    """The doctors of a visible hospital; licence numbers in full only for its admins (audited)."""
    return await service.hospital_doctors(session=session, principal=principal, hospital_id=hospital_id)


@router.get("/hospitals/{hospital_id}/pharmacists", response_model=list[PharmacistOut])
async def hospital_pharmacists(
    hospital_id: HospitalId, session: SessionDep, principal: CurrentPrincipal
) -> list[PharmacistOut]:
    """The pharmacists of a visible hospital; licence numbers in full only for its admins (audited)."""
    return await service.hospital_pharmacists(session=session, principal=principal, hospital_id=hospital_id)


@router.get("/doctors", dependencies=[Public], response_model=DoctorPage)
async def search_doctors(
    session: SessionDep,
    principal: OptionalPrincipal,
    q: Search = None,
    department: Department = None,
    city: City = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> DoctorPage:
    """Doctors at listed hospitals by name, department and city (licence numbers masked)."""
    return await service.search_doctors(
        session=session,
        principal=principal,
        q=q,
        department=department,
        city=city,
        page=page,
        page_size=page_size,
    )


@router.get("/doctors/{doctor_id}", dependencies=[Public], response_model=DoctorOut)
async def get_doctor(doctor_id: DoctorId, session: SessionDep, principal: OptionalPrincipal) -> DoctorOut:
    """One doctor with the practice sites the caller may see."""
    return await service.get_doctor(session=session, principal=principal, doctor_id=doctor_id)


@router.post("/hospitals", status_code=201, response_model=HospitalOut)
async def create_hospital(
    body: HospitalIn, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> HospitalOut:
    """Registers an internet hospital (health_admin of its province, or platform_admin)."""
    hospital = await service.create_hospital(session=session, principal=principal, data=body)
    _etag(response, hospital.version)
    return hospital


@router.patch("/hospitals/{hospital_id}", response_model=HospitalOut)
async def update_hospital(
    hospital_id: HospitalId,
    body: HospitalPatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
) -> HospitalOut:
    """Approves, suspends, revokes or corrects a hospital; a stale If-Match gets 412."""
    hospital = await service.update_hospital(
        session=session,
        principal=principal,
        hospital_id=hospital_id,
        changes=body,
        expected_version=service.parse_if_match(if_match),
    )
    _etag(response, hospital.version)
    return hospital


@router.post("/hospitals/{hospital_id}/departments", status_code=201, response_model=HospitalOut)
async def add_departments(
    hospital_id: HospitalId, body: DepartmentsIn, session: SessionDep, principal: CurrentPrincipal
) -> HospitalOut:
    """Adds departments from the standard list to a hospital."""
    return await service.add_hospital_departments(
        session=session, principal=principal, hospital_id=hospital_id, data=body
    )


@router.post("/doctors", status_code=201, response_model=DoctorOut)
async def create_doctor(body: DoctorIn, session: SessionDep, principal: CurrentPrincipal) -> DoctorOut:
    """Registers a doctor at the admin's hospital; only platform_admin may link a user account."""
    return await service.create_doctor(session=session, principal=principal, data=body)


@router.post("/doctors/{doctor_id}/practice-sites", status_code=201, response_model=DoctorOut)
async def add_practice_site(
    doctor_id: DoctorId, body: PracticeSiteIn, session: SessionDep, principal: CurrentPrincipal
) -> DoctorOut:
    """Adds a practice site (多点执业) at a hospital the admin manages."""
    return await service.add_practice_site(
        session=session, principal=principal, doctor_id=doctor_id, data=body
    )


@router.post("/pharmacists", status_code=201, response_model=PharmacistOut)
async def create_pharmacist(
    body: PharmacistIn, session: SessionDep, principal: CurrentPrincipal
) -> PharmacistOut:
    """Registers a pharmacist at the admin's hospital; only platform_admin may link a user account."""
    return await service.create_pharmacist(session=session, principal=principal, data=body)
