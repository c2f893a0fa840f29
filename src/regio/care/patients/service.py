"""Registering patients, binding family members and reading their records: the only writer here.

Every read or write of a patient record runs in one transaction with its audit entry, and
the clear identity number and phone leave this module only through `reveal_patient` (and, as
the destination of a one-time code, through the SMS gateway).

Being a person on the platform is proved, never approved: a claim to be someone (and taking a
record back from an account that claimed it falsely) needs a one-time code sent to the phone
on the record. An adult registered or requested by someone else is bound only with their
consent, given in their own account or by handing the requester such a code. Look-ups by
identity number are rate-limited per user, and a binding request answers the same whether
or not the number is registered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import policies, repository
from regio.care.patients.errors import (
    BindingAlreadyEnded,
    BindingExists,
    BindingNotFound,
    BindingNotPending,
    BindingRequestNotFound,
    ClaimNotFound,
    ClaimOutdated,
    ClaimRequired,
    CodeExpired,
    FormExpired,
    IdentityMissing,
    InvalidCode,
    InvalidName,
    NotBoundToPatient,
    PatientExists,
    SelfAlreadyRegistered,
    SelfBindingPermanent,
    TooManyCodeAttempts,
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
    BindingRequest,
    BindingStatus,
    ClaimPurpose,
    EndReason,
    Patient,
    PatientBinding,
    PatientClaim,
    Relation,
)
from regio.care.patients.policies import BindingFacts, PatientAction, PatientFacts
from regio.care.patients.schemas import (
    BindingOut,
    BindingRequestRecordedOut,
    BindingRequestsOut,
    BoundPatientOut,
    ClaimConfirmedOut,
    CodeSentOut,
    IncomingRequestOut,
    OutgoingRequestOut,
    PatientOut,
    RevealOut,
)
from regio.config import Settings
from regio.core import audit
from regio.core.access import Principal, require
from regio.core.crypto import FieldCipher, field_cipher
from regio.core.db import integrity_error_mentions, transaction, utcnow
from regio.core.errors import DomainError, Forbidden, TooManyRequests
from regio.core.masking import mask_id_number, mask_phone
from regio.core.sms import SmsGateway, SmsMessage

NAME_MAX = 50
_CODE_KEY_LABEL = b"regio/patients/one-time-code/v1"
_FORM_KEY_LABEL = b"regio/patients/identity-form/v1"
RELATION_ZH = {
    Relation.self_: "本人",
    Relation.spouse: "配偶",
    Relation.parent: "父母",
    Relation.child: "子女",
    Relation.other: "亲友",
}


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


def _outgoing_view(request: BindingRequest) -> OutgoingRequestOut:
    return OutgoingRequestOut(
        request_id=request.id, relation=request.relation, requested_at=request.requested_at
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


def _violated_one_self(error: IntegrityError) -> bool:
    text = str(error.orig)
    sqlite_form = "patient_bindings.user_id" in text and "patient_bindings.patient_id" not in text
    return "one_self" in text or sqlite_form


def _me(principal: Principal) -> int:
    """The acting person's user id; the policies admit only people, so a missing one is a refusal."""
    if principal.user_id is None:
        raise Forbidden(reason="not_a_person")
    return principal.user_id


# ----------------------------------------------------------------- look-up allowance


async def _take_lookup(session: AsyncSession, principal: Principal) -> None:
    """Counts one identity look-up for the principal, committed even if the action then fails; 429 past the limit."""
    now = utcnow()
    window = policies.window_start(now)
    async with transaction(session):
        counted = await repository.take_lookup(
            session, user_id=_me(principal), window_start=window, limit=policies.LOOKUPS_PER_HOUR
        )
    if not counted:
        retry = int((window + policies.LOOKUP_WINDOW - now).total_seconds()) + 1
        raise TooManyRequests(limit=policies.LOOKUPS_PER_HOUR, period="hour", retry_after_seconds=retry)


# ----------------------------------------------------------------- one-time codes and form tokens


def _key(settings: Settings, label: bytes) -> bytes:
    # A key of its own per use, so a code hash or form token can never pass for a cookie or an API token.
    return hmac.new(settings.secret_key.encode("utf-8"), label, hashlib.sha256).digest()


