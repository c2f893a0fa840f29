"""HTML pages: /me (my patients and family members, binding requests) and /me/patients/new."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from regio.care.patients import service
from regio.care.patients.errors import InvalidIdNumber, InvalidName, InvalidPhone, PatientExists
from regio.care.patients.models import Relation
from regio.care.patients.schemas import BindingRequestsOut, BoundPatientOut
from regio.core.deps import CurrentPrincipal, RecordId, SessionDep, SettingsDep
from regio.core.errors import DomainError, Forbidden
from regio.core.identity.csrf import CsrfForm
from regio.core.templating import render

router = APIRouter(tags=["patient pages"], include_in_schema=False)

FormText = Annotated[str, Form(max_length=200)]

RELATION_LABELS: dict[str, tuple[str, str]] = {
    Relation.self_: ("本人", "Myself"),
    Relation.spouse: ("配偶", "Spouse"),
    Relation.parent: ("父母", "Parent"),
    Relation.child: ("子女", "Child"),
    Relation.other: ("其他亲友", "Other"),
}
SEX_LABELS = {"male": ("男", "Male"), "female": ("女", "Female")}
AWAITING_LABELS = {
    "the_person": ("等待本人同意", "Waiting for the person to accept"),
    "guardian": ("等待监护人同意", "Waiting for a guardian to accept"),
    "family": ("等待家人确认", "Waiting for family to confirm"),
    "the_person_to_sign_up": ("等待本人注册账号后同意", "Waiting for the person to sign up and accept"),
}
NOTICES = {
    "registered": ("已添加就诊人。", "Patient added."),
    "requested": ("绑定申请已发送，对方同意后生效。", "Binding request sent; it takes effect once accepted."),
    "accepted": ("已同意绑定申请。", "Request accepted."),
    "declined": ("已拒绝绑定申请。", "Request declined."),
    "ended": ("已解除绑定，记录已保留。", "Unbound; the history is kept."),
}
_FIELD_OF = {InvalidName: "name", InvalidIdNumber: "id_number", InvalidPhone: "phone"}


def _labels() -> dict[str, Any]:
    return {"relation_labels": RELATION_LABELS, "sex_labels": SEX_LABELS, "awaiting_labels": AWAITING_LABELS}


@router.get("/me")
async def my_patients(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    notice: str = "",
) -> Response:
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
    exists: bool = False,
    status_code: int = 200,
) -> Response:
    context = {"values": values, "errors": errors or {}, "exists": exists, **_labels()}
    return render(request, "patients/new.html", context, status_code=status_code)


@router.get("/me/patients/new")
async def new_patient_form(request: Request, principal: CurrentPrincipal, relation: str = "") -> Response:
    chosen = relation if relation in {r.value for r in Relation} else Relation.self_.value
    return _form_page(request, values={"relation": chosen})


@router.post("/me/patients/new", dependencies=[CsrfForm])
async def new_patient_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    name: FormText = "",
    id_number: FormText = "",
    phone: FormText = "",
    relation: FormText = "self",
) -> Response:
    language: str = request.state.language
    # The user's own input is echoed back so it can be corrected; nothing stored is shown in clear.
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
    try:
        await service.register_patient(
            session=session,
            settings=settings,
            principal=principal,
            name=name,
            id_number=id_number,
            phone=phone,
            relation=Relation(relation),
        )
    except PatientExists as error:
        return _form_page(
            request, values=values, errors={"form": error.message(language)}, exists=True, status_code=409
        )
    except (InvalidName, InvalidIdNumber, InvalidPhone) as error:
        field = _FIELD_OF[type(error)]
        return _form_page(request, values=values, errors={field: error.message(language)}, status_code=422)
    except DomainError as error:
        if error.status not in (409, 422):
            raise
        return _form_page(
            request, values=values, errors={"form": error.message(language)}, status_code=error.status
        )
    return RedirectResponse("/me?notice=registered", status_code=303)


@router.post("/me/bindings/new", dependencies=[CsrfForm])
async def request_binding_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    id_number: FormText = "",
    relation: FormText = "",
    name: FormText = "",
    phone: FormText = "",
) -> Response:
    language: str = request.state.language
    values = {"name": name, "id_number": id_number, "phone": phone, "relation": relation}
    if relation not in {r.value for r in Relation}:
        message = "请选择与您的关系。" if language.startswith("zh") else "Please choose a relation."
        return _form_page(request, values=values, errors={"relation": message}, exists=True, status_code=422)
    try:
        await service.request_binding(
            session=session,
            settings=settings,
            principal=principal,
            id_number=id_number,
            relation=Relation(relation),
        )
    except InvalidIdNumber as error:
        return _form_page(
            request, values=values, errors={"id_number": error.message(language)}, status_code=422
        )
    except DomainError as error:
        if error.status not in (404, 409, 422):
            raise
        return _form_page(
            request, values=values, errors={"form": error.message(language)}, status_code=error.status
        )
    return RedirectResponse("/me?notice=requested", status_code=303)


@router.post("/me/bindings/{binding_id}/accept", dependencies=[CsrfForm])
async def accept_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    await service.accept_binding(session=session, principal=principal, binding_id=binding_id)
    return RedirectResponse("/me?notice=accepted", status_code=303)


@router.post("/me/bindings/{binding_id}/decline", dependencies=[CsrfForm])
async def decline_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    await service.decline_binding(session=session, principal=principal, binding_id=binding_id)
    return RedirectResponse("/me?notice=declined", status_code=303)


@router.post("/me/bindings/{binding_id}/end", dependencies=[CsrfForm])
async def end_submit(binding_id: RecordId, session: SessionDep, principal: CurrentPrincipal) -> Response:
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
    revealed = await service.reveal_patient(
        session=session, settings=settings, principal=principal, patient_id=patient_id
    )
    response = render(request, "patients/reveal.html", {"revealed": revealed})
    response.headers["Cache-Control"] = "no-store"  # the clear numbers must not stay in a browser cache
    return response
