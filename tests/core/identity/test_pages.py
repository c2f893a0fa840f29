"""Pages: sign in with a session cookie, CSRF on every form and cookie-authenticated API write, sign out, sign up."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from regio.app import create_app
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.identity import service, tokens
from regio.core.identity.errors import CsrfFailed
from regio.core.identity.models import LoginSession, User
from tests.factories import TEST_PASSWORD, browser_login, csrf_from_html, make_user, token_headers

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def no_failure_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.0)


async def _login_form(client: httpx.AsyncClient, path: str = "/login") -> str:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 200
    return csrf_from_html(response.text)


async def test_the_login_page_is_chinese_first_and_carries_a_csrf_token_paired_with_a_cookie(client):
    response = await client.get("/login", headers=HTML)
    assert response.status_code == 200
    assert "登录" in response.text
    token = csrf_from_html(response.text)
    assert token and token == client.cookies.get(service.CSRF_COOKIE)
    assert "httponly" in response.headers["set-cookie"].lower()


async def test_the_login_page_speaks_english_when_asked(client):
    response = await client.get("/login?lang=en", headers=HTML)
    assert "Sign in" in response.text
    assert "用户名" not in response.text


async def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_to_the_local_next_page(db, client):
    await make_user(db, username="lili")
    csrf = await _login_form(client)
    response = await client.post(
        "/login",
        data={
            "username": "lili",
            "password": TEST_PASSWORD,
            "csrf_token": csrf,
            "next": "/portal?city=330100",
        },
        headers=HTML,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal?city=330100"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(service.SESSION_COOKIE))
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "secure" not in lowered
    account = await client.get("/account", headers=HTML)
    assert account.status_code == 200
    assert "@lili" in account.text


async def test_the_session_token_is_stored_only_as_a_hash(db, client):
    await make_user(db, username="hashme")
    await browser_login(client, "hashme")
    cookie = client.cookies.get(service.SESSION_COOKIE)
    async with db.session() as session:
        stored = (await session.execute(select(LoginSession.token_hash))).scalars().all()
    assert stored == [tokens.hash_token(cookie)]


async def test_the_session_cookie_is_secure_when_settings_say_so(db, settings):
    await make_user(db, username="secure")
    app = create_app(settings=settings.model_copy(update={"cookie_secure": True}), database=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/login", headers=HTML)
        csrf = csrf_from_html(page.text)
        http.cookies.set(service.CSRF_COOKIE, csrf)
        response = await http.post(
            "/login", data={"username": "secure", "password": TEST_PASSWORD, "csrf_token": csrf}
        )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(service.SESSION_COOKIE))
    assert "secure" in cookie.lower()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
async def test_sign_in_never_redirects_off_site(db, client, target: str):
    await make_user(db, username="safe")
    csrf = await _login_form(client)
    response = await client.post(
        "/login", data={"username": "safe", "password": TEST_PASSWORD, "csrf_token": csrf, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/me"


async def test_a_login_post_without_the_csrf_token_is_refused_and_signs_no_one_in(db, client):
    await make_user(db, username="victim")
    await _login_form(client)
    response = await client.post("/login", data={"username": "victim", "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    assert service.SESSION_COOKIE not in client.cookies


async def test_a_planted_unsigned_csrf_cookie_does_not_pass_the_double_submit_check(db, client):
    await make_user(db, username="planted")
    client.cookies.set(service.CSRF_COOKIE, "attacker.chosen")
    response = await client.post(
        "/login", data={"username": "planted", "password": TEST_PASSWORD, "csrf_token": "attacker.chosen"}
    )
    assert response.status_code == 403


async def test_a_genuine_visitor_csrf_cookie_does_not_pass_for_a_signed_in_browser(db, client, app):
    # An attacker can fetch a genuine visitor cookie by visiting, and plant it (a sibling
    # subdomain can set cookies); with a session present, only the session's token may pass.
    await make_user(db, username="signedin")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker:
        planted = csrf_from_html((await attacker.get("/login", headers=HTML)).text)
        assert planted == attacker.cookies.get(service.CSRF_COOKIE)
    await browser_login(client, "signedin")
    client.cookies.set(service.CSRF_COOKIE, planted)
    response = await client.post("/logout", data={"csrf_token": planted})
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    assert (await client.get("/api/auth/me")).status_code == 200


def test_with_a_session_cookie_only_the_session_bound_token_matches():
    secret = "k" * 40
    visitor = tokens.new_visitor_csrf_cookie(secret_key=secret)
    session_token = tokens.new_session_token()
    bound = tokens.session_csrf_token(secret_key=secret, session_token=session_token)
    assert tokens.csrf_matches(visitor, secret_key=secret, session_token=None, visitor_cookie=visitor)
    assert not tokens.csrf_matches(
        visitor, secret_key=secret, session_token=session_token, visitor_cookie=visitor
    )
    assert tokens.csrf_matches(bound, secret_key=secret, session_token=session_token, visitor_cookie=visitor)


async def test_a_wrong_password_shows_the_form_again_with_the_error(db, client):
    await make_user(db, username="typo")
    csrf = await _login_form(client)
    response = await client.post(
        "/login", data={"username": "typo", "password": "wrong-wrong", "csrf_token": csrf}, headers=HTML
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert 'value="typo"' in response.text
    assert service.SESSION_COOKIE not in client.cookies


async def test_the_account_page_sends_visitors_to_sign_in_and_back(client):
    response = await client.get("/account", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"


async def test_the_account_page_lists_my_roles_in_chinese(db, client):
    await make_user(db, username="docwang", roles=[RoleGrant(Role.doctor, ScopeKind.hospital, "8")])
    await browser_login(client, "docwang")
    page = await client.get("/account", headers=HTML)
    assert "医生" in page.text
    assert "医院" in page.text and "<code>8</code>" in page.text


async def test_signing_out_ends_the_session_for_good(db, client):
    await make_user(db, username="bye")
    await browser_login(client, "bye")
    old_cookie = client.cookies.get(service.SESSION_COOKIE)
    csrf = csrf_from_html((await client.get("/account", headers=HTML)).text)
    response = await client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert service.SESSION_COOKIE not in client.cookies
    # Replaying the old cookie (stolen, or kept by a shared computer) no longer signs anyone in.
    client.cookies.set(service.SESSION_COOKIE, old_cookie)
    assert (await client.get("/api/auth/me")).status_code == 401
    async with db.session() as session:
        revoked = (await session.execute(select(LoginSession.revoked_at))).scalar_one()
    assert revoked is not None


async def test_a_logout_post_without_the_csrf_token_is_refused_and_the_session_lives_on(db, client):
    await make_user(db, username="stay")
    await browser_login(client, "stay")
    response = await client.post("/logout", data={})
    assert response.status_code == 403
    assert (await client.get("/api/auth/me")).status_code == 200


async def test_a_cookie_authenticated_api_write_needs_the_csrf_header(db, client):
    await make_user(db, username="root", roles=[Role.platform_admin])
    await make_user(db, username="newdoc")
    csrf_header = await browser_login(client, "root")
    body = {"username": "newdoc", "role": "doctor", "scope_kind": "hospital", "scope_id": "3"}
    refused = await client.post("/api/admin/role-grants", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post("/api/admin/role-grants", json=body, headers={service.CSRF_HEADER: "x" * 43})
    assert wrong.json()["error"]["code"] == "csrf_failed"
    accepted = await client.post("/api/admin/role-grants", json=body, headers=csrf_header)
    assert accepted.status_code == 201
    # Reads need no header.
    assert (await client.get("/api/auth/me")).status_code == 200


async def test_bearer_authenticated_api_writes_need_no_csrf_header(db, client, settings):
    root = await make_user(db, username="root2", roles=[Role.platform_admin])
    await make_user(db, username="doc2")
    response = await client.post(
        "/api/admin/role-grants",
        json={"username": "doc2", "role": "doctor", "scope_kind": "hospital", "scope_id": "3"},
        headers=token_headers(settings, root),
    )
    assert response.status_code == 201


async def test_authenticate_request_alone_refuses_an_unsafe_cookie_request_without_the_header(db, settings):
    user = await make_user(db, username="direct")
    async with db.session() as session:
        token = await service.start_session(session=session, settings=settings, user=user)
        with pytest.raises(CsrfFailed):
            await service.authenticate_request(
                session=session,
                settings=settings,
                authorization=None,
                session_cookie=token,
                method="DELETE",
                csrf_header=None,
            )
        principal = await service.authenticate_request(
            session=session,
            settings=settings,
            authorization=None,
            session_cookie=token,
            method="DELETE",
            csrf_header=tokens.session_csrf_token(secret_key=settings.secret_key, session_token=token),
        )
        assert principal.user_id == user.id
        anonymous = await service.authenticate_request(
            session=session,
            settings=settings,
            authorization=None,
            session_cookie=None,
            method="GET",
            csrf_header=None,
        )
        assert not anonymous.is_authenticated


async def test_signing_up_creates_a_patient_signs_in_and_goes_to_me(db, client):
    csrf = await _login_form(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "username": "NewPatient",
            "display_name": "张三",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
            "csrf_token": csrf,
        },
        headers=HTML,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/me"
    me = (await client.get("/api/auth/me")).json()
    assert me["username"] == "newpatient"
    assert me["display_name"] == "张三"
    assert me["roles"] == [{"role": "patient", "scope_kind": "platform", "scope_id": ""}]
    login = await client.post("/api/auth/token", json={"username": "newpatient", "password": "long-enough-1"})
    assert login.status_code == 200


async def test_sign_up_shows_each_problem_beside_its_field_and_writes_nothing(db, client):
    csrf = await _login_form(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "username": "x",
            "display_name": "",
            "password": "short",
            "confirm": "other",
            "csrf_token": csrf,
        },
        headers=HTML,
    )
    assert response.status_code == 422
    assert 'id="username-error"' in response.text
    assert 'id="display_name-error"' in response.text
    assert 'id="password-error"' in response.text
    assert "密码至少需要 8 个字符" in response.text
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def test_sign_up_says_when_the_passwords_differ(client):
    csrf = await _login_form(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "username": "mismatch",
            "display_name": "李四",
            "password": "long-enough-1",
            "confirm": "long-enough-2",
            "csrf_token": csrf,
        },
        headers=HTML,
    )
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.text
    assert "两次输入的密码不一致" in response.text


async def test_sign_up_with_a_taken_username_says_so_beside_the_username(db, client):
    await make_user(db, username="taken")
    csrf = await _login_form(client, "/signup")
    response = await client.post(
        "/signup",
        data={
            "username": "Taken",
            "display_name": "王五",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
            "csrf_token": csrf,
        },
        headers=HTML,
    )
    assert response.status_code == 409
    assert 'id="username-error"' in response.text
    assert "该用户名已被注册" in response.text
    assert service.SESSION_COOKIE not in client.cookies


async def test_sign_up_without_the_csrf_token_is_refused(db, client):
    response = await client.post(
        "/signup",
        data={
            "username": "nocsrf",
            "display_name": "赵六",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
    )
    assert response.status_code == 403
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0
