"""HTML pages: /me (my patients, family members, binding requests), registering, claiming with a code.

Every page here answers `Cache-Control: no-store`. A form that must carry an identity number to
a next step carries a signed 10-minute token instead of the clear number; the clear values a
user typed are shown back only on a 422, in the visible inputs, so they can be corrected.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.patients import service
from regio.care.patients.api import NoStoreRoute, SmsDep
from regio.care.patients.errors import InvalidIdNumber, InvalidName, InvalidPhone, PatientExists
from regio.care.patients.models import ClaimPurpose, Relation
from regio.care.patients.schemas import BindingRequestsOut, BoundPatientOut
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden
from regio.core.identity.csrf import CsrfForm
from regio.core.masking import mask_phone
from regio.core.templating import render

router = APIRouter(tags=["patient pages"], include_in_schema=False, route_class=NoStoreRoute)

FormText = Annotated[str, Form(max_length=200)]

RELATION_LABELS: dict[str, tuple[str, str]] = {
    Relation.self_: ("本人", "Myself"),
    Relation.spouse: ("配偶", "Spouse"),
    Relation.parent: ("父母", "Parent"),
    Relation.child: ("子女", "Child"),
    Relation.other: ("其他亲友", "Other"),
}
SEX_LABELS = {"male": ("男", "Male"), "female": ("女", "Female")}
NOTICES = {
    "registered": ("已添加就诊人。", "Patient added."),
    "requested": ("绑定申请已发送，对方同意后生效。", "Binding request sent; it takes effect once accepted."),
    "accepted": ("已同意绑定申请。", "Request accepted."),
    "declined": ("已拒绝绑定申请。", "Request declined."),
    "ended": ("已解除绑定，记录已保留。", "Unbound; the history is kept."),
    "withdrawn": ("已撤回绑定申请。", "Request withdrawn."),
    "pending": (
        "已添加就诊人；对方同意后即可为其办理。",
        "Patient added; you may act for them once they consent.",
    ),
    "claimed": (
        "已确认本人身份，此信息现归属您的账户。",
        "Confirmed: this record now belongs to your account.",
    ),
    "consented": ("对方已同意，绑定已生效。", "The person consented; the binding is active."),
}
_FIELD_OF = {InvalidName: "name", InvalidIdNumber: "id_number", InvalidPhone: "phone"}


def _labels() -> dict[str, Any]:
    return {"relation_labels": RELATION_LABELS, "sex_labels": SEX_LABELS}


def _language(request: Request) -> str:
    language: str = request.state.language
    return language


@router.get("/me")
async def my_patients(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    notice: str = "",
) -> Response:
    """My patients and family members, requests to answer and my own requests waiting."""
    patients: list[BoundPatientOut] = []
    requests = BindingRequestsOut(incoming=[], outgoing=[])
    allowed = True
    try:
        patients = await service.list_patients(session=session, settings=settings, principal=principal)
        requests = await service.binding_requests(session=session, principal=principal)
    except Forbidden:
        allowed = False  # staff roles have no patients here; the page says so instead of failing
    context = {
        "patients": patients,
        "requests": requests,
        "allowed": allowed,
        "has_self": any(item.binding.relation is Relation.self_ for item in patients),
        "notice": NOTICES.get(notice),
        **_labels(),
    }
    return render(request, "patients/me.html", context)


def _form_page(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    form_token: str = "",
    status_code: int = 200,
) -> Response:
    context = {"values": values, "errors": errors or {}, "form_token": form_token, **_labels()}
    return render(request, "patients/new.html", context, status_code=status_code)


def _code_page(
    request: Request, *, claim_id: int, to: str = "", error: str = "", status_code: int = 200
) -> Response:
    context = {"claim_id": claim_id, "to": mask_phone(to) if to and "*" not in to else to, "error": error}
    return render(request, "patients/code.html", context, status_code=status_code)


def _to_code_page(claim_id: int, phone_masked: str) -> Response:
    return RedirectResponse(f"/me/claims/{claim_id}?to={quote(phone_masked)}", status_code=303)


@router.get("/me/patients/new")
async def new_patient_form(request: Request, principal: CurrentPrincipal, relation: str = "") -> Response:
    """The form to register myself or a family member."""
    chosen = relation if relation in {r.value for r in Relation} else Relation.self_.value
    return _form_page(request, values={"relation": chosen})


@router.post("/me/patients/new", dependencies=[CsrfForm])
async def new_patient_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    sms: SmsDep,
    name: FormText = "",
    id_number: FormText = "",
    phone: FormText = "",
    relation: FormText = "self",
) -> Response:
    """Registers; a 422 shows the input back, a 409 offers a binding request or a claim by code."""
    language = _language(request)
    # On a 422 the user's own input is shown back so it can be corrected (the page is not cached).
    values = {"name": name, "id_number": id_number, "phone": phone, "relation": relation}
    problems = {
        field: error.message(language)
        for field, error in service.registration_problems(name=name, id_number=id_number, phone=phone).items()
    }
    if relation not in {r.value for r in Relation}:
        problems["relation"] = (
            "请选择与您的关系。" if language.startswith("zh") else "Please choose a relation."
        )
    if problems:
        return _form_page(request, values=values, errors=problems, status_code=422)
    # Anything but a 422 shows none of the numbers again.
    kept = {"name": name, "relation": relation}
    try:
        answer = await service.register_patient(
            session=session,
            settings=settings,
            principal=principal,
            name=name,
            id_number=id_number,
            phone=phone,
            relation=Relation(relation),
            sms=sms,
        )
    except PatientExists as error:
        token = service.identity_form_token(
            settings=settings, principal=principal, id_number=id_number, phone=phone
        )
        return _form_page(
            request, values=kept, errors={"form": error.message(language)}, form_token=token, status_code=409
        )
    except (InvalidName, InvalidIdNumber, InvalidPhone) as error:
        field = _FIELD_OF[type(error)]
        return _form_page(request, values=values, errors={field: error.message(language)}, status_code=422)
    except DomainError as error:
        if error.status not in (409, 422, 429):
            raise
        shown = values if error.status == 422 else kept
        return _form_page(
            request, values=shown, errors={"form": error.message(language)}, status_code=error.status
        )
    if answer.consent is not None:
        return _to_code_page(answer.consent.claim_id, answer.consent.phone_masked)
    notice = "pending" if answer.binding.status != "active" else "registered"
    return RedirectResponse(f"/me?notice={notice}", status_code=303)


@router.post("/me/bindings/new", dependencies=[CsrfForm])
async def request_binding_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    form_token: Annotated[str, Form(max_length=1000)] = "",
    relation: FormText = "",
) -> Response:
    """Sends a binding request for the number a signed form token stands for."""
    language = _language(request)
    if relation not in {r.value for r in Relation}:
        message = "请选择与您的关系。" if language.startswith("zh") else "Please choose a relation."
        return _form_page(
            request, values={}, errors={"relation": message}, form_token=form_token, status_code=422
        )
    try:
        await service.request_binding(
            session=session,
            settings=settings,
            principal=principal,
            form_token=form_token,
            relation=Relation(relation),
        )
    except DomainError as error:
        if error.status not in (409, 422, 429):
            raise
        return _form_page(
            request, values={}, errors={"form": error.message(language)}, status_code=error.status
        )
    return RedirectResponse("/me?notice=requested", status_code=303)


@router.get("/me/claims/new")
async def claim_form(request: Request, principal: CurrentPrincipal) -> Response:
    """The form to claim my record by a code sent to the phone on it."""
    return render(request, "patients/claim.html", {"values": {}, "errors": {}})


@router.post("/me/claims/new", dependencies=[CsrfForm])
async def claim_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    sms: SmsDep,
    form_token: Annotated[str, Form(max_length=1000)] = "",
    id_number: FormText = "",
    phone: FormText = "",
) -> Response:
    """Starts a claim (from the form or a form token) and goes to the code page."""
    language = _language(request)
    try:
        sent = await service.start_claim(
            session=session,
            settings=settings,
            principal=principal,
            sms=sms,
            id_number=id_number or None,
            phone=phone or None,
            form_token=form_token or None,
        )
    except DomainError as error:
        if error.status not in (409, 422, 429):
            raise
        values = {"id_number": id_number, "phone": phone} if error.status == 422 else {}
        context = {"values": values, "errors": {"form": error.message(language)}}
        return render(request, "patients/claim.html", context, status_code=error.status)
    return _to_code_page(sent.claim_id, sent.phone_masked)


@router.get("/me/claims/{claim_id}")
async def code_form(
    request: Request, claim_id: RecordId, principal: CurrentPrincipal, to: str = ""
) -> Response:
    """The page to enter a one-time code."""
    return _code_page(request, claim_id=claim_id, to=to[:20])


@router.post("/me/claims/{claim_id}/confirm", dependencies=[CsrfForm])
async def code_submit(
    request: Request,
    claim_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Confirms a code; a wrong, expired or used code shows the page again with the reason."""
    try:
        done = await service.confirm_code(
            session=session, settings=settings, principal=principal, claim_id=claim_id, code=code
        )
    except DomainError as error:
        if error.status not in (404, 409, 422, 429):
            raise
        message = error.message(_language(request))
        return _code_page(request, claim_id=claim_id, error=message, status_code=error.status)
    notice = "claimed" if done.purpose is ClaimPurpose.self_ else "consented"
    return RedirectResponse(f"/me?notice={notice}", status_code=303)


