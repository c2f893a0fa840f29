"""Registering patients, binding family members and reading their records: the only writer here.

Every read or write of a patient record runs in one transaction with its audit entry, and
the clear identity number and phone leave this module only through `reveal_patient`.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import policies, repository
from regio.care.patients.errors import (
    BindingAlreadyEnded,
    BindingExists,
    BindingNotFound,
    BindingNotPending,
    InvalidName,
    NotBoundToPatient,
    PatientExists,
    PatientHasAccount,
    PatientNotFound,
    SelfAlreadyRegistered,
    SelfBindingPermanent,
)
from regio.care.patients.idnumber import (
    ADULT_AGE,
    GUARDIAN_PRESENCE_AGE,
    age_on,
    china_today,
    normalize_phone,
    parse_id_number,
)
from regio.care.patients.models import (
    ID_NUMBER_PURPOSE,
    PHONE_PURPOSE,
    BindingStatus,
    EndReason,
    Patient,
    PatientBinding,
    Relation,
)
from regio.care.patients.policies import BindingFacts, PatientAction, PatientFacts
from regio.care.patients.schemas import (
    BindingOut,
    BindingRequestOut,
    BindingRequestsOut,
    BoundPatientOut,
    IncomingRequestOut,
    PatientOut,
    RevealOut,
)
from regio.config import Settings
from regio.core import audit
from regio.core.access import Principal, require
from regio.core.crypto import FieldCipher, field_cipher
from regio.core.db import transaction, utcnow
from regio.core.errors import DomainError, Forbidden
from regio.core.masking import mask_id_number, mask_phone

NAME_MAX = 50


# ----------------------------------------------------------------- checks and views


def clean_name(raw: str) -> str:
    """A real name: 1–50 printable characters, inner spaces kept (minority and foreign names use them)."""
    name = " ".join(raw.split())
    if not name or len(name) > NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidName()
    return name


def registration_problems(*, name: str, id_number: str, phone: str) -> dict[str, DomainError]:
    """Every field's problem at once, for a form that shows each error beside its field."""
    problems: dict[str, DomainError] = {}
    for field, check in (
        ("name", lambda: clean_name(name)),
        ("id_number", lambda: parse_id_number(id_number)),
        ("phone", lambda: normalize_phone(phone)),
    ):
        try:
            check()
        except DomainError as error:
            problems[field] = error
    return problems


def _cipher(settings: Settings) -> FieldCipher:
    return field_cipher(settings.data_key)


def _is_minor(birth_date: date, today: date) -> bool:
    return age_on(birth_date, today) < ADULT_AGE


def _patient_view(patient: Patient, cipher: FieldCipher, today: date) -> PatientOut:
    age = age_on(patient.birth_date, today)
    return PatientOut(
        id=patient.id,
        name=patient.name,
        id_number_masked=mask_id_number(
            cipher.decrypt(patient.id_number_ciphertext, purpose=ID_NUMBER_PURPOSE)
        ),
        phone_masked=mask_phone(cipher.decrypt(patient.phone_ciphertext, purpose=PHONE_PURPOSE)),
        sex=patient.sex,
        age=age,
        is_minor=age < ADULT_AGE,
        needs_guardian_presence=age < GUARDIAN_PRESENCE_AGE,
        has_account=patient.user_id is not None,
    )


def _binding_view(binding: PatientBinding) -> BindingOut:
    return BindingOut(
        id=binding.id,
        patient_id=binding.patient_id,
        user_id=binding.user_id,
        relation=binding.relation,
        is_guardian=binding.is_guardian,
        status=binding.status,
        requested_by_user_id=binding.requested_by_user_id,
        requested_at=binding.requested_at,
        accepted_by_user_id=binding.accepted_by_user_id,
        accepted_at=binding.accepted_at,
        ended_by_user_id=binding.ended_by_user_id,
        ended_at=binding.ended_at,
        end_reason=binding.end_reason,
    )


