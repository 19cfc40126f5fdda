"""``/users``: list (paging, ``$filter``, ``$search``), get by id or UPN, update (PATCH),
``revokeSignInSessions``.

PATCH refuses keys it does not know, including the snake_case keys msgraph-sdk's backing store sends
when a property is set to None after construction (``{"mobile_phone": null}``: kiota's
``backing_store_serialization_writer_proxy_factory.py``). How real Graph treats those is unverified;
refusing them (400 ``Request_BadRequest``, "Property 'x' does not exist as a declared property or
extension property.") makes the mistake visible in tests instead of silently ignoring a clear.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..directory import User
from ..errors import access_denied, bad_request
from . import admin_rules, lookups, odata, permissions, serialize
from .context import GraphRequest, GraphResponse, no_content
from .passwords import check_complexity
from .permissions import require

USER_FILTERABLE = ("id", "displayName", "userPrincipalName", "mail", "givenName", "surname",
                   "jobTitle", "accountEnabled", "mobilePhone", "officeLocation", "userType")
USER_SEARCHABLE = ("displayName", "givenName", "surname", "mail", "userPrincipalName",
                   "mailNickname", "jobTitle")


async def list_users(req: GraphRequest) -> GraphResponse:
    require(req.caller, permissions.READ_USERS)
    q = req.odata
    odata.check_properties(q, filterable=USER_FILTERABLE, searchable=USER_SEARCHABLE,
                           type_name="User")
    odata.require_advanced(req)
    serialize.select_props(q.select, serialize.USER_DEFAULT, serialize.USER_PROPERTIES,
                           "user", strict=True)
    users = list(req.directory.users.values())
    accept = odata.matcher(q, serialize.user_property)
    body = odata.paged(req, users, lambda u: serialize.render(u, q.select), _context(q.select),
                       accept)
    return GraphResponse(body=body)


def _context(select: tuple[str, ...] | None, entity: bool = False) -> str:
    ctx = f"users({','.join(select)})" if select else "users"
    return ctx + "/$entity" if entity else ctx


async def get_user(req: GraphRequest) -> GraphResponse:
    caller = req.caller
    target = lookups.user(req)
    if not (permissions.READ_USERS.satisfied_by(caller) or (
            not caller.app_only and caller.object_id == target.id
            and permissions.READ_SELF.satisfied_by(caller))):
        raise access_denied()
    q = req.odata
    if q.filter or q.search or q.top or q.count or q.skiptoken:
        raise bad_request("Query options $filter, $search, $top, $count and $skiptoken do not "
                          "apply to a single user.")
    body = {"@odata.context": req.context_url(_context(q.select, entity=True))}
    body |= serialize.render(target, q.select, strict=True)
    return GraphResponse(body=body)


# -- PATCH ---------------------------------------------------------------------------------


def _string(nullable: bool, max_len: int = 256) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise bad_request(f"Invalid value specified for property '{name}' of resource "
                              "'User'.")
        return value
    return check


def _bool(name: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")
    return value


def _business_phones(name: str, value: Any) -> Any:
    if (not isinstance(value, list) or len(value) > 1
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise bad_request("Invalid value specified for property 'businessPhones' of resource "
                          "'User': a list of at most one number.")
    return list(value)


# body key -> (User attribute, validator)
_FIELDS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "displayName": ("display_name", _string(nullable=False)),
    "givenName": ("given_name", _string(nullable=True, max_len=64)),
    "surname": ("surname", _string(nullable=True, max_len=64)),
    "jobTitle": ("job_title", _string(nullable=True, max_len=128)),
    "officeLocation": ("office_location", _string(nullable=True, max_len=128)),
    "mail": ("mail", _string(nullable=True)),
    "mobilePhone": ("mobile_phone", _string(nullable=True, max_len=64)),
    "businessPhones": ("business_phones", _business_phones),
    "accountEnabled": ("account_enabled", _bool),
}
_PHONE_FIELDS = {"mobilePhone", "businessPhones"}
_PROFILE_KEYS = {"@odata.type", "password", "forceChangePasswordNextSignIn",
                 "forceChangePasswordNextSignInWithMfa"}


def _unknown_property(name: str) -> Exception:
    return bad_request(f"Property '{name}' does not exist as a declared property or extension "
                       "property.")


def _parse_patch(body: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if not isinstance(body, dict) or not body:
        raise bad_request("Empty Payload. JSON content expected.")
    changes: dict[str, Any] = {}
    profile: dict[str, Any] | None = None
    for key, value in body.items():
        if key == "@odata.type":
            if value != "#microsoft.graph.user":
                raise bad_request(f"Invalid @odata.type '{value}' for a user.")
        elif key == "passwordProfile":
            if not isinstance(value, dict):
                raise bad_request("Invalid value specified for property 'passwordProfile' of "
                                  "resource 'User'.")
            for pkey in value:
                if pkey not in _PROFILE_KEYS:
                    raise _unknown_property(pkey)
            for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                if flag in value and not isinstance(value[flag], bool):
                    raise bad_request(f"Invalid value specified for property '{flag}'.")
            profile = value
        elif key in _FIELDS:
            changes[key] = _FIELDS[key][1](key, value)
        else:
            raise _unknown_property(key)
    return changes, profile


def _authorize_patch(req: GraphRequest, target: User, changes: dict[str, Any],
                     profile: dict[str, Any] | None) -> None:
    caller, directory = req.caller, req.directory
    actor = caller.object_id
    is_self = not caller.app_only and actor == target.id
    if profile is not None:
        require(caller, permissions.WRITE_PASSWORD_PROFILE)
        # App-only too: the app's service principal needs a role that may reset THIS target
        # (https://learn.microsoft.com/graph/api/user-update, passwordProfile: such an app holds a
        # role like User Administrator).
        if not admin_rules.may_reset_password(directory, actor, target.id):
            raise access_denied()
    phones = _PHONE_FIELDS & changes.keys()
    if phones:
        require(caller, permissions.WRITE_USER_PHONES)
        if not is_self and (not caller.app_only or admin_rules.is_admin(directory, target.id)) \
                and not admin_rules.may_reset_password(directory, actor, target.id):
            raise access_denied()
    if "accountEnabled" in changes:
        require(caller, permissions.WRITE_ACCOUNT_ENABLED)
    others = changes.keys() - _PHONE_FIELDS - {"accountEnabled"}
    if others:
        if is_self and "User.ReadWrite" in caller.permissions:
            return
        require(caller, permissions.WRITE_USER)
        if not caller.app_only and not admin_rules.may_update_user(directory, actor, target.id):
            raise access_denied()


async def patch_user(req: GraphRequest) -> GraphResponse:
    target = lookups.user(req)
    changes, profile = _parse_patch(req.body)
    _authorize_patch(req, target, changes, profile)
    password = None
    if profile is not None and "password" in profile:
        password = check_complexity(profile["password"])
    for key, value in changes.items():
        setattr(target, _FIELDS[key][0], value)
    if profile is not None:
        if password is not None:
            target.password = password
        target.force_change_password_next_sign_in = bool(
            profile.get("forceChangePasswordNextSignIn", False)
            or profile.get("forceChangePasswordNextSignInWithMfa", False))
    return no_content()


async def revoke_sign_in_sessions(req: GraphRequest) -> GraphResponse:
    """``POST /users/{id}/revokeSignInSessions``: sessions and refresh tokens issued before now
    are void (``signInSessionsValidFromDateTime`` moves to now, whole seconds as on Graph)."""
    require(req.caller, permissions.REVOKE_SESSIONS)
    target = lookups.user(req)
    if not req.caller.app_only and req.caller.object_id != target.id \
            and not admin_rules.may_update_user(req.directory, req.caller.object_id, target.id):
        raise access_denied()
    target.sign_in_sessions_valid_from = float(int(time.time()))
    return GraphResponse(body={"@odata.context": req.context_url("Edm.Boolean"), "value": True})