def _code_hash(settings: Settings, nonce: str, code: str) -> str:
    message = f"{nonce}.{code}".encode()
    return hmac.new(_key(settings, _CODE_KEY_LABEL), message, hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**policies.CODE_DIGITS):0{policies.CODE_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class _Identity:
    """What a look-up needs: keyed hashes of the number (and phone), and the phone masked for the answer."""

    id_number_hash: str
    phone_hash: str | None = None
    phone_masked: str = ""


def _identity(settings: Settings, id_number: str, phone: str | None = None) -> _Identity:
    cipher = _cipher(settings)
    number = parse_id_number(id_number).value
    if phone is None:
        return _Identity(cipher.lookup_hash(number, purpose=ID_NUMBER_PURPOSE))
    mobile = normalize_phone(phone)
    return _Identity(
        cipher.lookup_hash(number, purpose=ID_NUMBER_PURPOSE),
        cipher.lookup_hash(mobile, purpose=PHONE_PURPOSE),
        mask_phone(mobile),
    )


def identity_form_token(*, settings: Settings, principal: Principal, id_number: str, phone: str = "") -> str:
    """A signed, 10-minute token standing for a number (and phone) a form already checked.

    A page that must carry the number to a next step (a binding request, a claim) carries this
    instead of the clear number: it holds only keyed look-up hashes and the masked phone, is
    bound to the user, and expires.
    """
    try:
        identity = _identity(settings, id_number, phone or None)
    except DomainError:
        identity = _identity(settings, id_number)
    payload = {
        "u": _me(principal),
        "e": int((utcnow() + policies.FORM_TOKEN_LIFETIME).timestamp()),
        "i": identity.id_number_hash,
        "p": identity.phone_hash,
        "m": identity.phone_masked,
    }
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    signature = hmac.new(_key(settings, _FORM_KEY_LABEL), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def _read_form_token(settings: Settings, principal: Principal, token: str) -> _Identity:
    body, _, signature = token.strip().partition(".")
    expected = hmac.new(_key(settings, _FORM_KEY_LABEL), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(signature, expected):
        raise FormExpired(reason="signature")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        raise FormExpired(reason="malformed") from None
    if payload.get("u") != principal.user_id or int(payload.get("e", 0)) < utcnow().timestamp():
        raise FormExpired(reason="expired")
    return _Identity(str(payload["i"]), payload.get("p"), str(payload.get("m") or ""))


def _given_identity(
    settings: Settings,
    principal: Principal,
    *,
    id_number: str | None,
    phone: str | None,
    form_token: str | None,
    needs_phone: bool,
) -> _Identity:
    if form_token:
        identity = _read_form_token(settings, principal, form_token)
    elif id_number:
        identity = _identity(settings, id_number, phone if needs_phone else None)
    else:
        raise IdentityMissing()
    if needs_phone and identity.phone_hash is None:
        raise IdentityMissing(field="phone")
    return identity


def _code_sent(claim: PatientClaim, phone_masked: str) -> CodeSentOut:
    seconds = int(policies.CODE_LIFETIME.total_seconds())
    return CodeSentOut(
        claim_id=claim.id,
        purpose=claim.purpose,
        phone_masked=phone_masked,
        expires_in_seconds=seconds,
        message_zh=f"如信息无误，验证码已发送至 {phone_masked}，{seconds // 60} 分钟内有效。",
        message_en=f"If the details match, a code was sent to {phone_masked}; it is valid for "
        f"{seconds // 60} minutes.",
    )


async def _add_claim(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: int,
    purpose: ClaimPurpose,
    patient: Patient | None,
    binding_id: int | None = None,
    now: datetime,
) -> tuple[PatientClaim, str]:
    """Stores a code's keyed hash; with no patient, the hash of a code nobody is sent (a claim that cannot succeed)."""
    code = _new_code()
    nonce = secrets.token_hex(16)
    claim = await repository.add_claim(
        session,
        user_id=user_id,
        purpose=purpose,
        patient_id=patient.id if patient is not None else None,
        binding_id=binding_id,
        expected_user_id=patient.user_id if patient is not None else None,
        code_nonce=nonce,
        code_hash=_code_hash(settings, nonce, code),
        expires_at=now + policies.CODE_LIFETIME,
        now=now,
    )
    return claim, code


def _claim_text(code: str) -> str:
    minutes = int(policies.CODE_LIFETIME.total_seconds()) // 60
    return (
        f"【Regio】验证码 {code}：您正在认领本人就诊人信息，{minutes} 分钟内有效。"
        "如非本人操作，请勿将验证码告诉任何人。"
    )


def _consent_text(code: str, requester: Principal, relation: Relation) -> str:
    minutes = int(policies.CODE_LIFETIME.total_seconds()) // 60
    # A display name is typed by its owner: keep it short, it is quoted in a message to someone else.
    who = (requester.display_name or requester.username)[:20]
    return (
        f"【Regio】{who} 申请将您添加为其就诊人（关系：{RELATION_ZH[relation]}）。"
        f"如同意，请把验证码 {code} 告诉对方，{minutes} 分钟内有效；不同意请忽略本短信。"
    )


# ----------------------------------------------------------------- registration


async def _turn_waiting_requests(
    session: AsyncSession, *, patient: Patient, registrar: int, minor: bool, now: datetime
) -> list[int]:
    """Requests made before the number was registered become pending bindings; the registrar's own is done."""
    turned: list[int] = []
    for waiting in await repository.waiting_requests_for(session, patient.id_number_hash):
        if waiting.user_id == registrar:
            await repository.withdraw_request(session, request_id=waiting.id, now=now)
            continue
        binding = await repository.add_binding(
            session,
            user_id=waiting.user_id,
            patient_id=patient.id,
            relation=waiting.relation,
            is_guardian=policies.becomes_guardian(
                relation=waiting.relation, is_minor=minor, registering=False
            ),
            status=BindingStatus.pending,
            requested_by_user_id=waiting.user_id,
            now=waiting.requested_at,
        )
        await repository.link_request(session, request_id=waiting.id, binding_id=binding.id)
        turned.append(binding.id)
    return turned


async def register_patient(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    name: str,
    id_number: str,
    phone: str,
    relation: Relation = Relation.self_,
    sms: SmsGateway | None = None,
) -> BoundPatientOut:
    """Registers a person once (decided by the unique look-up hash) and binds them to the principal.

    Oneself and a minor are bound at once; another adult only with consent: the binding is
    pending and, given a gateway, a code goes to the phone typed, for the person to hand over.
    """
    require(policies.decide(principal, PatientAction.register), action=PatientAction.register)
    me = _me(principal)
    clean = clean_name(name)
    identity = parse_id_number(id_number)
    mobile = normalize_phone(phone)
    cipher = _cipher(settings)
    today = china_today()
    minor = _is_minor(identity.birth_date, today)
    status = policies.registration_status(relation=relation, is_minor=minor)
    id_hash = cipher.lookup_hash(identity.value, purpose=ID_NUMBER_PURPOSE)
    await _take_lookup(session, principal)
    now = utcnow()
    message: SmsMessage | None = None
    try:
        async with transaction(session):
            await repository.lock_number(session, id_hash)
            # The insert comes first: on SQLite it takes the one write lock before anything is read.
            patient = await repository.add_patient(
                session,
                name=clean,
                id_number_ciphertext=cipher.encrypt(identity.value, purpose=ID_NUMBER_PURPOSE),
                id_number_hash=id_hash,
                phone_ciphertext=cipher.encrypt(mobile, purpose=PHONE_PURPOSE),
                phone_hash=cipher.lookup_hash(mobile, purpose=PHONE_PURPOSE),
                birth_date=identity.birth_date,
                sex=identity.sex,
                user_id=me if relation is Relation.self_ else None,
                created_by_user_id=me,
            )
            binding = await repository.add_binding(
                session,
                user_id=me,
                patient_id=patient.id,
                relation=relation,
                is_guardian=policies.becomes_guardian(relation=relation, is_minor=minor, registering=True),
                status=status,
                requested_by_user_id=me,
                now=now,
            )
            turned = await _turn_waiting_requests(
                session, patient=patient, registrar=me, minor=minor, now=now
            )
            consent: CodeSentOut | None = None
            if status is BindingStatus.pending:
                # Listed with the registrar's other requests, so it can be withdrawn or a new code asked for.
                await repository.add_binding_request(
                    session,
                    user_id=me,
                    id_number_hash=id_hash,
                    relation=relation,
                    now=now,
                    binding_id=binding.id,
                )
                if sms is not None:
                    claim, code = await _add_claim(
                        session,
                        settings,
                        user_id=me,
                        purpose=ClaimPurpose.consent,
                        patient=patient,
                        binding_id=binding.id,
                        now=now,
                    )
                    message = SmsMessage(
                        phone=mobile, text=_consent_text(code, principal, relation), purpose="patient.consent"
                    )
                    consent = _code_sent(claim, mask_phone(mobile))
            await audit.record(
                session,
                principal,
                "patient.register",
                object_type="patient",
                object_id=patient.id,
                details={
                    "binding_id": binding.id,
                    "relation": relation.value,
                    "binding_status": status.value,
                    "id_number": mask_id_number(identity.value),
                    "requests_turned_into_bindings": turned,
                    "consent_code_sent": message is not None,
                },
            )
            answer = BoundPatientOut(
                patient=_patient_view(patient, cipher, today), binding=_binding_view(binding), consent=consent
            )
    except IntegrityError as error:
        if integrity_error_mentions(error, "id_number_hash"):
            is_self = relation is Relation.self_
            raise PatientExists(
                next_step="claim" if is_self else "request_binding",
                endpoint="/api/care/patients/claims" if is_self else "/api/care/patients/bindings",
                relation=relation.value,
                id_number=mask_id_number(identity.value),
            ) from None
        if integrity_error_mentions(error, "patients_user_id", "patients.user_id") or _violated_one_self(
            error
        ):
            raise SelfAlreadyRegistered() from None
        raise
    if message is not None and sms is not None:
        await sms.send(message)  # after commit: a code is only ever sent for a stored claim
    return answer


# ----------------------------------------------------------------- bindings


async def request_binding(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    relation: Relation,
    id_number: str | None = None,
    form_token: str | None = None,
) -> BindingRequestRecordedOut:
    """Records a request to bind a person by number; the same answer whether or not they are registered.

    A registered person gets a pending binding at once; a number nobody registered yet waits and
    becomes one when it is registered. Either way the person (or a minor's guardian) decides.
    """
    require(policies.decide(principal, PatientAction.bind), action=PatientAction.bind)
    me = _me(principal)
    if relation is Relation.self_:
        raise ClaimRequired(endpoint="/api/care/patients/claims")
    identity = _given_identity(
        settings, principal, id_number=id_number, phone=None, form_token=form_token, needs_phone=False
    )
    today = china_today()
    await _take_lookup(session, principal)
    now = utcnow()
    try:
        async with transaction(session):
            await repository.lock_number(session, identity.id_number_hash)
            # Written before the look-up, so that on SQLite a registration of this number cannot slip between.
            request = await repository.add_binding_request(
                session, user_id=me, id_number_hash=identity.id_number_hash, relation=relation, now=now
            )
            patient = await repository.patient_by_id_number_hash(session, identity.id_number_hash)
            binding_id: int | None = None
            if patient is not None:
                if patient.user_id == me:
                    raise BindingExists()  # one's own record: nothing to ask anybody
                binding = await repository.add_binding(
                    session,
                    user_id=me,
                    patient_id=patient.id,
                    relation=relation,
                    is_guardian=policies.becomes_guardian(
                        relation=relation, is_minor=_is_minor(patient.birth_date, today), registering=False
                    ),
                    status=BindingStatus.pending,
                    requested_by_user_id=me,
                    now=now,
                )
                binding_id = binding.id
                await repository.link_request(session, request_id=request.id, binding_id=binding.id)
            await audit.record(
                session,
                principal,
                "patient_binding.request",
                object_type="patient",
                object_id=patient.id if patient is not None else None,
                details={"request_id": request.id, "binding_id": binding_id, "relation": relation.value},
            )
            answer = BindingRequestRecordedOut(request_id=request.id)
    except IntegrityError as error:
        if integrity_error_mentions(error, "binding_requests"):
            raise BindingExists() from None  # a request for this number is already waiting
        if integrity_error_mentions(error, "open_pair", "patient_bindings.patient_id"):
            raise BindingExists() from None
        raise
    return answer


async def withdraw_request(*, session: AsyncSession, principal: Principal, request_id: int) -> None:
    """Withdraws one of the principal's waiting requests (ending its pending binding, kept as history)."""
    require(policies.decide(principal, PatientAction.bind), action=PatientAction.bind)
    me = _me(principal)
    now = utcnow()
    async with transaction(session):
        request = await repository.request_by_id(session, request_id)
        if request is None or request.user_id != me:
            raise BindingRequestNotFound(request_id=request_id)
        if not await repository.withdraw_request(session, request_id=request_id, now=now):
            raise BindingNotPending(request_id=request_id)
        if request.binding_id is not None and not await repository.end_binding(
            session,
            binding_id=request.binding_id,
            from_status=BindingStatus.pending,
            ended_by=me,
            reason=EndReason.withdrawn,
            now=now,
        ):
            raise BindingNotPending(request_id=request_id)  # answered in the meantime; nothing withdrawn
        await audit.record(
            session,
            principal,
            "patient_binding.withdraw",
            object_type="binding_request",
            object_id=request_id,
            details={"binding_id": request.binding_id},
        )


async def request_consent_code(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    sms: SmsGateway,
    request_id: int,
    phone: str,
) -> CodeSentOut:
    """Sends a consent code to the person's phone, if it is the phone on their record; the same answer either way.

    Only for a pending request to bind an adult: the person agrees by handing the code over.
    """
    require(policies.decide(principal, PatientAction.bind), action=PatientAction.bind)
    me = _me(principal)
    mobile = normalize_phone(phone)
    cipher = _cipher(settings)
    today = china_today()
    await _take_lookup(session, principal)
    now = utcnow()
    message: SmsMessage | None = None
    async with transaction(session):
        request = await repository.request_by_id(session, request_id)
        if request is None or request.user_id != me:
            raise BindingRequestNotFound(request_id=request_id)
        binding = await repository.binding_by_id(session, request.binding_id) if request.binding_id else None
        patient = await repository.patient_by_id(session, binding.patient_id) if binding else None
        matched = (
            binding is not None
            and patient is not None
            and request.withdrawn_at is None
            and policies.may_consent_by_code(await _facts(session, patient, today), _binding_facts(binding))
            and hmac.compare_digest(patient.phone_hash, cipher.lookup_hash(mobile, purpose=PHONE_PURPOSE))
        )
        claim, code = await _add_claim(
            session,
            settings,
            user_id=me,
            purpose=ClaimPurpose.consent,
            patient=patient if matched else None,
            binding_id=binding.id if matched and binding else None,
            now=now,
        )
        if matched:
            message = SmsMessage(
                phone=mobile, text=_consent_text(code, principal, request.relation), purpose="patient.consent"
            )
        await audit.record(
            session,
            principal,
            "patient_binding.consent_code",
            object_type="binding_request",
            object_id=request_id,
            details={"claim_id": claim.id, "sent": matched},
        )
        answer = _code_sent(claim, mask_phone(mobile))
    if message is not None:
        await sms.send(message)
    return answer


# ----------------------------------------------------------------- claims: I am this person


async def start_claim(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    sms: SmsGateway,
    id_number: str | None = None,
    phone: str | None = None,
    form_token: str | None = None,
) -> CodeSentOut:
    """Sends a code to the phone on a record if the number and phone given match it; the same answer either way.

    Confirming the code makes the principal's account the person (taking the record back from
    another account, if one holds it). Nobody else approves it.
    """
    require(policies.decide(principal, PatientAction.claim), action=PatientAction.claim)
    me = _me(principal)
    identity = _given_identity(
        settings, principal, id_number=id_number, phone=phone, form_token=form_token, needs_phone=True
    )
    if await repository.has_self_binding(session, me):
        raise SelfAlreadyRegistered()
    await _take_lookup(session, principal)
    cipher = _cipher(settings)
    now = utcnow()
    message: SmsMessage | None = None
    async with transaction(session):
        patient = await repository.patient_by_id_number_hash(session, identity.id_number_hash)
        matched = (
            patient is not None
            and patient.user_id != me
            and identity.phone_hash is not None
            and hmac.compare_digest(patient.phone_hash, identity.phone_hash)
        )
        claim, code = await _add_claim(
            session,
            settings,
            user_id=me,
            purpose=ClaimPurpose.self_,
            patient=patient if matched else None,
            now=now,
        )
        if matched and patient is not None:
            # The phone on the record, which the typed one matched: the record's owner receives the code.
            phone_on_record = cipher.decrypt(patient.phone_ciphertext, purpose=PHONE_PURPOSE)
            message = SmsMessage(phone=phone_on_record, text=_claim_text(code), purpose="patient.claim")
        await audit.record(
            session,
            principal,
            "patient.claim_code",
            object_type="patient",
            object_id=patient.id if matched and patient is not None else None,
            details={"claim_id": claim.id, "sent": matched},
        )
        answer = _code_sent(claim, identity.phone_masked)
    if message is not None:
        await sms.send(message)
    return answer


async def confirm_code(
    *, session: AsyncSession, settings: Settings, principal: Principal, claim_id: int, code: str
) -> ClaimConfirmedOut:
    """Checks a one-time code (5 tries, 10 minutes) and does what it was sent for, in one transaction."""
    require(policies.decide(principal, PatientAction.claim), action=PatientAction.claim)
    me = _me(principal)
    typed = code.strip()
    if not (len(typed) == policies.CODE_DIGITS and typed.isascii() and typed.isdigit()):
        raise InvalidCode(reason="format")
    now = utcnow()
    today = china_today()
    outcome = "wrong"
    answer: ClaimConfirmedOut | None = None
    async with transaction(session):
        claim = await repository.claim_by_id(session, claim_id)
        if claim is None or claim.user_id != me:
            raise ClaimNotFound(claim_id=claim_id)
        matches = claim.patient_id is not None and hmac.compare_digest(
            _code_hash(settings, claim.code_nonce, typed), claim.code_hash
        )
        # The right code is spent by the same UPDATE that counts the try: two confirmations cannot both act.
        spent = await repository.spend_attempt(
            session, claim_id=claim_id, max_attempts=policies.CODE_ATTEMPTS, now=now, use=matches
        )
        if not spent:
            fresh = await repository.claim_by_id(session, claim_id) or claim
            outcome = (
                policies.code_usable(
                    expires_at=fresh.expires_at, used_at=fresh.used_at, attempts=fresh.attempts, now=now
                )
                or "exhausted"
            )
        elif matches and claim.purpose is ClaimPurpose.self_:
            answer = await _become_the_person(session, settings, principal, claim, me, now, today)
            outcome = "done"
        elif matches:
            answer = await _consent_by_code(session, settings, principal, claim, now, today)
            outcome = "done"
        # a wrong code commits its spent attempt; only then is it refused
    if outcome == "done" and answer is not None:
        return answer
    if outcome == "exhausted":
        raise TooManyCodeAttempts(claim_id=claim_id)
    if outcome == "expired":
        raise CodeExpired(claim_id=claim_id)
    left = max(0, policies.CODE_ATTEMPTS - claim.attempts - 1)
    raise InvalidCode(attempts_left=left)


async def _become_the_person(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    claim: PatientClaim,
    me: int,
    now: datetime,
    today: date,
) -> ClaimConfirmedOut:
    """Makes the claimant the record's account; an account that held it loses its self binding and the consents it gave."""
    if claim.patient_id is None:
        raise ClaimOutdated(claim_id=claim.id)
    displaced = claim.expected_user_id
    if not await repository.set_patient_account(
        session, patient_id=claim.patient_id, expected_user_id=displaced, user_id=me, now=now
    ):
        raise ClaimOutdated(claim_id=claim.id)
    ended: list[int] = []
    if displaced is not None:
        theirs = await repository.open_binding_of(session, user_id=displaced, patient_id=claim.patient_id)
        if theirs is not None and await repository.end_binding(
            session,
            binding_id=theirs.id,
            from_status=theirs.status,
            ended_by=me,
            reason=EndReason.unbound,
            now=now,
        ):
            ended.append(theirs.id)
        # Consents the false "person" gave were never the person's: they end too.
        ended += await repository.end_bindings_accepted_by(
            session, patient_id=claim.patient_id, accepted_by=displaced, ended_by=me, now=now
        )
    mine = await repository.open_binding_of(session, user_id=me, patient_id=claim.patient_id)
    if mine is not None:
        # One open binding per user and patient: a family binding gives way to being the person.
        reason = EndReason.withdrawn if mine.status is BindingStatus.pending else EndReason.unbound
        await repository.end_binding(
            session, binding_id=mine.id, from_status=mine.status, ended_by=me, reason=reason, now=now
        )
        ended.append(mine.id)
    try:
        binding = await repository.add_binding(
            session,
            user_id=me,
            patient_id=claim.patient_id,
            relation=Relation.self_,
            is_guardian=False,
            status=BindingStatus.active,
            requested_by_user_id=me,
            now=now,
        )
    except IntegrityError as error:
        if _violated_one_self(error):
            raise SelfAlreadyRegistered() from None
        raise
    await audit.record(
        session,
        principal,
        "patient.take_back" if displaced is not None else "patient.claim",
        object_type="patient",
        object_id=claim.patient_id,
        details={
            "claim_id": claim.id,
            "binding_id": binding.id,
            "displaced_user_id": displaced,
            "ended_binding_ids": sorted(ended),
        },
    )
    patient = await repository.patient_by_id(session, claim.patient_id)
    if patient is None:
        raise ClaimOutdated(claim_id=claim.id)
    return ClaimConfirmedOut(
        purpose=claim.purpose,
        patient=_patient_view(patient, _cipher(settings), today),
        binding=_binding_view(binding),
        ended_binding_ids=sorted(ended),
    )


async def _consent_by_code(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    claim: PatientClaim,
    now: datetime,
    today: date,
) -> ClaimConfirmedOut:
    """The person handed over the code: the pending binding it was sent for becomes active."""
    binding = await repository.binding_by_id(session, claim.binding_id) if claim.binding_id else None
    patient = await repository.patient_by_id(session, binding.patient_id) if binding else None
    if binding is None or patient is None or binding.user_id != claim.user_id:
        raise ClaimOutdated(claim_id=claim.id)
    if not policies.may_consent_by_code(await _facts(session, patient, today), _binding_facts(binding)):
        raise ClaimOutdated(claim_id=claim.id)
    if not await repository.activate_binding(session, binding_id=binding.id, accepted_by=None, now=now):
        raise ClaimOutdated(claim_id=claim.id)
    await audit.record(
        session,
        principal,
        "patient_binding.accept_by_code",
        object_type="patient",
        object_id=patient.id,
        details={"claim_id": claim.id, "binding_id": binding.id},
    )
    refreshed = await repository.binding_by_id(session, binding.id)
    if refreshed is None:
        raise ClaimOutdated(claim_id=claim.id)
    return ClaimConfirmedOut(
        purpose=claim.purpose,
        patient=_patient_view(patient, _cipher(settings), today),
        binding=_binding_view(refreshed),
    )


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
        me = _me(principal)
        if accept:
            changed = await repository.activate_binding(
                session, binding_id=binding_id, accepted_by=me, now=now
            )
        else:
            changed = await repository.end_binding(
                session,
                binding_id=binding_id,
                from_status=BindingStatus.pending,
                ended_by=me,
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
        me = _me(principal)
        from_status = binding.status
        reason = EndReason.withdrawn if from_status is BindingStatus.pending else EndReason.unbound
        changed = await repository.end_binding(
            session,
            binding_id=binding_id,
            from_status=from_status,
            ended_by=me,
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
    me = _me(principal)
    today = china_today()
    async with transaction(session):
        incoming: list[IncomingRequestOut] = []
        facts_by_patient: dict[int, PatientFacts] = {}
        for binding, patient, requester in await repository.pending_bindings_touching(session, me):
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
        outgoing = [_outgoing_view(r) for r in await repository.outgoing_requests(session, me)]
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
    me = _me(principal)
    cipher = _cipher(settings)
    today = china_today()
    async with transaction(session):
        rows = await repository.active_bindings_of_user(session, me)
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
        own = next(
            (b for b in bindings if b.user_id == principal.user_id and b.status is BindingStatus.active), None
        )
        if own is None:  # the read policy admits only an active binding; without one, refuse
            raise NotBoundToPatient(patient_id=patient_id)
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
