"""Public portal pages: search listed hospitals, then a hospital's departments and doctors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from regio.care.registry import service
from regio.care.registry.schemas import MAX_ID, HospitalPage
from regio.core.deps import OptionalPrincipal, Public, SessionDep
from regio.core.errors import DomainError
from regio.core.templating import render

router = APIRouter(tags=["registry pages"])

PAGE_SIZE = 12


@router.get("/portal", dependencies=[Public], response_class=HTMLResponse)
async def portal(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    q: Annotated[str, Query(max_length=100)] = "",
    city: Annotated[str, Query(max_length=12)] = "",
    department: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The public portal: listed hospitals, searchable by city, department and name."""
    error: DomainError | None = None
    try:
        results = await service.search_hospitals(
            session=session,
            principal=principal,
            q=q,
            city=city or None,
            department=department or None,
            page=page,
            page_size=PAGE_SIZE,
        )
    except DomainError as exc:
        # a tampered filter gets the form back with the reason, not a bare error page
        error = exc
        results = HospitalPage(items=[], total=0, page=1, page_size=PAGE_SIZE)
    pages = max(1, -(-results.total // PAGE_SIZE))
    return render(
        request,
        "registry/portal.html",
        {
            "results": results,
            "pages": pages,
            "q": q,
            "city": city,
            "department": department,
            "cities": service.list_cities(),
            "departments": service.list_departments(),
            "filter_error": error,
            "filtered": bool(q or city or department),
        },
        status_code=error.status if error else 200,
    )


@router.get("/portal/hospitals/{hospital_id}", dependencies=[Public], response_class=HTMLResponse)
async def hospital_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    hospital_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> HTMLResponse:
    """One listed hospital with its departments and doctors."""
    hospital = await service.get_hospital(session=session, principal=principal, hospital_id=hospital_id)
    doctors = await service.hospital_doctors(session=session, principal=principal, hospital_id=hospital_id)
    by_department = {
        department.code: [
            doctor
            for doctor in doctors
            if any(site.department_code == department.code for site in doctor.sites)
        ]
        for department in hospital.departments
    }
    return render(
        request,
        "registry/hospital.html",
        {"hospital": hospital, "doctors": doctors, "by_department": by_department},
    )
