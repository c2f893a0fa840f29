"""Payment's only writer: fees, insurance enrolment and preview, orders settled with the insurer, the
gateway's notifications, refunds, lapsed orders and the daily reconciliation; every step audited.

The order of money: an order is priced and previewed; paying settles it with the insurer first (the
fund's and personal account's shares, and the insurance year's totals, moved by conditional UPDATEs on
the totals the split was worked out on), then the gateway collects the patient's own share. The
gateway's signed notification marks it paid, and only then does the booking hold become a booking or the
prescription's drugs leave the pharmacy. A failed or lapsed payment gives the insurer's shares back.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.booking import service as booking_service
from regio.care.patients import service as patients_service
from regio.care.patients.models import Patient
from regio.care.payment import errors, insurance, repository
from regio.care.payment.enums import ORDER_LABELS, REFUNDABLE, OrderKind, OrderStatus, insurance_level
from regio.care.payment.gateways import Gateway, gateway_secret, notification_body
from regio.care.payment.models import Enrolment, Order
from regio.care.payment.schemas import (
    EnrolmentIn,
    EnrolmentOut,
    FeeIn,
    FeeOut,
    ItemOut,
    LineOut,
    OrderIn,
    OrderOut,
    PolicyOut,
    PreviewIn,
    PreviewOut,
    PriceIn,
    RefundOut,
)
from regio.care.prescription import policies as prescription_policies
from regio.care.prescription import service as prescription_service
from regio.care.prescription.models import Pharmacy
from regio.care.records import policies as records_policies
from regio.config import Settings
from regio.core import audit, outbox, webhooks
from regio.core.access import SYSTEM, Principal, Role, ScopeKind
from regio.core.db import Database, transaction, utcnow, write_transaction
from regio.core.errors import Forbidden

log = logging.getLogger("regio.payment")

FEES_FILE = Path(__file__).resolve().parent / "data" / "fees.json"
TOPIC_NOTICE = "care.payment.notice"
TOPIC_GATEWAY_REFUND = "care.payment.gateway_refund"
MAX_LIST = 200
_SETTLE_TRIES = 5


def _today() -> date:
    return records_policies.shanghai_day(utcnow())


@lru_cache(maxsize=1)
def fee_schedule() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FEES_FILE.read_text(encoding="utf-8"))
    return loaded


def default_fee(title: str, mode: str) -> int:
    schedule = fee_schedule()
    base = int(schedule["by_title"].get(title, min(schedule["by_title"].values())))
    surcharge = int(schedule["mode_surcharge_percent"].get(mode, 0))
    return base * (100 + surcharge) // 100


# ---- who acts for whom ---------------------------------------------------------------------------


async def _actable(session: AsyncSession, principal: Principal) -> frozenset[int]:
    if not (principal.is_person and principal.has_role(Role.patient)):
        return frozenset()
    return await patients_service.actable_patient_ids(session=session, principal=principal)


async def _own_patient_id(session: AsyncSession, principal: Principal) -> int | None:
    if principal.user_id is None:
        return None
    return await session.scalar(select(Patient.id).where(Patient.user_id == principal.user_id))


def _hospital_staff(principal: Principal, hospital_id: int) -> bool:
    """The hospital's own administrators: orders name the drugs a person takes, so not the platform's."""
    return principal.is_person and principal.has_role(
        Role.hospital_admin, ScopeKind.hospital, str(hospital_id)
    )


# ---- insurance: enrolment and preview ------------------------------------------------------------


def _enrolment_view(row: Enrolment, year: int, totals: tuple[int, int]) -> EnrolmentOut:
    return EnrolmentOut(
        patient_id=row.patient_id,
        region_adcode=row.region_adcode,
        scheme=row.scheme,
        chronic_diseases=list(row.chronic_diseases),
        personal_account_fen=row.personal_account_fen,
        year=year,
        deductible_used_fen=totals[0],
        fund_paid_fen=totals[1],
    )


async def _year_seen(session: AsyncSession, patient_id: int, year: int) -> tuple[int, int]:
    row = await repository.year_totals(session, patient_id, year)
    return (row.deductible_used_fen, row.fund_paid_fen) if row else (0, 0)


async def get_enrolment(
    *, session: AsyncSession, principal: Principal, patient_id: int
) -> EnrolmentOut | None:
    if patient_id not in await _actable(session, principal):
        raise errors.NotYourPatient(patient_id=patient_id)
    async with transaction(session):
        row = await repository.enrolment(session, patient_id)
        year = _today().year
        view = _enrolment_view(row, year, await _year_seen(session, patient_id, year)) if row else None
        await audit.record(
            session, principal, "payment.enrolment_read", object_type="patient", object_id=patient_id
        )
    return view


async def save_enrolment(
    *, session: AsyncSession, principal: Principal, patient_id: int, data: EnrolmentIn
) -> EnrolmentOut:
    """The patient records their insurance (the insurer confirms it at settlement in a real deployment)."""
    if patient_id not in await _actable(session, principal):
        raise errors.NotYourPatient(patient_id=patient_id)
    async with write_transaction(session):
        await repository.save_enrolment(
            session,
            {
                "patient_id": patient_id,
                "region_adcode": data.region_adcode,
                "scheme": data.scheme,
                "chronic_diseases": sorted(set(data.chronic_diseases)),
                "updated_by_user_id": principal.user_id,
                "updated_at": utcnow(),
            },
        )
        await audit.record(
            session,
            principal,
            "payment.enrolment_saved",
            object_type="patient",
            object_id=patient_id,
            details={"region": data.region_adcode, "scheme": data.scheme},
        )
        row = await repository.enrolment(session, patient_id)
        assert row is not None
        year = _today().year
        view = _enrolment_view(row, year, await _year_seen(session, patient_id, year))
    return view


def _engine_enrolment(row: Enrolment | None) -> insurance.Enrolment | None:
    if row is None:
        return None
    return insurance.Enrolment(
        region_adcode=row.region_adcode,
        scheme=insurance.Scheme(row.scheme),
        chronic_diseases=tuple(row.chronic_diseases),
        personal_account_balance_fen=row.personal_account_fen,
    )


def _policy_view(policy: insurance.Policy) -> PolicyOut:
    return PolicyOut(
        key=policy.key,
        version=policy.version,
        name_zh=policy.name_zh,
        name_en=policy.name_en,
        source=policy.source,
    )


def _line_views(settlement: insurance.Settlement) -> list[LineOut]:
    return [
        LineOut(
            kind=line.kind.value,
            amount_fen=line.amount_fen,
            fund=line.fund_fen,
            personal_account=line.personal_account_fen,
            out_of_pocket=line.out_of_pocket_fen,
            rule_zh=line.rule_zh,
            rule_en=line.rule_en,
        )
        for line in settlement.lines
    ]


def _settle(
    *,
    region: str,
    on: date,
    scheme: insurance.Scheme,
    visit_type: str,
    condition: str | None,
    hospital_level: str,
    items: Sequence[insurance.Item],
    enrolment: insurance.Enrolment | None,
    ytd: insurance.YearToDate,
) -> tuple[insurance.Policy, insurance.Settlement]:
    try:
        policy = insurance.policy_for(region, on)
    except insurance.NoPolicy:
        raise errors.NoInsurancePolicy(region=region, on=on.isoformat()) from None
    try:
        settlement = insurance.settle(
            policy=policy,
            scheme=scheme,
            on=on,
            visit_type=visit_type,
            condition=condition,
            hospital_level=hospital_level,
            items=items,
            enrolment=enrolment,
            ytd=ytd,
        )
    except ValueError as exc:
        raise errors.InsuranceInputInvalid(problem=str(exc)) from None
    return policy, settlement


async def preview(*, session: AsyncSession, principal: Principal, data: PreviewIn) -> PreviewOut:
    """The split a bill would get: for a person the principal acts for (their enrolment and this year's
    totals), the signed-in patient by default, or a person insured as the body says."""
    if not principal.is_authenticated:
        raise Forbidden()
    patient_id = data.patient_id
    if patient_id is not None and patient_id not in await _actable(session, principal):
        raise errors.NotYourPatient(patient_id=patient_id)
    if patient_id is None and principal.has_role(Role.patient):
        patient_id = await _own_patient_id(session, principal)
    row = await repository.enrolment(session, patient_id) if patient_id is not None else None
    if row is not None:
        enrolment = _engine_enrolment(row)
        seen = await _year_seen(session, row.patient_id, data.date.year)
        ytd = insurance.YearToDate(deductible_used_fen=seen[0], fund_paid_fen=seen[1])
        scheme = insurance.Scheme(row.scheme)
    else:
        enrolment = insurance.Enrolment(region_adcode=data.region, scheme=insurance.Scheme(data.scheme))
        ytd = insurance.YearToDate()
        scheme = insurance.Scheme(data.scheme)
    items = [
        insurance.Item(
            kind=insurance.ItemKind(item.kind),
            amount_fen=item.amount_fen,
            insurance_class=item.insurance_class,
            visit_type=item.visit_type,
        )
        for item in data.items
    ]
    policy, settlement = _settle(
        region=data.region,
        on=data.date,
        scheme=scheme,
        visit_type=data.visit_type,
        condition=data.condition,
        hospital_level=data.hospital_level,
        items=items,
        enrolment=enrolment,
        ytd=ytd,
    )
    if row is not None:
        await audit.record(
            session, principal, "payment.preview", object_type="patient", object_id=row.patient_id
        )
        if session.in_transaction():
            await session.commit()
    return PreviewOut(
        total=settlement.total_fen,
        fund=settlement.fund_fen,
        personal_account=settlement.personal_account_fen,
        out_of_pocket=settlement.out_of_pocket_fen,
        lines=_line_views(settlement),
        policy=_policy_view(policy),
        insured=enrolment is not None and settlement.fund_fen + settlement.personal_account_fen > 0,
        deductible_applied=settlement.deductible_applied_fen,
    )


# ---- orders --------------------------------------------------------------------------------------


def _reference(kind: OrderKind) -> str:
    return ("CS" if kind is OrderKind.consultation else "RX") + secrets.token_hex(8).upper()


def _order_view(row: Order, refunds: Sequence[Any]) -> OrderOut:
    status = OrderStatus(row.status)
    stored = row.settlement or {}
    policy = stored.get("policy")
    return OrderOut(
        id=row.id,
        reference=row.reference,
        kind=row.kind,
        status=status.value,
        status_zh=ORDER_LABELS[status][0],
        status_en=ORDER_LABELS[status][1],
        appointment_id=row.appointment_id,
        prescription_id=row.prescription_id,
        patient_id=row.patient_id,
        hospital_id=row.hospital_id,
        items=[ItemOut(**item) for item in row.items],
        total_fen=row.total_fen,
        fund_fen=row.fund_fen,
        personal_account_fen=row.personal_account_fen,
        out_of_pocket_fen=row.out_of_pocket_fen,
        refunded_fen=row.refunded_fund_fen
        + row.refunded_personal_account_fen
        + row.refunded_out_of_pocket_fen,
        lines=[LineOut(**line) for line in stored.get("lines", [])],
        policy=PolicyOut(**policy) if policy else None,
        insured=bool(stored.get("insured")),
        settled=row.settled_at is not None,
        pay_url=row.pay_url,
        visit_type=row.visit_type,
        condition=row.condition,
        expires_at=row.expires_at,
        paid_at=row.paid_at,
        created_at=row.created_at,
        refunds=[
            RefundOut(
                reference=refund.reference,
                amount_fen=refund.amount_fen,
                fund_fen=refund.fund_fen,
                personal_account_fen=refund.personal_account_fen,
                out_of_pocket_fen=refund.out_of_pocket_fen,
                reason=refund.reason,
                created_at=refund.created_at,
            )
            for refund in refunds
        ],
    )


async def _view(session: AsyncSession, order_id: int) -> OrderOut:
    row = await repository.order(session, order_id)
    assert row is not None
    return _order_view(row, await repository.refunds_of(session, [row.id]))


def _stored_settlement(
    policy: insurance.Policy, settlement: insurance.Settlement, insured: bool
) -> dict[str, Any]:
    return {
        "policy": _policy_view(policy).model_dump(),
        "lines": [line.model_dump() for line in _line_views(settlement)],
        "insured": insured,
    }


async def _items_for_appointment(
    session: AsyncSession, appointment: booking_service.PayableAppointment
) -> list[dict[str, Any]]:
    doctor = await repository.doctor(session, appointment.doctor_id)
    title = doctor.title if doctor else ""
    fee = await repository.consultation_fee(session, appointment.hospital_id, appointment.mode, title)
    if fee is None:
        fee = appointment.fee_fen or default_fee(title, appointment.mode)
    mode_zh = {"text": "图文", "voice": "语音", "video": "视频"}.get(appointment.mode, appointment.mode)
    return [
        {
            "kind": "consultation",
            "name": f"{mode_zh}问诊诊察费（{title or '医师'}）",
            "quantity": 1,
            "amount_fen": fee,
            "insurance_class": None,
        }
    ]


async def _items_for_prescription(
    session: AsyncSession, facts: prescription_service.PayableFacts, settings: Settings
) -> list[dict[str, Any]]:
    prices = await repository.drug_prices(session, facts.pharmacy_id, facts.quantities)
    missing = [facts.names[code] for code in sorted(facts.quantities) if code not in prices]
    if missing:
        raise errors.PriceMissing(drugs="、".join(missing))
    items = [
        {
            "kind": "drug",
            "name": facts.names[code],
            "quantity": quantity,
            "amount_fen": prices[code] * quantity,
            "insurance_class": facts.insurance_classes.get(code),
        }
        for code, quantity in sorted(facts.quantities.items())
    ]
    if facts.method == "delivery":
        fee = settings.delivery_fee_fen + (settings.cold_chain_fee_fen if facts.cold_chain else 0)
        name = "配送费（冷链）" if facts.cold_chain else "配送费"
        items.append(
            {"kind": "delivery", "name": name, "quantity": 1, "amount_fen": fee, "insurance_class": None}
        )
    return items


def _engine_items(items: Iterable[dict[str, Any]], visit_type: str) -> list[insurance.Item]:
    return [
        insurance.Item(
            kind=insurance.ItemKind(item["kind"]),
            amount_fen=int(item["amount_fen"]),
            insurance_class=item.get("insurance_class"),
            visit_type=visit_type if item["kind"] == "consultation" else None,
        )
        for item in items
    ]


async def _price_and_split(
    session: AsyncSession,
    *,
    patient_id: int,
    hospital_id: int,
    items: list[dict[str, Any]],
    visit_type: str,
    condition: str | None,
    on: date,
) -> tuple[insurance.Policy, insurance.Settlement, Enrolment | None, tuple[int, int]]:
    hospital = await repository.hospital(session, hospital_id)
    if hospital is None:
        raise errors.NothingToPay(reason="unknown hospital", reason_zh="医院不存在")
    row = await repository.enrolment(session, patient_id)
    seen = await _year_seen(session, patient_id, on.year)
    enrolment = _engine_enrolment(row)
    policy, settlement = _settle(
        region=hospital.region_adcode,
        on=on,
        scheme=enrolment.scheme if enrolment else insurance.Scheme.resident,
        visit_type=visit_type,
        condition=condition,
        hospital_level=insurance_level(hospital.level),
        items=_engine_items(items, visit_type),
        enrolment=enrolment,
        ytd=insurance.YearToDate(deductible_used_fen=seen[0], fund_paid_fen=seen[1]),
    )
    return policy, settlement, row, seen


async def _prescribed_condition(
    session: AsyncSession, facts: prescription_service.PayableFacts
) -> str | None:
    """The diagnosis a prescription treats, as the insurer sees it: a registered chronic disease of the
    patient's first, so its own terms apply; else the first diagnosis."""
    row = await repository.enrolment(session, facts.patient_id)
    registered = set(row.chronic_diseases) if row else set()
    for code in facts.diagnoses:
        if code[:3].upper() in registered:
            return code
    return facts.diagnoses[0] if facts.diagnoses else None


