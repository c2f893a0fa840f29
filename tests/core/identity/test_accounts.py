"""Accounts: the rules a new username and password must meet, and creating users and API clients."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.identity import passwords, policies, service
from regio.core.identity.errors import (
    AccountInvalid,
    GrantScopeInvalid,
    PasswordSameAsUsername,
    PasswordTooLong,
    PasswordTooShort,
    UsernameInvalid,
    UsernameTaken,
)
from regio.core.identity.models import RoleAssignment, User


@pytest.mark.parametrize("password", ["", "1234567", "       ", " " * 12])
def test_a_password_needs_at_least_eight_real_characters(password: str):
    problem = policies.password_problem(password)
    assert isinstance(problem, PasswordTooShort)
    assert problem.message("zh") == "密码至少需要 8 个字符。"
    assert problem.message("en") == "A password needs at least 8 characters."


def test_eight_characters_are_enough_and_chinese_counts_per_character():
    assert policies.password_problem("12345678") is None
    assert policies.password_problem("我的密码很安全啊") is None


def test_a_password_over_128_characters_is_refused():
    assert isinstance(policies.password_problem("x" * 129), PasswordTooLong)
    assert policies.password_problem("x" * 128) is None


def test_the_password_may_not_be_the_username():
    assert isinstance(policies.password_problem("Zhangsan1", username="zhangsan1"), PasswordSameAsUsername)


@pytest.mark.parametrize("username", ["ab", "-lead", "has space", "名字", "x" * 33, "a/b"])
def test_bad_usernames_are_refused(username: str):
    assert isinstance(policies.username_problem(username), UsernameInvalid)


@pytest.mark.parametrize("username", ["abc", "Wang.Fang", "doc_01", "13800138000", "a-b"])
def test_good_usernames_pass(username: str):
    assert policies.username_problem(username) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/portal", "/portal"),
        ("/me?x=1#top", "/me?x=1#top"),
        ("https://evil.example", "/me"),
        ("//evil.example", "/me"),
        ("/\\evil.example", "/me"),
        ("/ok\r\nSet-Cookie: x=1", "/me"),
        ("portal", "/me"),
        (None, "/me"),
    ],
)
def test_only_local_paths_are_followed_after_sign_in(target: str | None, expected: str):
    assert policies.safe_next(target) == expected


@pytest.mark.parametrize(
    ("region", "place", "inside"),
    [
        ("330000", "330100", True),
        ("330000", "330106", True),
        ("330100", "330106", True),
        ("330100", "330200", False),
        ("330000", "320100", False),
        ("330000", "330000", True),
        ("330000", "hospital-1", False),
    ],
)
def test_adcodes_lie_within_their_province_and_city(region: str, place: str, inside: bool):
    assert policies.adcode_within(region, place) is inside


@pytest.mark.parametrize(
    "grant",
    [
        RoleGrant(Role.doctor),
        RoleGrant(Role.patient, ScopeKind.hospital, "1"),
        RoleGrant(Role.health_admin, ScopeKind.hospital, "1"),
        RoleGrant(Role.city_officer, ScopeKind.jurisdiction, ""),
        RoleGrant(Role.platform_admin, ScopeKind.platform, "3"),
    ],
)
def test_a_role_is_held_only_in_a_scope_that_fits_it(grant: RoleGrant):
    assert isinstance(policies.grant_scope_problem(grant), GrantScopeInvalid)


async def test_create_user_hashes_with_argon2id_and_stores_the_roles(db):
    async with db.session() as session:
        user = await service.create_user(
            session=session,
            username="Doctor.Li",
            password="a-long-password",
            display_name=" 李医生 ",
            grants=[RoleGrant(Role.doctor, ScopeKind.hospital, "4"), RoleGrant(Role.patient)],
        )
    assert user.username == "doctor.li"
    assert user.display_name == "李医生"
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "a-long-password" not in user.password_hash
    assert passwords.verify_sync(user.password_hash, "a-long-password")
    async with db.session() as session:
        roles = (
            await session.execute(select(RoleAssignment.role).where(RoleAssignment.user_id == user.id))
        ).all()
    assert sorted(r[0] for r in roles) == ["doctor", "patient"]


async def test_create_user_refuses_a_short_password_with_its_own_code_and_writes_nothing(db):
    async with db.session() as session:
        with pytest.raises(PasswordTooShort) as caught:
            await service.create_user(session=session, username="shorty", password="1234", display_name="短")
    assert caught.value.details["field"] == "password"
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def test_several_problems_at_once_are_reported_together_by_field(db):
    async with db.session() as session:
        with pytest.raises(AccountInvalid) as caught:
            await service.create_user(session=session, username="x", password="1", display_name="")
    fields = caught.value.details["fields"]
    assert set(fields) == {"username", "display_name", "password"}
    assert fields["password"]["code"] == "password_too_short"
    assert fields["password"]["message_zh"] == "密码至少需要 8 个字符。"


async def test_a_role_in_an_unfitting_scope_refuses_the_whole_account(db):
    async with db.session() as session:
        with pytest.raises(GrantScopeInvalid):
            await service.create_user_with_hash(
                session=session,
                username="misfit",
                password_hash=passwords.dummy_hash(),
                display_name="错配",
                grants=[RoleGrant(Role.doctor)],
            )
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def test_racing_sign_ups_for_one_username_create_exactly_one_account(db):
    async def sign_up(number: int) -> object:
        async with db.session() as session:
            try:
                return await service.create_user_with_hash(
                    session=session,
                    username="popular",
                    password_hash=passwords.dummy_hash(),
                    display_name=f"用户{number}",
                )
            except UsernameTaken as exc:
                return exc

    # return_exceptions: every task ends (and releases its row locks) before the test judges them.
    outcomes = await asyncio.gather(*(sign_up(n) for n in range(10)), return_exceptions=True)
    assert sum(isinstance(o, User) for o in outcomes) == 1
    assert sum(isinstance(o, UsernameTaken) for o in outcomes) == 9
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1


async def test_an_api_client_secret_is_returned_once_and_only_its_hash_kept(db):
    async with db.session() as session:
        client, secret = await service.create_api_client(
            session=session,
            name="杭州市应急预警系统",
            grants=[RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")],
        )
    assert client.client_id.startswith("ic_")
    assert len(secret) >= 40
    assert secret not in client.secret_hash