def _binding_facts(binding: PatientBinding) -> BindingFacts:
    return BindingFacts(
        id=binding.id,
        user_id=binding.user_id,
        relation=binding.relation,
        is_guardian=binding.is_guardian,
        status=binding.status,
        requested_by_user_id=binding.requested_by_user_id,
    )


def _patient_facts(patient: Patient, open_bindings: list[PatientBinding], today: date) -> PatientFacts:
    return PatientFacts(
        account_user_id=patient.user_id,
        is_minor=_is_minor(patient.birth_date, today),
        open_bindings=tuple(_binding_facts(b) for b in open_bindings),
    )


async def _facts(session: AsyncSession, patient: Patient, today: date) -> PatientFacts:
    return _patient_facts(patient, await repository.open_bindings_of_patient(session, patient.id), today)


def _violated(error: IntegrityError, *names: str) -> bool:
    # SQLite names the columns ("patients.id_number_hash"), PostgreSQL the constraint
    # ("uq_patients_id_number_hash"); each name here is a substring of both forms.
    text = str(error.orig)
    return any(name in text for name in names)


def _violated_one_self(error: IntegrityError) -> bool:
    text = str(error.orig)
    sqlite_form = "patient_bindings.user_id" in text and "patient_bindings.patient_id" not in text
    return "one_self" in text or sqlite_form


# ----------------------------------------------------------------- registration


async def register_patient(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    name: str,
    id_number: str,
    phone: str,
    relation: Relation = Relation.self_,
) -> BoundPatientOut:
    """Registers a person once (decided by the unique look-up hash) and binds them to the principal."""
    require(policies.decide(principal, PatientAction.register), action=PatientAction.register)
    assert principal.user_id is not None  # a person, by the policy
    clean = clean_name(name)
    identity = parse_id_number(id_number)
    mobile = normalize_phone(phone)
    cipher = _cipher(settings)
    today = china_today()
    minor = _is_minor(identity.birth_date, today)
    is_self = relation is Relation.self_
    now = utcnow()
    try:
        async with transaction(session):
            patient = await repository.add_patient(
                session,
                name=clean,
                id_number_ciphertext=cipher.encrypt(identity.value, purpose=ID_NUMBER_PURPOSE),
                id_number_hash=cipher.lookup_hash(identity.value, purpose=ID_NUMBER_PURPOSE),
                phone_ciphertext=cipher.encrypt(mobile, purpose=PHONE_PURPOSE),
                phone_hash=cipher.lookup_hash(mobile, purpose=PHONE_PURPOSE),
                birth_date=identity.birth_date,
                sex=identity.sex,
                user_id=principal.user_id if is_self else None,
                created_by_user_id=principal.user_id,
            )
            binding = await repository.add_binding(
                session,
                user_id=principal.user_id,
                patient_id=patient.id,
                relation=relation,
                is_guardian=policies.becomes_guardian(relation=relation, is_minor=minor, registering=True),
                status=BindingStatus.active,
                requested_by_user_id=principal.user_id,
                now=now,
            )
            await audit.record(
                session,
                principal,
                "patient.register",
                object_type="patient",
                object_id=patient.id,
                details={
                    "binding_id": binding.id,
                    "relation": relation.value,
                    "id_number": mask_id_number(identity.value),
                },
            )
            answer = BoundPatientOut(
                patient=_patient_view(patient, cipher, today), binding=_binding_view(binding)
            )
    except IntegrityError as error:
        if _violated(error, "id_number_hash"):
            raise PatientExists(
                next_step="request_binding",
                endpoint="/api/care/patients/bindings",
                relation=relation.value,
                id_number=mask_id_number(identity.value),
            ) from None
        if _violated(error, "patients_user_id", "patients.user_id") or _violated_one_self(error):
            raise SelfAlreadyRegistered() from None
        raise
    return answer


# ----------------------------------------------------------------- bindings