async def create_order(
    *, session: AsyncSession, principal: Principal, data: OrderIn, settings: Settings
) -> OrderOut:
    """Prices a booking's consultation or a prescription's drugs (and delivery) and previews the insurance
    split; one live order per booking or prescription."""
    actable = await _actable(session, principal)
    now = utcnow()
    async with write_transaction(session):
        if data.appointment_id is not None:
            appointment = await booking_service.payable_appointment(
                session, appointment_id=data.appointment_id
            )
            hold_ends = appointment.hold_expires_at if appointment else None
            if appointment is None or appointment.patient_id not in actable:
                raise errors.NothingToPay(reason="no such booking of yours", reason_zh="没有您的这项预约")
            if appointment.status != "held" or hold_ends is None or hold_ends <= now:
                raise errors.NothingToPay(
                    reason="the booking is not waiting for payment", reason_zh="该预约不在待支付状态"
                )
            kind, patient_id, hospital_id, pharmacy_id = (
                OrderKind.consultation,
                appointment.patient_id,
                appointment.hospital_id,
                None,
            )
            items = await _items_for_appointment(session, appointment)
            expires_at = hold_ends
            condition = data.condition
        else:
            assert data.prescription_id is not None
            facts = await prescription_service.payable(session, prescription_id=data.prescription_id)
            if facts is None or facts.patient_id not in actable:
                raise errors.NothingToPay(
                    reason="no approved prescription of yours with a pharmacy chosen",
                    reason_zh="没有已审核并已选择药房的处方",
                )
            kind, patient_id, hospital_id, pharmacy_id = (
                OrderKind.prescription,
                facts.patient_id,
                facts.hospital_id,
                facts.pharmacy_id,
            )
            items = await _items_for_prescription(session, facts, settings)
            expires_at = now + timedelta(minutes=settings.payment_order_minutes)
            condition = data.condition or await _prescribed_condition(session, facts)
        policy, settlement, row, _ = await _price_and_split(
            session,
            patient_id=patient_id,
            hospital_id=hospital_id,
            items=items,
            visit_type=data.visit_type,
            condition=condition,
            on=_today(),
        )
        order_id = await repository.add_order(
            session,
            {
                "reference": _reference(kind),
                "kind": kind.value,
                "appointment_id": data.appointment_id,
                "prescription_id": data.prescription_id,
                "patient_id": patient_id,
                "hospital_id": hospital_id,
                "pharmacy_id": pharmacy_id,
                "payer_user_id": principal.user_id,
                "status": OrderStatus.pending.value,
                "items": items,
                "visit_type": data.visit_type,
                "condition": condition,
                "total_fen": settlement.total_fen,
                "fund_fen": settlement.fund_fen,
                "personal_account_fen": settlement.personal_account_fen,
                "out_of_pocket_fen": settlement.out_of_pocket_fen,
                "settlement": _stored_settlement(policy, settlement, row is not None),
                "expires_at": expires_at,
                "created_at": now,
                "updated_at": now,
            },
        )
        if order_id is None:
            existing = await repository.live_order_for(
                session, appointment_id=data.appointment_id, prescription_id=data.prescription_id
            )
            raise errors.AlreadyOrdered(order_id=existing.id if existing else 0)
        await audit.record(
            session,
            principal,
            "payment.order_created",
            object_type="order",
            object_id=order_id,
            details={"kind": kind.value, "total_fen": settlement.total_fen, "patient_id": patient_id},
        )
        view = await _view(session, order_id)
    return view


