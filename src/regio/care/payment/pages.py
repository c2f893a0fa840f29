"""HTML pages of payment: the insurance preview before paying, an order with its split, the demo payment
page, my orders with refunds, my family's insurance enrolments and the hospital's reconciliation download.

Reads are rendered here through the services, so their refusals show as the error page; every change
(creating an order, paying, cancelling, saving an enrolment) is made by the page's script through the
JSON API, which checks the CSRF header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from regio.care.booking import policies as booking_policies
from regio.care.booking import service as booking_service
from regio.care.booking.schemas import AppointmentOut
from regio.care.patients import service as patients_service
from regio.care.payment import errors, service
from regio.care.payment.enums import REFUNDABLE, OrderKind, OrderStatus
from regio.care.payment.schemas import EnrolmentOut, OrderOut
from regio.care.prescription import service as prescription_service
from regio.care.prescription.schemas import PrescriptionOut
from regio.care.records import icd10
from regio.care.records.policies import SHANGHAI, shanghai_day
from regio.config import Settings
from regio.core.access import Principal, Role, ScopeKind
from regio.core.db import utcnow
from regio.core.deps import MAX_ID, CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError
from regio.core.templating import render

router = APIRouter(tags=["payment pages"], include_in_schema=False)

# The regions whose policies ship with Regio; any other adcode may still be typed in.
REGIONS = (
    ("330000", ("浙江省", "Zhejiang")),
    ("350000", ("福建省", "Fujian")),
    ("110000", ("北京市", "Beijing")),
)
SCHEMES = {"employee": ("职工医保", "Employee scheme"), "resident": ("居民医保", "Resident scheme")}
VISIT_TYPES = {"follow_up": ("复诊", "Follow-up visit"), "first_visit": ("首诊", "First visit")}
KIND_LABELS = {
    OrderKind.consultation.value: ("问诊费", "Consultation"),
    OrderKind.prescription.value: ("药费", "Drugs"),
}
ITEM_KINDS = {
    "consultation": ("诊察费", "Consultation"),
    "drug": ("药品", "Drug"),
    "delivery": ("配送", "Delivery"),
}
# Badge colours by status: what still needs the patient stands out.
STATUS_TONES = {
    OrderStatus.pending.value: "warn",
    OrderStatus.paid.value: "ok",
    OrderStatus.failed.value: "bad",
    OrderStatus.expired.value: "",
    OrderStatus.refunded.value: "",
    OrderStatus.partially_refunded.value: "warn",
}
NOTICES = {
    "paid": ("支付成功。", "Paid."),
    "cancelled": ("预约已取消，款项将原路退回。", "Booking cancelled; the money goes back the way it came."),
    "saved": ("医保信息已保存。", "Insurance details saved."),
}
Notice = Annotated[str, Query(max_length=20)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
VisitType = Annotated[str, Query(pattern=r"^(follow_up|first_visit)$")]
# "none" is the patient's answer "not a chronic-disease visit"; empty means not asked yet.
Condition = Annotated[
    str, Query(pattern=r"^(none|[A-Za-z][0-9]{2}(\.[0-9A-Za-z]{1,4})?|[a-z][a-z0-9_]{1,31})?$")
]


def yuan(fen: int | None) -> str:
    """Money as the pages show it: yuan with two decimals, from integer fen (no float rounding)."""
    value = fen or 0
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def _local(instant: datetime | None) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if instant else ""


def disease_name(code: str) -> tuple[str, str]:
    """A chronic disease's ICD-10 category with its Chinese and English names where the list knows it."""
    entry = icd10.index().get(code)
    if entry is None:
        return code, code
    return f"{entry.name_zh}（{code}）", f"{entry.name_en} ({code})"


def _labels() -> dict[str, Any]:
    return {
        "yuan": yuan,
        "local": _local,
        "status_tones": STATUS_TONES,
        "kind_labels": KIND_LABELS,
        "item_kinds": ITEM_KINDS,
        "visit_types": VISIT_TYPES,
        "schemes": SCHEMES,
        "regions": REGIONS,
        "disease_name": disease_name,
    }


async def _patient_names(session: AsyncSession, settings: Settings, principal: Principal) -> dict[int, str]:
    try:
        bound = await patients_service.list_patients(session=session, settings=settings, principal=principal)
    except DomainError:
        return {}  # not a patient: the orders API answers for them (an empty list)
    return {item.patient.id: item.patient.name for item in bound}


async def _enrolment(session: AsyncSession, principal: Principal, patient_id: int) -> EnrolmentOut | None:
    try:
        return await service.get_enrolment(session=session, principal=principal, patient_id=patient_id)
    except DomainError:
        return None


def chronic_condition(diagnoses: list[str], enrolled: list[str]) -> str | None:
    """The prescription's first diagnosis that is a chronic disease the patient is registered for: the
    drugs are then settled on the 门诊慢特病 terms the insurer grants for it."""
    for code in diagnoses:
        if icd10.category_of(code) in enrolled:
            return icd10.category_of(code)
    return None