async def request_binding(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    id_number: str,
    relation: Relation,
) -> BindingRequestOut:
    """Asks to bind an already registered person; always pending until the person or a guardian accepts."""
    require(policies.decide(principal, PatientAction.bind), action=PatientAction.bind)
    assert principal.user_id is not None
    identity = parse_id_number(id_number)
    cipher = _cipher(settings)
    today = china_today()
    now = utcnow()
    try:
        async with transaction(session):
            patient = await repository.patient_by_id_number_hash(
                session, cipher.lookup_hash(identity.value, purpose=ID_NUMBER_PURPOSE)
            )
            if patient is None:
                raise PatientNotFound()
            if relation is Relation.self_ and patient.user_id is not None:
                # Someone (perhaps this very user) already is this person on the platform.
                raise BindingExists() if patient.user_id == principal.user_id else PatientHasAccount()
            minor = _is_minor(patient.birth_date, today)
            binding = await repository.add_binding(
                session,
                user_id=principal.user_id,
                patient_id=patient.id,
                relation=relation,
                is_guardian=policies.becomes_guardian(relation=relation, is_minor=minor, registering=False),
                status=BindingStatus.pending,
                requested_by_user_id=principal.user_id,
                now=now,
            )
            facts = await _facts(session, patient, today)
            binding_facts = _binding_facts(binding)
            await audit.record(
                session,
                principal,
                "patient_binding.request",
                object_type="patient",
                object_id=patient.id,
                details={"binding_id": binding.id, "relation": relation.value},
            )
            answer = BindingRequestOut(
                binding=_binding_view(binding), awaiting=policies.awaiting(facts, binding_facts)
            )
    except IntegrityError as error:
        if _violated_one_self(error):
            raise SelfAlreadyRegistered() from None
        if _violated(error, "open_pair", "patient_bindings.patient_id"):
            raise BindingExists() from None
        raise
    return answer


async def _load_binding(
    session: AsyncSession, binding_id: int, today: date
) -> tuple[PatientBinding, Patient, PatientFacts]:
    binding = await repository.binding_by_id(session, binding_id)
    patient = await repository.patient_by_id(session, binding.patient_id) if binding else None
    if binding is None or patient is None:
        raise BindingNotFound(binding_id=binding_id)
    return binding, patient, await _facts(session, patient, today)


def _visible_to(principal: Principal, binding: PatientBinding, facts: PatientFacts) -> bool:
    """Whether the principal has any business with this binding; others get 404, not a hint."""
    me = principal.user_id
    return (
        binding.user_id == me
        or binding.requested_by_user_id == me
        or facts.account_user_id == me
        or facts.active_binding_of(me) is not None
    )


async def answer_binding(
    *, session: AsyncSession, principal: Principal, binding_id: int, accept: bool
) -> BindingOut:
    """Accepts (pending → active) or declines (pending → ended) a request; one answer wins a race."""
    today = china_today()
    now = utcnow()
    action = "patient_binding.accept" if accept else "patient_binding.decline"
    async with transaction(session):
        binding, patient, facts = await _load_binding(session, binding_id, today)
        if not policies.decide(
            principal, PatientAction.accept, patient=facts, binding=_binding_facts(binding)
        ):
            if not _visible_to(principal, binding, facts):
                raise BindingNotFound(binding_id=binding_id)
            if binding.status is not BindingStatus.pending:
                raise BindingNotPending(binding_id=binding_id, status=binding.status.value)
            raise Forbidden(action=PatientAction.accept, binding_id=binding_id)
        assert principal.user_id is not None
        if accept:
            changed = await repository.activate_binding(
                session, binding_id=binding_id, accepted_by=principal.user_id, now=now
            )
            if changed and binding.relation is Relation.self_:
                changed = await repository.claim_patient_account(
                    session, patient_id=patient.id, user_id=binding.user_id, now=now
                )
        else:
            changed = await repository.end_binding(
                session,
                binding_id=binding_id,
                from_status=BindingStatus.pending,
                ended_by=principal.user_id,
                reason=EndReason.declined,
                now=now,
            )
        if not changed:
            raise BindingNotPending(binding_id=binding_id)
        await audit.record(
            session,
            principal,
            action,
            object_type="patient",
            object_id=patient.id,
            details={"binding_id": binding_id, "for_user_id": binding.user_id},
        )
        await session.refresh(binding)
        answer = _binding_view(binding)
    return answer