async def _readable_order(session: AsyncSession, principal: Principal, order_id: int) -> Order:
    row = await repository.order(session, order_id)
    if row is None:
        raise errors.OrderNotFound(order_id=order_id)
    if row.patient_id in await _actable(session, principal) or _hospital_staff(principal, row.hospital_id):
        return row
    raise errors.OrderNotFound(order_id=order_id)


async def get_order(*, session: AsyncSession, principal: Principal, order_id: int) -> OrderOut:
    async with transaction(session):
        row = await _readable_order(session, principal, order_id)
        view = _order_view(row, await repository.refunds_of(session, [row.id]))
        await audit.record(session, principal, "payment.order_read", object_type="order", object_id=row.id)
    return view


async def list_orders(*, session: AsyncSession, principal: Principal) -> list[OrderOut]:
    async with transaction(session):
        rows = await repository.orders_of_patients(
            session, await _actable(session, principal), limit=MAX_LIST
        )
        refunds = await repository.refunds_of(session, [row.id for row in rows])
        by_order: dict[int, list[Any]] = {}
        for refund in refunds:
            by_order.setdefault(refund.order_id, []).append(refund)
        views = [_order_view(row, by_order.get(row.id, [])) for row in rows]
        if views:
            await audit.record(
                session,
                principal,
                "payment.orders_listed",
                object_type="order",
                object_id=None,
                details={"ids": [view.id for view in views]},
            )
    return views