@router.post("/me/requests/{request_id}/withdraw", dependencies=[CsrfForm])
async def withdraw_submit(request_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Withdraws one of my waiting binding requests."""
    await service.withdraw_request(session=session, principal=principal, request_id=request_id)
    return RedirectResponse("/me?notice=withdrawn", status_code=303)


@router.post("/me/requests/{request_id}/code", dependencies=[CsrfForm])
async def consent_code_submit(
    request_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    sms: SmsDep,
    phone: FormText = "",
) -> Response:
    """Sends the person a consent code if the phone typed is the one on their record."""
    sent = await service.request_consent_code(
        session=session, settings=settings, principal=principal, sms=sms, request_id=request_id, phone=phone
    )
    return _to_code_page(sent.claim_id, sent.phone_masked)


@router.post("/me/bindings/{binding_id}/accept", dependencies=[CsrfForm])
async def accept_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Accepts a request to bind me (or a minor in my guardianship)."""
    await service.accept_binding(session=session, principal=principal, binding_id=binding_id)
    return RedirectResponse("/me?notice=accepted", status_code=303)


@router.post("/me/bindings/{binding_id}/decline", dependencies=[CsrfForm])
async def decline_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Declines a request to bind me (or a minor in my guardianship)."""
    await service.decline_binding(session=session, principal=principal, binding_id=binding_id)
    return RedirectResponse("/me?notice=declined", status_code=303)


@router.post("/me/bindings/{binding_id}/end", dependencies=[CsrfForm])
async def end_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Unbinds a family member (the history is kept)."""
    await service.end_binding(session=session, principal=principal, binding_id=binding_id)
    return RedirectResponse("/me?notice=ended", status_code=303)


@router.post("/me/patients/{patient_id}/reveal", dependencies=[CsrfForm])
async def reveal_submit(
    request: Request,
    patient_id: RecordId,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Response:
    """Shows the clear numbers to the person or a minor's guardian; audited."""
    revealed = await service.reveal_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )
    return render(request, "patients/reveal.html", {"revealed": revealed})