async def accept_binding(*, session: AsyncSession, principal: Principal, binding_id: int) -> BindingOut:
    """The person (or a minor's guardian) consents: the binding becomes active."""
    return await answer_binding(session=session, principal=principal, binding_id=binding_id, accept=True)


async def decline_binding(*, session: AsyncSession, principal: Principal, binding_id: int) -> BindingOut:
    """The person (or a minor's guardian) refuses: the request ends, kept as history."""
    return await answer_binding(session=session, principal=principal, binding_id=binding_id, accept=False)


async def end_binding(*, session: AsyncSession, principal: Principal, binding_id: int) -> BindingOut:
    """Unbinds (or withdraws a pending request); the row stays, marked ended, for history."""
    today = china_today()
    now = utcnow()
    async with transaction(session):
        binding, patient, facts = await _load_binding(session, binding_id, today)
        if not policies.decide(
            principal, PatientAction.unbind, patient=facts, binding=_binding_facts(binding)
        ):
            if not _visible_to(principal, binding, facts):
                raise BindingNotFound(binding_id=binding_id)
            if binding.status is BindingStatus.ended:
                raise BindingAlreadyEnded(binding_id=binding_id)
            raise Forbidden(action=PatientAction.unbind, binding_id=binding_id)
        if binding.relation is Relation.self_ and binding.status is BindingStatus.active:
            raise SelfBindingPermanent()
        assert principal.user_id is not None
        from_status = binding.status
        reason = EndReason.withdrawn if from_status is BindingStatus.pending else EndReason.unbound
        changed = await repository.end_binding(
            session,
            binding_id=binding_id,
            from_status=from_status,
            ended_by=principal.user_id,
            reason=reason,
            now=now,
        )
        if not changed:
            raise BindingAlreadyEnded(binding_id=binding_id)
        await audit.record(
            session,
            principal,
            "patient_binding.end",
            object_type="patient",
            object_id=patient.id,
            details={"binding_id": binding_id, "for_user_id": binding.user_id, "reason": reason.value},
        )
        await session.refresh(binding)
        answer = _binding_view(binding)
    return answer


async def binding_requests(*, session: AsyncSession, principal: Principal) -> BindingRequestsOut:
    """Requests waiting for this user's answer, and this user's own requests still waiting."""
    require(policies.decide(principal, PatientAction.list), action=PatientAction.list)
    assert principal.user_id is not None
    today = china_today()
    async with transaction(session):
        incoming: list[IncomingRequestOut] = []
        facts_by_patient: dict[int, PatientFacts] = {}
        for binding, patient, requester in await repository.pending_bindings_touching(
            session, principal.user_id
        ):
            if patient.id not in facts_by_patient:
                facts_by_patient[patient.id] = await _facts(session, patient, today)
            facts = facts_by_patient[patient.id]
            if policies.decide(
                principal, PatientAction.accept, patient=facts, binding=_binding_facts(binding)
            ):
                incoming.append(
                    IncomingRequestOut(
                        binding=_binding_view(binding),
                        patient_name=patient.name,
                        requested_by_name=requester.display_name,
                    )
                )
        outgoing = [
            _binding_view(b) for b in await repository.pending_requests_by(session, principal.user_id)
        ]
        if incoming:
            await audit.record(
                session,
                principal,
                "patient_binding.list",
                object_type="patient",
                object_id=None,
                details={"patient_ids": sorted({item.binding.patient_id for item in incoming})},
            )
    return BindingRequestsOut(incoming=incoming, outgoing=outgoing)