# ---- settling and paying -------------------------------------------------------------------------


async def _settle_for_real(session: AsyncSession, order: Order) -> bool:
    """Moves the insurer's shares once: the order is claimed first (settled_at set by a conditional
    UPDATE, so a second `pay` at the same moment settles nothing), then the year's totals move on
    exactly the totals the split used and the personal account is debited; another settlement of the
    same person racing ahead makes this one recompute and try again. False if already settled."""
    on = _today()
    if not await repository.change_order(
        session,
        order.id,
        from_statuses=[OrderStatus.pending.value],
        values={"settled_at": utcnow()},
        extra=[Order.settled_at.is_(None)],
    ):
        return False
    for _ in range(_SETTLE_TRIES):
        policy, settlement, row, seen = await _price_and_split(
            session,
            patient_id=order.patient_id,
            hospital_id=order.hospital_id,
            items=list(order.items),
            visit_type=order.visit_type,
            condition=order.condition,
            on=on,
        )
        await repository.ensure_year(session, order.patient_id, on.year)
        moved = await repository.move_year(
            session,
            order.patient_id,
            on.year,
            seen=seen,
            deductible_delta=settlement.deductible_applied_fen,
            fund_delta=settlement.fund_fen,
        )
        if not moved:
            continue
        if not await repository.take_account(session, order.patient_id, settlement.personal_account_fen):
            await repository.give_back_year(
                session,
                order.patient_id,
                on.year,
                deductible_fen=settlement.deductible_applied_fen,
                fund_fen=settlement.fund_fen,
            )
            continue
        now = utcnow()
        changed = await repository.change_order(
            session,
            order.id,
            from_statuses=[OrderStatus.pending.value],
            values={
                "total_fen": settlement.total_fen,
                "fund_fen": settlement.fund_fen,
                "personal_account_fen": settlement.personal_account_fen,
                "out_of_pocket_fen": settlement.out_of_pocket_fen,
                "settlement": _stored_settlement(policy, settlement, row is not None),
                "settled_at": now,
                "insurance_year": on.year,
                "deductible_applied_fen": settlement.deductible_applied_fen,
                "updated_at": now,
            },
        )
        assert changed, "the order was claimed in this transaction"
        return True
    raise errors.OrderNotPayable(status="busy", status_zh="医保结算繁忙，请重试")


async def _unsettle(session: AsyncSession, order: Order) -> None:
    """Gives the insurer's shares of an unpaid order back (a failed or lapsed payment)."""
    if order.settled_at is None or order.insurance_year is None:
        return
    await repository.give_back_year(
        session,
        order.patient_id,
        order.insurance_year,
        deductible_fen=order.deductible_applied_fen,
        fund_fen=order.fund_fen,
    )
    await repository.credit_account(session, order.patient_id, order.personal_account_fen)


