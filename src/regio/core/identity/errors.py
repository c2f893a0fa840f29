"""Refusals of identity: sign-in, tokens, CSRF, accounts and role grants."""

from __future__ import annotations

from regio.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotAuthenticated, NotFound


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message_en = "Wrong username or password."
    message_zh = "用户名或密码错误。"


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    message_en = "The access token is invalid or has expired; please sign in again."
    message_zh = "访问令牌无效或已过期，请重新登录。"


class LoginLocked(DomainError):
    status = 429
    code = "login_locked"
    message_en = "Too many failed sign-ins; try again in {retry_after_seconds} seconds."
    message_zh = "登录失败次数过多，请在 {retry_after_seconds} 秒后重试。"


class LoginThrottled(DomainError):
    status = 429
    code = "login_throttled"
    message_en = "Too many failed sign-ins from your network; try again in {retry_after_seconds} seconds."
    message_zh = "您所在网络的登录失败次数过多，请在 {retry_after_seconds} 秒后重试。"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    message_en = "This form has expired or did not come from this site; reload the page and try again."
    message_zh = "页面已过期或请求来源不明，请刷新页面后重试。"


class UsernameInvalid(InvalidInput):
    code = "username_invalid"
    message_en = "A username has 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
    message_zh = "用户名为 3 至 32 位，可用字母、数字、“.”、“_”、“-”，并以字母或数字开头。"


class UsernameTaken(Conflict):
    code = "username_taken"
    message_en = "This username is already taken."
    message_zh = "该用户名已被注册。"


class DisplayNameInvalid(InvalidInput):
    code = "display_name_invalid"
    message_en = "Please give a name of 1 to 50 characters."
    message_zh = "请填写 1 至 50 个字符的姓名或昵称。"


class PasswordTooShort(InvalidInput):
    code = "password_too_short"
    message_en = "A password needs at least {min_length} characters."
    message_zh = "密码至少需要 {min_length} 个字符。"


class PasswordTooLong(InvalidInput):
    code = "password_too_long"
    message_en = "A password may have at most {max_length} characters."
    message_zh = "密码最多 {max_length} 个字符。"


class PasswordSameAsUsername(InvalidInput):
    code = "password_same_as_username"
    message_en = "The password must not be the username."
    message_zh = "密码不能与用户名相同。"


class PasswordMismatch(InvalidInput):
    code = "password_mismatch"
    message_en = "The two passwords do not match."
    message_zh = "两次输入的密码不一致。"


class AccountInvalid(InvalidInput):
    """Several fields of a new account are wrong at once; details.fields maps field to code."""

    code = "account_invalid"
    message_en = "Some fields of the account are not valid."
    message_zh = "账户信息有误，请检查。"


class GrantScopeInvalid(InvalidInput):
    code = "grant_scope_invalid"
    message_en = "The role {role} cannot be held in a scope of kind {scope_kind}."
    message_zh = "角色 {role} 不能在 {scope_kind} 类范围内授予。"


class GrantNotAllowed(Forbidden):
    code = "grant_not_allowed"
    message_en = "You may not grant or revoke this role in this scope."
    message_zh = "您无权在该范围内授予或撤销此角色。"


class GrantExists(Conflict):
    code = "grant_exists"
    message_en = "This role is already held in this scope."
    message_zh = "该角色已在此范围内授予。"


class GrantNotFound(NotFound):
    code = "grant_not_found"
    message_en = "No such role grant."
    message_zh = "未找到该角色授权。"


class GrantHolderInvalid(InvalidInput):
    code = "grant_holder_invalid"
    message_en = "Name exactly one holder: a username or an API client id."
    message_zh = "请指定唯一的授权对象：用户名或接口客户端编号。"


class HolderNotFound(NotFound):
    code = "holder_not_found"
    message_en = "No such user or API client."
    message_zh = "未找到该用户或接口客户端。"


class ClientNameInvalid(InvalidInput):
    code = "client_name_invalid"
    message_en = "Please give the API client a name of 1 to 100 characters."
    message_zh = "请为接口客户端填写 1 至 100 个字符的名称。"


class GrantSpecInvalid(InvalidInput):
    code = "grant_spec_invalid"
    message_en = "'{spec}' is not a role grant; write role, role:scope_kind:scope_id, e.g. doctor:hospital:7."
    message_zh = (
        "“{spec}” 不是有效的角色授权，请写作 角色 或 角色:范围类型:范围编号，例如 doctor:hospital:7。"
    )
