"""HTML pages of prescriptions: the doctor's prescribing screen, the pharmacist's review queue, review
screen and pickup desk, and the patient's prescriptions with pickup or delivery.

Reads are rendered here through the service, so its refusals (a prescription the reader may not see
answers 404) show as the error page; every change is made by the page's script through the JSON API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from regio.care.consultation import service as consultation_service
from regio.care.consultation.schemas import ConsultationOut
from regio.care.prescription import checks, service
from regio.care.prescription.catalog import DOSE_UNITS
from regio.care.prescription.enums import EDITABLE, STATUS_LABELS, Status
from regio.care.prescription.schemas import KeyOut, PharmacyOut
from regio.care.records.policies import SHANGHAI
from regio.core.access import Role
from regio.core.deps import MAX_ID, CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError
from regio.core.templating import render

router = APIRouter(tags=["prescription pages"], include_in_schema=False)

KIND_LABELS = {
    "ordinary": ("普通", "Ordinary"),
    "emergency": ("急诊", "Emergency"),
    "long_term": ("长期", "Long-term"),
}
SEVERITY_LABELS = {
    "contraindicated": ("禁忌", "Contraindicated"),
    "major": ("严重", "Major"),
    "moderate": ("中度", "Moderate"),
    "minor": ("轻微", "Minor"),
    "no_data": ("无数据", "No data"),
}
METHOD_LABELS = {"pickup": ("到店自取", "Pick up"), "delivery": ("配送到家", "Home delivery")}
SEX_LABELS = {"male": ("男", "male"), "female": ("女", "female"), "unknown": ("未知", "unknown")}
# Badge colours by status: what needs the reader's attention stands out.
STATUS_TONES = {
    Status.draft.value: "",
    Status.returned.value: "warn",
    Status.submitted.value: "warn",
    Status.in_review.value: "warn",
    Status.approved.value: "ok",
    Status.dispensed.value: "ok",
    Status.rejected.value: "bad",
    Status.cancelled.value: "",
}
NOTICES = {
    "signed": ("处方已签名，已提交药师审方。", "Signed and sent to the pharmacist for review."),
    "claim": ("已领取，请审核。", "Taken for review."),
    "release": ("已放弃领取，处方回到队列。", "Released back to the queue."),
    "approve": ("已审核通过。", "Approved."),
    "reject": ("已驳回。", "Rejected."),
    "return": ("已退回医生修改。", "Returned to the doctor."),
    "fulfilment": ("取药方式已选择。", "Pickup or delivery chosen."),
}
Notice = Annotated[str, Query(max_length=20)]


def _local(instant: datetime | None) -> str:
    """An instant as Beijing time, as every page shows times."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if instant else ""


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "severity_labels": SEVERITY_LABELS,
        "method_labels": METHOD_LABELS,
        "sex_labels": SEX_LABELS,
        "status_tones": STATUS_TONES,
        "status_labels": {status.value: label for status, label in STATUS_LABELS.items()},
        "route_labels": checks.ROUTES,
        "frequency_labels": checks.FREQUENCIES,
        "local": _local,
    }


@router.get("/care/consultations/{consultation_id}/prescribe")
async def prescribe(
    request: Request,
    consultation_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
) -> Response:
    """The doctor's screen: the consultation's prescriptions and the form that writes or changes one."""
    written = await service.of_consultation(
        session=session, principal=principal, consultation_id=consultation_id
    )
    key: KeyOut | None = None
    if principal.has_role(Role.doctor):
        try:
            key = await service.key_status(session=session, principal=principal)
        except DomainError:
            key = None  # a doctor without a registry record: signing is refused by the API anyway
    consultation: ConsultationOut | None = None
    try:
        consultation = await consultation_service.get_consultation(
            session=session, settings=settings, principal=principal, consultation_id=consultation_id
        )
    except DomainError:
        consultation = None  # only the heading needs it; the prescription API decides the rest
    editable = [view.model_dump(mode="json") for view in written if Status(view.status) in EDITABLE]
    return render(
        request,
        "prescription/prescribe.html",
        {
            "consultation_id": consultation_id,
            "consultation": consultation,
            "written": written,
            "editable": editable,
            "key": key,
            "frequencies": checks.FREQUENCIES,
            "routes": checks.ROUTES,
            "dose_units": sorted(DOSE_UNITS),
            "notice": NOTICES.get(notice),
            **_labels(),
        },
    )


@router.get("/care/pharmacy/review")
async def review_queue(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    items = await service.review_queue(session=session, principal=principal)
    return render(request, "prescription/queue.html", {"items": items, **_labels()})


@router.get("/care/pharmacy/review/{prescription_id}")
async def review(
    request: Request,
    prescription_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
) -> Response:
    view = await service.get(session=session, principal=principal, prescription_id=prescription_id)
    return render(
        request,
        "prescription/review.html",
        {"rx": view, "notice": NOTICES.get(notice), **_labels()},
    )


@router.get("/care/pharmacy/pickup")
async def pickup_desk(
    request: Request,
    principal: CurrentPrincipal,
    pharmacy_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The dispensing desk: the pharmacy's id and the patient's code; the API checks who may dispense."""
    return render(request, "prescription/pickup.html", {"pharmacy_id": pharmacy_id, **_labels()})


@router.get("/care/prescriptions")
async def mine(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    items = await service.list_mine(session=session, principal=principal)
    return render(request, "prescription/mine.html", {"items": items, **_labels()})


@router.get("/care/prescriptions/{prescription_id}")
async def detail(
    request: Request,
    prescription_id: RecordId,
    session: SessionDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
) -> Response:
    view = await service.get(session=session, principal=principal, prescription_id=prescription_id)
    pharmacies: list[PharmacyOut] = []
    if view.status == Status.approved.value and view.fulfilment is None:
        try:
            pharmacies = await service.pharmacies_for(
                session=session, principal=principal, prescription_id=prescription_id
            )
        except DomainError:
            pharmacies = []  # a reader who may not choose (the doctor) simply sees no choice
    return render(
        request,
        "prescription/detail.html",
        {
            "rx": view,
            "pharmacies": pharmacies,
            "cold_chain": any(line.cold_chain for line in view.lines),
            "notice": NOTICES.get(notice),
            **_labels(),
        },
    )