def _notify_url(settings: Settings, gateway: Gateway) -> str:
    return settings.base_url.rstrip("/") + f"/api/care/payments/gateways/{gateway.name}/notify"


async def pay(
    *, session: AsyncSession, principal: Principal, order_id: int, settings: Settings, gateway: Gateway
) -> OrderOut:
    """Settles the order with the insurer and starts collecting the patient's share; a share of zero is
    paid at once."""
    async with write_transaction(session):
        row = await _readable_order(session, principal, order_id)
        if row.patient_id not in await _actable(session, principal):
            raise errors.OrderNotFound(order_id=order_id)
        status = OrderStatus(row.status)
        expires = row.expires_at
        if status is not OrderStatus.pending or (expires is not None and expires <= utcnow()):
            raise errors.OrderNotPayable(status=status.value, status_zh=ORDER_LABELS[status][0])
        if row.settled_at is None:
            await _settle_for_real(session, row)
            row = await repository.order(session, order_id) or row
        if row.gateway_txn_id is not None and row.out_of_pocket_fen > 0:
            # Payment already started: the same page again, not a second charge.
            return _order_view(row, [])
        await audit.record(
            session,
            principal,
            "payment.settled",
            object_type="order",
            object_id=row.id,
            details={"fund_fen": row.fund_fen, "personal_account_fen": row.personal_account_fen},
        )
        if row.out_of_pocket_fen == 0:
            await _apply_paid(session, row, principal)
            return await _view(session, order_id)
        reference, amount = row.reference, row.out_of_pocket_fen
    start = await gateway.create_payment(
        reference=reference,
        amount_fen=amount,
        description="Regio 互联网医院" + ("问诊费" if row.kind == OrderKind.consultation.value else "药费"),
        notify_url=_notify_url(settings, gateway),
    )
    pay_url = start.pay_url or (f"/care/payments/{order_id}/pay" if gateway.name == "memory" else None)
    async with write_transaction(session):
        if not await repository.change_order(
            session,
            order_id,
            from_statuses=[OrderStatus.pending.value],
            values={"gateway": gateway.name, "gateway_txn_id": start.transaction_id, "pay_url": pay_url},
        ):
            # It lapsed (or was paid) while the gateway answered; whatever it collects is given back.
            current = await repository.order(session, order_id)
            status_now = OrderStatus(current.status if current else "expired")
            raise errors.OrderNotPayable(status=status_now.value, status_zh=ORDER_LABELS[status_now][0])
        view = await _view(session, order_id)
    return view


async def _apply_paid(session: AsyncSession, row: Order, principal: Principal) -> str:
    """The money is in: the order is paid, then the booking is confirmed or the drugs released. If the
    thing paid for is gone meanwhile (the hold ended), everything is given back at once."""
    now = utcnow()
    if not await repository.change_order(
        session,
        row.id,
        from_statuses=[OrderStatus.pending.value],
        values={"status": OrderStatus.paid.value, "paid_at": now, "updated_at": now},
        extra=[Order.settled_at.is_not(None)],  # never paid without the insurer's shares settled
    ):
        return "not_pending"
    await audit.record(
        session,
        principal,
        "payment.paid",
        object_type="order",
        object_id=row.id,
        details={"total_fen": row.total_fen},
    )
    if row.appointment_id is not None:
        delivered = await booking_service.confirm_paid(session, appointment_id=row.appointment_id, now=now)
        what = "预约已确认" if delivered else "预约已失效，款项将原路退回"
    else:
        assert row.prescription_id is not None
        delivered = await prescription_service.mark_paid(session, prescription_id=row.prescription_id)
        what = "药费已支付，可取药或等待配送" if delivered else "处方状态已变，款项将原路退回"
    if not delivered:
        fresh = await repository.order(session, row.id)
        assert fresh is not None
        await _refund(
            session, SYSTEM, fresh, amount_fen=None, reason="paid after the booking or prescription ended"
        )
    if row.payer_user_id is not None:
        outbox.enqueue(
            session,
            TOPIC_NOTICE,
            {
                "user_id": row.payer_user_id,
                "kind": "payment_paid",
                "text_zh": f"订单 {row.reference} 支付成功：{what}。",
                "text_en": f"Order {row.reference} paid.",
                "data": {"order_id": row.id},
            },
        )
    return "paid" if delivered else "paid_then_refunded"


def _parse_notification(body: bytes) -> tuple[str, str, str, int]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadGatewayNotification(problem="not JSON") from None
    if not isinstance(document, dict):
        raise errors.BadGatewayNotification(problem="not a JSON object")
    event_id, reference, status, amount = (
        document.get("event_id"),
        document.get("reference"),
        document.get("status"),
        document.get("amount_fen"),
    )
    for name, value in (("event_id", event_id), ("reference", reference)):
        if not isinstance(value, str) or not 1 <= len(value) <= 32 + 32 * (name == "event_id"):
            raise errors.BadGatewayNotification(problem=f"{name} must be a short string")
    if status not in ("paid", "failed"):
        raise errors.BadGatewayNotification(problem="status must be paid or failed")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount <= 100_000_000:
        raise errors.BadGatewayNotification(problem="amount_fen must be a whole number of fen")
    return str(event_id), str(reference), str(status), amount


