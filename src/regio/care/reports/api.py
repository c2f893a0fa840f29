"""JSON routes of reports: hospitals push lab and imaging reports as FHIR R4 DiagnosticReports; patients,
their families and the hospital's carers read them (also as FHIR). Thin: parse, call the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from regio.care.reports import service
from regio.care.reports.enums import ReportKind
from regio.care.reports.schemas import PushOut, ReportOut, ReportSummaryOut
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep

router = APIRouter(tags=["reports"])

REPORT = "/api/care/reports/{report_id:int}"  # :int, so /api/care/reports/<word> routes stay reachable
VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000)]

# The body is read by the service (reports.fhir), which lists every problem at its JSON path; the
# schema here only documents it.
_PUSH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {
                "schema": {
                    "type": "object",
                    "description": (
                        "A FHIR R4 DiagnosticReport: identifier (the hospital's report number), status, code, "
                        'subject {"identifier": <platform patient id>}, effectiveDateTime, issued, conclusion '
                        "(imaging), and for lab Observations in contained/result with valueQuantity (UCUM) "
                        "and referenceRange. 201 stored, 200 same content again, 422 report_invalid with "
                        "details.problems."
                    ),
                }
            }
        },
    }
}


async def _push(
    request: Request, response: Response, session: Any, principal: Any, kind: ReportKind
) -> PushOut:
    result = await service.push(session=session, principal=principal, kind=kind, raw=await request.body())
    if not result.created:
        response.status_code = 200
    return result


@router.post("/api/care/reports/lab", status_code=201, response_model=PushOut, openapi_extra=_PUSH_BODY)
async def push_lab(
    request: Request, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> PushOut:
    return await _push(request, response, session, principal, ReportKind.lab)


@router.post("/api/care/reports/imaging", status_code=201, response_model=PushOut, openapi_extra=_PUSH_BODY)
async def push_imaging(
    request: Request, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> PushOut:
    return await _push(request, response, session, principal, ReportKind.imaging)


@router.get("/api/care/reports", response_model=list[ReportSummaryOut])
async def my_reports(session: SessionDep, principal: CurrentPrincipal) -> list[ReportSummaryOut]:
    return await service.my_reports(session=session, principal=principal)


@router.get(REPORT, response_model=ReportOut)
async def get_report(
    report_id: RecordId, session: SessionDep, principal: CurrentPrincipal, version: VersionQuery = None
) -> ReportOut:
    return await service.get_report(
        session=session, principal=principal, report_id=report_id, version=version
    )


@router.get(REPORT + "/fhir")
async def fhir_report(
    report_id: RecordId, session: SessionDep, principal: CurrentPrincipal, version: VersionQuery = None
) -> JSONResponse:
    resource = await service.fhir_report(
        session=session, principal=principal, report_id=report_id, version=version
    )
    return JSONResponse(resource, media_type="application/fhir+json")