# ----------------------------------------------------------------- reading and acting for


async def list_patients(
    *, session: AsyncSession, settings: Settings, principal: Principal
) -> list[BoundPatientOut]:
    """The patients the principal may act for (active bindings), masked."""
    require(policies.decide(principal, PatientAction.list), action=PatientAction.list)
    assert principal.user_id is not None
    cipher = _cipher(settings)
    today = china_today()
    async with transaction(session):
        rows = await repository.active_bindings_of_user(session, principal.user_id)
        items = [
            BoundPatientOut(patient=_patient_view(patient, cipher, today), binding=_binding_view(binding))
            for binding, patient in rows
        ]
        if items:
            await audit.record(
                session,
                principal,
                "patient.list",
                object_type="patient",
                object_id=None,
                details={"patient_ids": [item.patient.id for item in items]},
            )
    return items


async def _patient_for(
    session: AsyncSession, principal: Principal, patient_id: int, action: PatientAction, today: date
) -> tuple[Patient, list[PatientBinding]]:
    """The patient and its open bindings, if the policy lets the principal take this action on it."""
    patient = await repository.patient_by_id(session, patient_id)
    bindings = await repository.open_bindings_of_patient(session, patient_id) if patient else []
    facts = _patient_facts(patient, bindings, today) if patient else None
    if patient is None or facts is None or not policies.decide(principal, action, patient=facts):
        if facts is not None and facts.active_binding_of(principal.user_id):
            raise Forbidden(action=action, patient_id=patient_id)
        # The same answer whether the record exists or not: no probing for who is registered.
        raise NotBoundToPatient(patient_id=patient_id)
    return patient, bindings


async def get_patient(
    *, session: AsyncSession, settings: Settings, principal: Principal, patient_id: int
) -> BoundPatientOut:
    """One patient the principal may act for, masked, with the binding that allows it."""
    cipher = _cipher(settings)
    today = china_today()
    async with transaction(session):
        patient, bindings = await _patient_for(session, principal, patient_id, PatientAction.read, today)
        own = next(b for b in bindings if b.user_id == principal.user_id and b.status is BindingStatus.active)
        await audit.record(session, principal, "patient.read", object_type="patient", object_id=patient.id)
        answer = BoundPatientOut(patient=_patient_view(patient, cipher, today), binding=_binding_view(own))
    return answer


async def reveal_patient(
    *, session: AsyncSession, settings: Settings, principal: Principal, patient_id: int
) -> RevealOut:
    """The clear identity number and phone, for the person themselves or a minor's guardian; audited."""
    cipher = _cipher(settings)
    today = china_today()
    async with transaction(session):
        patient, _ = await _patient_for(session, principal, patient_id, PatientAction.reveal, today)
        await audit.record(
            session,
            principal,
            "patient.reveal",
            object_type="patient",
            object_id=patient.id,
            details={"fields": ["id_number", "phone"]},
        )
        answer = RevealOut(
            patient_id=patient.id,
            id_number=cipher.decrypt(patient.id_number_ciphertext, purpose=ID_NUMBER_PURPOSE),
            phone=cipher.decrypt(patient.phone_ciphertext, purpose=PHONE_PURPOSE),
        )
    return answer


async def actable_patient_ids(*, session: AsyncSession, principal: Principal) -> frozenset[int]:
    """The ids of the patients the principal may act for right now (active bindings); empty for other roles."""
    if not policies.decide(principal, PatientAction.list) or principal.user_id is None:
        return frozenset()
    return await repository.actable_patient_ids(session, principal.user_id)


async def require_may_act_for(*, session: AsyncSession, principal: Principal, patient_id: int) -> None:
    """Raises Forbidden (not_bound_to_patient) unless an active binding lets the principal act for the patient."""
    if patient_id not in await actable_patient_ids(session=session, principal=principal):
        raise NotBoundToPatient(patient_id=patient_id)