async def notify(
    *, session: AsyncSession, settings: Settings, gateway_name: str, body: bytes, signature: str | None
) -> dict[str, Any]:
    """The gateway's signed report. A repeated event changes nothing; a payment of another amount is
    recorded and not applied; a payment that arrives after the order lapsed is given straight back."""
    async with write_transaction(session):
        await webhooks.verify(
            session=session,
            settings=settings,
            body=body,
            header=signature,
            secret=gateway_secret(settings),
            sender=f"payment gateway {gateway_name}",
        )
        event_id, reference, status, amount = _parse_notification(body)
        row = await repository.order_by_reference(session, reference)
        # Only the gateway the payment was started with reports on it.
        if row is None or row.gateway != gateway_name:
            raise errors.OrderNotFound(order_id=reference)
        fresh = await repository.add_gateway_event(
            session,
            {
                "gateway": gateway_name,
                "event_id": event_id,
                "reference": reference,
                "status": status,
                "amount_fen": amount,
                "applied": False,
                "outcome": "",
                "received_at": utcnow(),
            },
        )
        if not fresh:
            return {"applied": False, "outcome": "repeated"}
        if amount != row.out_of_pocket_fen:
            if status == "paid" and amount > 0:
                await _late_payment_back(session, row, amount, event_id, why="a payment of the wrong amount")
            log.warning(
                "payment notification %s for %s: amount %s, expected %s",
                event_id,
                reference,
                amount,
                row.out_of_pocket_fen,
            )
            outcome = "amount_mismatch"
        elif status == "failed":
            outcome = "failed" if row.status == OrderStatus.pending.value else "ignored"
            if outcome == "failed" and await repository.change_order(
                session,
                row.id,
                from_statuses=[OrderStatus.pending.value],
                values={"status": OrderStatus.failed.value, "updated_at": utcnow()},
            ):
                await _unsettle(session, await repository.order(session, row.id) or row)
        elif row.status == OrderStatus.pending.value:
            outcome = await _apply_paid(session, row, SYSTEM)
        elif row.status in (OrderStatus.expired.value, OrderStatus.failed.value):
            # Money for an order that had lapsed: it goes back to the patient, whole.
            await _late_payment_back(
                session, row, amount, event_id, why="payment arrived after the order lapsed"
            )
            outcome = "late_refunded"
        else:
            outcome = "already_paid"
        applied = outcome in ("paid", "paid_then_refunded", "failed", "late_refunded")
        await repository.set_event_outcome(session, gateway_name, event_id, applied=applied, outcome=outcome)
        await audit.record(
            session,
            SYSTEM,
            "payment.gateway_notification",
            object_type="order",
            object_id=row.id,
            details={"event_id": event_id, "status": status, "outcome": outcome},
        )
    return {"applied": applied, "outcome": outcome}


async def _late_payment_back(
    session: AsyncSession, row: Order, amount: int, event_id: str, *, why: str
) -> None:
    """Money the order cannot keep goes back whole, one refund per gateway event."""
    reference = f"{row.reference}-X{hashlib.sha256(event_id.encode()).hexdigest()[:12].upper()}"
    await repository.add_refund(
        session,
        {
            "reference": reference,
            "order_id": row.id,
            "amount_fen": amount,
            "fund_fen": 0,
            "personal_account_fen": 0,
            "out_of_pocket_fen": amount,
            "reason": why,
            "requested_by_user_id": None,
            "created_at": utcnow(),
        },
    )
    outbox.enqueue(
        session,
        TOPIC_GATEWAY_REFUND,
        {
            "order_reference": row.reference,
            "refund_reference": reference,
            "amount_fen": amount,
            "gateway": row.gateway,
        },
    )


async def simulate_payment(
    *, session: AsyncSession, principal: Principal, order_id: int, settings: Settings, gateway: Gateway
) -> OrderOut:
    """On a laptop (in-memory gateway) the patient "pays" here: the platform sends itself the signed
    notification a real gateway would, so the same path is taken."""
    if gateway.name != "memory":
        raise errors.SimulationOff()
    row = await _readable_order(session, principal, order_id)
    if row.patient_id not in await _actable(session, principal) or row.gateway != "memory":
        raise errors.OrderNotPayable(status=row.status, status_zh=ORDER_LABELS[OrderStatus(row.status)][0])
    body = notification_body(
        event_id="sim-" + secrets.token_hex(8),
        reference=row.reference,
        status="paid",
        amount_fen=row.out_of_pocket_fen,
    )
    if session.in_transaction():
        await session.commit()
    await notify(
        session=session,
        settings=settings,
        gateway_name=gateway.name,
        body=body,
        signature=webhooks.sign(body, secret=gateway_secret(settings)),
    )
    async with transaction(session):
        view = await _view(session, order_id)
    return view


# ---- refunds -------------------------------------------------------------------------------------


def _as_settlement(row: Order) -> insurance.Settlement:
    return insurance.Settlement(
        policy_key="",
        policy_version=0,
        total_fen=row.total_fen,
        fund_fen=row.fund_fen,
        personal_account_fen=row.personal_account_fen,
        out_of_pocket_fen=row.out_of_pocket_fen,
        lines=(),
        deductible_applied_fen=row.deductible_applied_fen,
        year_to_date_after=insurance.YearToDate(),
    )