@router.get("/care/payments/new")
async def new_order(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    appointment_id: OptionalId = None,
    prescription_id: OptionalId = None,
    visit_type: VisitType = "follow_up",
    condition: Condition = "",
) -> Response:
    """Before paying: what is paid for, and (for a registered chronic disease) on which terms; the
    page's script then creates the order (or finds the open one) and shows its insurance split."""
    if (appointment_id is None) == (prescription_id is None):
        raise errors.NothingToPay(
            reason="name a booking or a prescription to pay for", reason_zh="请指明要支付的预约或处方"
        )
    appointment: AppointmentOut | None = None
    prescription: PrescriptionOut | None = None
    if appointment_id is not None:
        appointment = await booking_service.get_appointment(
            session=session, principal=principal, appointment_id=appointment_id
        )
        patient_id = appointment.patient_id
    else:
        assert prescription_id is not None
        prescription = await prescription_service.get(
            session=session, principal=principal, prescription_id=prescription_id
        )
        patient_id = prescription.patient_id
    enrolment = await _enrolment(session, principal, patient_id)
    enrolled = list(enrolment.chronic_diseases) if enrolment else []
    chosen: str | None = None if condition in ("", "none") else condition.upper()
    ask = False
    if prescription is not None and not condition:
        chosen = chronic_condition(list(prescription.diagnoses), enrolled)
    elif appointment is not None and not condition and enrolled:
        ask = True  # only the patient knows whether this follow-up is for a registered chronic disease
    names = await _patient_names(session, settings, principal)
    return render(
        request,
        "payment/new.html",
        {
            "appointment": appointment,
            "prescription": prescription,
            "patient_name": names.get(patient_id, ""),
            "enrolment": enrolment,
            "visit_type": visit_type if appointment is not None else "",
            "condition": chosen or "",
            "ask_condition": ask,
            "base_url": request.url.path
            + (
                f"?appointment_id={appointment_id}"
                if appointment_id
                else f"?prescription_id={prescription_id}"
            )
            + (f"&visit_type={visit_type}" if appointment is not None else ""),
            **_labels(),
        },
    )


def _onward(order: OrderOut) -> list[tuple[str, str, str, str]]:
    """Where the patient goes once the order is paid: (id, href, Chinese, English)."""
    if order.kind == OrderKind.consultation.value:
        return [
            ("to-booking", "/booking", "查看我的预约", "My bookings"),
            ("to-consultations", "/care/consultations", "我的问诊", "My consultations"),
        ]
    return [
        (
            "to-prescription",
            f"/care/prescriptions/{order.prescription_id}",
            "返回处方（取药码/配送）",
            "Back to the prescription (pickup or delivery)",
        )
    ]


@router.get("/care/payments")
async def mine(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
) -> Response:
    """My family's orders, newest first, with their refunds; a paid booking still before its cut-off
    can be cancelled here, which gives the money back."""
    orders = await service.list_orders(session=session, principal=principal)
    names = await _patient_names(session, settings, principal)
    cancellable: set[int] = set()
    if any(order.appointment_id for order in orders):
        try:
            bookings = await booking_service.my_appointments(session=session, principal=principal)
        except DomainError:
            bookings = []
        now = utcnow()
        open_bookings = {
            booking.id
            for booking in bookings
            if booking.status == "confirmed"
            and booking.slot is not None
            and booking_policies.may_cancel_at(
                now, booking.slot.start_at, settings.booking_cancel_cutoff_minutes
            )
        }
        cancellable = {
            order.id
            for order in orders
            if order.appointment_id in open_bookings and OrderStatus(order.status) in REFUNDABLE
        }
    return render(
        request,
        "payment/mine.html",
        {
            "orders": orders,
            "patient_names": names,
            "cancellable": cancellable,
            "notice": NOTICES.get(notice),
            **_labels(),
        },
    )


@router.get("/care/payments/reconciliation")
async def reconciliation(request: Request, principal: CurrentPrincipal) -> Response:
    """A hospital administrator's daily reconciliation download (the CSV API checks the hospital)."""
    # Orders name the drugs people take: the hospital's own administrators only, not the platform's.
    if not principal.is_person or not principal.has_role(Role.hospital_admin):
        raise errors.ReconciliationForbidden()
    hospitals = sorted(principal.scope_ids(Role.hospital_admin, ScopeKind.hospital), key=_numeric_first)
    return render(
        request,
        "payment/reconciliation.html",
        {
            "hospital_ids": hospitals,
            "hospital_id": hospitals[0] if hospitals else "",
            "day": shanghai_day(utcnow()).isoformat(),
        },
    )


def _numeric_first(scope: str) -> tuple[int, str]:
    return (int(scope), scope) if scope.isdigit() else (2**63, scope)


@router.get("/care/insurance")
async def insurance(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    notice: Notice = "",
) -> Response:
    """My family's insurance enrolments: each person's region, scheme, chronic diseases and account."""
    bound = await patients_service.list_patients(session=session, settings=settings, principal=principal)
    people = [(item.patient, await _enrolment(session, principal, item.patient.id)) for item in bound]
    return render(
        request,
        "payment/insurance.html",
        {
            "people": people,
            "known_regions": {code for code, _ in REGIONS},
            "notice": NOTICES.get(notice),
            **_labels(),
        },
    )


@router.get("/care/payments/{order_id}")
async def order(
    request: Request,
    order_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    visit_type: Annotated[str, Query(pattern=r"^(follow_up|first_visit)?$")] = "",
    notice: Notice = "",
) -> Response:
    """One order: its items, the insurance split with one explanation per item, and paying it."""
    view = await service.get_order(session=session, principal=principal, order_id=order_id)
    names = await _patient_names(session, settings, principal)
    return render(
        request,
        "payment/order.html",
        {
            "order": view,
            "patient_name": names.get(view.patient_id, ""),
            "visit_type": visit_type if view.kind == OrderKind.consultation.value else "",
            "onward": _onward(view),
            "notice": NOTICES.get(notice),
            **_labels(),
        },
    )


@router.get("/care/payments/{order_id}/pay")
async def demo_pay(
    request: Request,
    order_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Response:
    """The in-memory gateway's stand-in for a real cashier page: the patient's own share, one button."""
    view = await service.get_order(session=session, principal=principal, order_id=order_id)
    return render(
        request,
        "payment/pay.html",
        {
            "order": view,
            "demo": settings.environment in ("development", "test"),
            "onward": _onward(view),
            **_labels(),
        },
    )
