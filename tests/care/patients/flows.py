"""Service calls the patients tests make over and over, each in a session of its own (as a request would)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from regio.care.patients import service
from regio.care.patients.models import PatientBinding, Relation
from regio.config import Settings
from regio.core.db import Database
from regio.core.sms import SmsGateway
from tests.care.patients.conftest import Person

PHONE = "13900001111"


async def register(
    db: Database,
    settings: Settings,
    person: Person,
    id_number: str,
    relation: Relation = Relation.self_,
    *,
    phone: str = PHONE,
    sms: SmsGateway | None = None,
    name: str = "李四",
) -> int:
    async with db.session() as session:
        answer = await service.register_patient(
            session=session,
            settings=settings,
            principal=person.principal,
            name=name,
            id_number=id_number,
            phone=phone,
            relation=relation,
            sms=sms,
        )
    return answer.patient.id


async def register_answer(
    db: Database,
    settings: Settings,
    person: Person,
    id_number: str,
    relation: Relation = Relation.self_,
    *,
    phone: str = PHONE,
    sms: SmsGateway | None = None,
) -> Any:
    async with db.session() as session:
        return await service.register_patient(
            session=session,
            settings=settings,
            principal=person.principal,
            name="李四",
            id_number=id_number,
            phone=phone,
            relation=relation,
            sms=sms,
        )


async def request(
    db: Database, settings: Settings, person: Person, id_number: str, relation: Relation
) -> Any:
    async with db.session() as session:
        return await service.request_binding(
            session=session,
            settings=settings,
            principal=person.principal,
            id_number=id_number,
            relation=relation,
        )


async def accept(db: Database, person: Person, binding_id: int) -> Any:
    async with db.session() as session:
        return await service.accept_binding(
            session=session, principal=person.principal, binding_id=binding_id
        )


async def decline(db: Database, person: Person, binding_id: int) -> Any:
    async with db.session() as session:
        return await service.decline_binding(
            session=session, principal=person.principal, binding_id=binding_id
        )


async def unbind(db: Database, person: Person, binding_id: int) -> Any:
    async with db.session() as session:
        return await service.end_binding(session=session, principal=person.principal, binding_id=binding_id)


async def withdraw(db: Database, person: Person, request_id: int) -> None:
    async with db.session() as session:
        await service.withdraw_request(session=session, principal=person.principal, request_id=request_id)


async def actable(db: Database, person: Person) -> frozenset[int]:
    async with db.session() as session:
        return await service.actable_patient_ids(session=session, principal=person.principal)


async def reveal(db: Database, settings: Settings, person: Person, patient_id: int) -> Any:
    async with db.session() as session:
        return await service.reveal_patient(
            session=session, settings=settings, principal=person.principal, patient_id=patient_id
        )


async def requests_of(db: Database, person: Person) -> Any:
    async with db.session() as session:
        return await service.binding_requests(session=session, principal=person.principal)


async def claim(
    db: Database, settings: Settings, person: Person, sms: SmsGateway, id_number: str, phone: str = PHONE
) -> Any:
    async with db.session() as session:
        return await service.start_claim(
            session=session,
            settings=settings,
            principal=person.principal,
            sms=sms,
            id_number=id_number,
            phone=phone,
        )


async def consent_code(
    db: Database, settings: Settings, person: Person, sms: SmsGateway, request_id: int, phone: str = PHONE
) -> Any:
    async with db.session() as session:
        return await service.request_consent_code(
            session=session,
            settings=settings,
            principal=person.principal,
            sms=sms,
            request_id=request_id,
            phone=phone,
        )


async def confirm(db: Database, settings: Settings, person: Person, claim_id: int, code: str) -> Any:
    async with db.session() as session:
        return await service.confirm_code(
            session=session, settings=settings, principal=person.principal, claim_id=claim_id, code=code
        )


async def bindings_of(db: Database, person: Person) -> list[PatientBinding]:
    async with db.session() as session:
        return list(
            (
                await session.execute(
                    select(PatientBinding)
                    .where(PatientBinding.user_id == person.id)
                    .order_by(PatientBinding.id)
                )
            ).scalars()
        )


async def binding_of(db: Database, person: Person, patient_id: int) -> PatientBinding:
    """The person's newest binding to a patient."""
    return [b for b in await bindings_of(db, person) if b.patient_id == patient_id][-1]


def wrong(code: str) -> str:
    """A 6-digit code that is surely not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