async def _refund(
    session: AsyncSession, principal: Principal, row: Order, *, amount_fen: int | None, reason: str
) -> None:
    """Gives money back, each share to where it came from: the fund and the insurance year's totals,
    the personal account, and the patient's own share through the gateway (via the outbox)."""
    status = OrderStatus(row.status)
    if status not in REFUNDABLE:
        raise errors.NotRefundable(status=status.value, status_zh=ORDER_LABELS[status][0])
    already = insurance.RefundSplit(
        refund_fen=row.refunded_fund_fen + row.refunded_personal_account_fen + row.refunded_out_of_pocket_fen,
        fund_fen=row.refunded_fund_fen,
        personal_account_fen=row.refunded_personal_account_fen,
        out_of_pocket_fen=row.refunded_out_of_pocket_fen,
    )
    left = row.total_fen - already.refund_fen
    amount = left if amount_fen is None else amount_fen
    if amount <= 0 or amount > left:
        raise errors.RefundTooLarge(left_fen=left, left_yuan=f"{left / 100:.2f}")
    split = insurance.reverse(_as_settlement(row), amount, already_refunded=already)
    everything = amount == left
    changed = await repository.change_order(
        session,
        row.id,
        from_statuses=[s.value for s in REFUNDABLE],
        values={
            "status": (OrderStatus.refunded if everything else OrderStatus.partially_refunded).value,
            "refunded_fund_fen": row.refunded_fund_fen + split.fund_fen,
            "refunded_personal_account_fen": row.refunded_personal_account_fen + split.personal_account_fen,
            "refunded_out_of_pocket_fen": row.refunded_out_of_pocket_fen + split.out_of_pocket_fen,
            "updated_at": utcnow(),
        },
        # Another refund of this order landing first changes these: this one then fails and is retried.
        extra=[
            Order.refunded_fund_fen == row.refunded_fund_fen,
            Order.refunded_personal_account_fen == row.refunded_personal_account_fen,
            Order.refunded_out_of_pocket_fen == row.refunded_out_of_pocket_fen,
        ],
    )
    if not changed:
        raise errors.NotRefundable(status="changed", status_zh="订单已变化，请刷新")
    if row.insurance_year is not None:
        await repository.give_back_year(
            session,
            row.patient_id,
            row.insurance_year,
            deductible_fen=row.deductible_applied_fen if everything else 0,
            fund_fen=split.fund_fen,
        )
    await repository.credit_account(session, row.patient_id, split.personal_account_fen)
    reference = f"{row.reference}-R{already.refund_fen + amount}"
    await repository.add_refund(
        session,
        {
            "reference": reference,
            "order_id": row.id,
            "amount_fen": amount,
            "fund_fen": split.fund_fen,
            "personal_account_fen": split.personal_account_fen,
            "out_of_pocket_fen": split.out_of_pocket_fen,
            "reason": reason[:200],
            "requested_by_user_id": principal.user_id,
            "created_at": utcnow(),
        },
    )
    if split.out_of_pocket_fen and row.gateway:
        outbox.enqueue(
            session,
            TOPIC_GATEWAY_REFUND,
            {
                "order_reference": row.reference,
                "refund_reference": reference,
                "amount_fen": split.out_of_pocket_fen,
                "gateway": row.gateway,
            },
        )
    await audit.record(
        session,
        principal,
        "payment.refunded",
        object_type="order",
        object_id=row.id,
        details={"amount_fen": amount, "fund_fen": split.fund_fen, "reason": reason[:200]},
    )


async def refund(
    *, session: AsyncSession, principal: Principal, order_id: int, amount_fen: int | None, reason: str
) -> OrderOut:
    """A hospital gives money back, in full or in part (a consultation not held, drugs not supplied)."""
    async with write_transaction(session):
        row = await _readable_order(session, principal, order_id)
        if not _hospital_staff(principal, row.hospital_id):
            raise errors.RefundForbidden()
        await _refund(session, principal, row, amount_fen=amount_fen, reason=reason)
        view = await _view(session, order_id)
    return view


async def cancel_booking_and_refund(
    *, session: AsyncSession, settings: Settings, principal: Principal, order_id: int
) -> OrderOut:
    """The patient cancels a paid booking before the cut-off; the whole fee goes back."""
    row = await _readable_order(session, principal, order_id)
    if row.appointment_id is None or row.patient_id not in await _actable(session, principal):
        raise errors.RefundForbidden()
    if session.in_transaction():
        await session.commit()
    await booking_service.cancel(
        session=session, settings=settings, principal=principal, appointment_id=row.appointment_id
    )
    async with write_transaction(session):
        fresh = await repository.order(session, order_id)
        assert fresh is not None
        if OrderStatus(fresh.status) in REFUNDABLE:
            await _refund(
                session, principal, fresh, amount_fen=None, reason="booking cancelled by the patient"
            )
        elif fresh.status == OrderStatus.pending.value and await repository.change_order(
            session,
            fresh.id,
            from_statuses=[OrderStatus.pending.value],
            values={"status": OrderStatus.expired.value, "updated_at": utcnow()},
        ):
            await _unsettle(session, await repository.order(session, fresh.id) or fresh)
        view = await _view(session, order_id)
    return view


# ---- fees and prices ------------------------------------------------------------------------------


async def list_fees(*, session: AsyncSession, principal: Principal, hospital_id: int) -> list[FeeOut]:
    """A hospital's consultation fees by mode and title: its own where set, else the default schedule."""
    if not principal.is_authenticated:
        raise Forbidden()
    out = []
    for title in fee_schedule()["by_title"]:
        for mode in ("text", "voice", "video"):
            own = await repository.consultation_fee(session, hospital_id, mode, title)
            out.append(
                FeeOut(
                    hospital_id=hospital_id,
                    mode=mode,
                    title=title,
                    amount_fen=own if own is not None else default_fee(title, mode),
                    source="hospital" if own is not None else "default",
                )
            )
    return out


async def set_fee(*, session: AsyncSession, principal: Principal, data: FeeIn) -> FeeOut:
    if not _hospital_staff(principal, data.hospital_id):
        raise errors.PricingForbidden()
    async with write_transaction(session):
        await repository.set_consultation_fee(
            session, data.hospital_id, data.mode, data.title, data.amount_fen
        )
        await audit.record(
            session,
            principal,
            "payment.fee_set",
            object_type="hospital",
            object_id=data.hospital_id,
            details={"mode": data.mode, "title": data.title, "amount_fen": data.amount_fen},
        )
    return FeeOut(**data.model_dump(), source="hospital")


async def set_price(*, session: AsyncSession, principal: Principal, data: PriceIn) -> PriceIn:
    """A pharmacy's staff (or its hospital's admins) set what one unit of a drug costs there."""
    pharmacy = await session.get(Pharmacy, data.pharmacy_id)
    allowed = pharmacy is not None and (
        prescription_policies.pharmacy_staff(
            principal, pharmacy_id=pharmacy.id, hospital_id=pharmacy.hospital_id
        )
        or (pharmacy.hospital_id is not None and _hospital_staff(principal, pharmacy.hospital_id))
    )
    if not allowed:
        raise errors.PricingForbidden()
    async with write_transaction(session):
        if not await prescription_service.known_drug(session, data.drug_code):
            raise errors.UnknownDrug(drug_code=data.drug_code)
        await repository.set_drug_price(session, data.pharmacy_id, data.drug_code, data.unit_price_fen)
        await audit.record(
            session,
            principal,
            "payment.price_set",
            object_type="pharmacy",
            object_id=data.pharmacy_id,
            details={"drug_code": data.drug_code, "unit_price_fen": data.unit_price_fen},
        )
    return data


# ---- background work -----------------------------------------------------------------------------


async def refund_cancelled_booking(*, db: Database, appointment_id: int, by: str) -> bool:
    """The outbox's work after booking cancelled an appointment: a paid consultation fee goes back whole,
    a pending order ends (its insurer shares given back). Safe to run twice."""
    async with db.sessionmaker() as session, write_transaction(session):
        row = await repository.live_order_for(session, appointment_id=appointment_id, prescription_id=None)
        if row is None:
            return False
        if OrderStatus(row.status) in REFUNDABLE:
            reason = (
                "booking cancelled by the patient" if by == "patient" else "booking cancelled by the hospital"
            )
            await _refund(session, SYSTEM, row, amount_fen=None, reason=reason)
            return True
        if await repository.change_order(
            session,
            row.id,
            from_statuses=[OrderStatus.pending.value],
            values={"status": OrderStatus.expired.value, "updated_at": utcnow()},
        ):
            await _unsettle(session, await repository.order(session, row.id) or row)
    return False


async def lapse_orders(*, db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Ends unpaid orders past their time and gives back what their settlement took from the insurer."""
    now = now or utcnow()
    total = 0
    async with db.sessionmaker() as session, write_transaction(session):
        for row in await repository.lapsed_orders(session, now, limit=500):
            if await repository.change_order(
                session,
                row.id,
                from_statuses=[OrderStatus.pending.value],
                values={"status": OrderStatus.expired.value, "updated_at": now},
            ):
                # Re-read: a settlement may have committed between the list and the claim.
                await _unsettle(session, await repository.order(session, row.id) or row)
                await audit.record(session, SYSTEM, "payment.lapsed", object_type="order", object_id=row.id)
                total += 1
    return total


async def lapse_job(db: Database, settings: Settings) -> None:
    await lapse_orders(db=db, settings=settings)


async def send_gateway_refund(*, message: outbox.Message, gateway: Gateway) -> None:
    """The outbox's work: ask the gateway to return the patient's share (idempotent by refund reference)."""
    payload = message.payload
    if payload.get("gateway") not in (None, gateway.name):
        log.warning(
            "refund %s was paid through %s, not %s",
            payload["refund_reference"],
            payload.get("gateway"),
            gateway.name,
        )
    await gateway.refund(
        reference=str(payload["order_reference"]),
        refund_reference=str(payload["refund_reference"]),
        amount_fen=int(payload["amount_fen"]),
    )


# ---- reconciliation ------------------------------------------------------------------------------


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


async def reconciliation_csv(
    *, session: AsyncSession, principal: Principal, hospital_id: int, day: date
) -> bytes:
    """One hospital's day: every order and refund, and the totals by share (UTF-8 with BOM, for Excel)."""
    if not _hospital_staff(principal, hospital_id):
        raise errors.ReconciliationForbidden()
    if not 2000 <= day.year <= 2100:
        raise errors.DateOutOfRange()
    start = datetime(day.year, day.month, day.day, tzinfo=records_policies.SHANGHAI)
    end = start + timedelta(days=1)
    async with transaction(session):
        orders = await repository.hospital_orders(session, hospital_id, start, end)
        refunds = await repository.hospital_refunds(session, hospital_id, start, end)
        await audit.record(
            session,
            principal,
            "payment.reconciliation_read",
            object_type="hospital",
            object_id=hospital_id,
            details={"day": day.isoformat()},
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "类型 type",
            "单号 reference",
            "业务 kind",
            "状态 status",
            "时间 time",
            "合计 total",
            "统筹基金 fund",
            "个人账户 personal_account",
            "个人自付 out_of_pocket",
            "说明 note",
        ]
    )
    settled = [row for row in orders if row.status in ("paid", "partially_refunded", "refunded")]
    for row in orders:
        writer.writerow(
            [
                "订单 order",
                row.reference,
                row.kind,
                row.status,
                (row.paid_at or row.created_at)
                .astimezone(records_policies.SHANGHAI)
                .strftime("%Y-%m-%d %H:%M:%S"),
                _yuan(row.total_fen),
                _yuan(row.fund_fen),
                _yuan(row.personal_account_fen),
                _yuan(row.out_of_pocket_fen),
                "",
            ]
        )
    for refund_row, order in refunds:
        writer.writerow(
            [
                "退款 refund",
                refund_row.reference,
                order.kind,
                order.status,
                refund_row.created_at.astimezone(records_policies.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                _yuan(-refund_row.amount_fen),
                _yuan(-refund_row.fund_fen),
                _yuan(-refund_row.personal_account_fen),
                _yuan(-refund_row.out_of_pocket_fen),
                refund_row.reason,
            ]
        )
    paid = [
        sum(getattr(row, name) for row in settled)
        for name in ("total_fen", "fund_fen", "personal_account_fen", "out_of_pocket_fen")
    ]
    back = [
        sum(getattr(r, name) for r, _ in refunds)
        for name in ("amount_fen", "fund_fen", "personal_account_fen", "out_of_pocket_fen")
    ]
    writer.writerow(["合计收款 paid", "", "", "", "", *(_yuan(v) for v in paid), f"{len(settled)} orders"])
    writer.writerow(
        ["合计退款 refunded", "", "", "", "", *(_yuan(-v) for v in back), f"{len(refunds)} refunds"]
    )
    writer.writerow(
        ["净额 net", "", "", "", "", *(_yuan(p - b) for p, b in zip(paid, back, strict=True)), ""]
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
