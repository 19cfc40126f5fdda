"""``/users/{id}/authentication``: methods, phoneMethods (incl. SMS sign-in on/off) and
resetPassword with its long-running operation
(https://learn.microsoft.com/graph/api/authenticationmethod-resetpassword,
https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod).

Documented rules enforced: the phone number format ``+{cc} {number}[x{ext}]``; one phone per
type; ``alternateMobile`` needs a ``mobile``; a phone's type cannot change; ``mobile`` cannot be
deleted while an ``alternateMobile`` exists; ``smsSignInState`` must not be sent; fixed method
ids. Graph does not document the error codes of these refusals; the fake answers
- a malformed body or number: ``400 invalidRequest``;
- a type the user already has, ``alternateMobile`` without ``mobile``, deleting ``mobile``
  while ``alternateMobile`` exists: ``409 conflict`` (the state of the user forbids it);
- an unknown method id or a type the user does not have: ``404 itemNotFound``.
Clients should rely on the status class (and read the phones first), not on these codes.

Permissions: app-only tokens need only the application permission (the Learn pages list directory
roles for delegated callers); delegated callers also need a role: Authentication Administrator for
non-admin targets, Privileged Authentication Administrator / Global Administrator for all (AU-scoped
roles for direct non-admin members of the unit). Self-service through ``/users/{own id}`` is refused
(403), as the 2025 pages say it is not supported.

SMS sign-in (Learn: "phoneAuthenticationMethod: enableSmsSignIn",
https://learn.microsoft.com/graph/api/phoneauthenticationmethod-enablesmssignin; the states:
https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod). ``smsSignInState``
is computed when read: ``notSupported`` on other types than ``mobile``; ``notAllowedByPolicy``
while the SMS method configuration does not enable the user for sign-in (disabled, user not
targeted or excluded, or ``isUsableForSignIn: false``); else what was last set: ``notEnabled``,
``ready`` or ``phoneNumberNotUnique`` (another user's ``mobile`` has the same number: "the
phone must be unique in the SMS sign-in system"; Entra: "unique in your tenant"). The fake
never answers ``notConfigured`` (nothing documented leads to it). ``enableSmsSignIn`` needs a
``mobile``; a user the policy does not allow gets ``400 badRequest`` "Cannot enable SMS sign-in
on phone auth method as the credential policy is not enabled on user." (Graph's message, seen
in msgraph-sdk-dotnet issue 2549; the status is not documented); a number that is not unique
still answers 204 with ``phoneNumberNotUnique``. Adding a ``mobile`` for a user the policy
allows registers it at once ("the system will attempt to register the number": Learn, "Create
phoneMethod"), as does changing the number of a registered one.

resetPassword is delegated-only ("Application: not supported" on its Learn page): app-only tokens
get ``403 Authorization_RequestDenied``; so is reading its operation, which only Global
Administrator, Global Reader and (Privileged) Authentication Administrator may do for another user
(docs/fake_graph_manager_mode.md). Operations live in ``operations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..directory import (
    PASSWORD_METHOD_ID,
    PHONE_METHOD_IDS,
    PHONE_TYPES_BY_ID,
    Directory,
    Phone,
    User,
)
from ..errors import GraphErrorResult, access_denied
from ..tenant import PHONE_RE, PHONE_TYPES
from . import admin_rules, lookups, operations, permissions
from .context import GraphRequest, GraphResponse, no_content
from .passwords import check_complexity, generate_temporary
from .permissions import Requirement, require
from .temporary_access_pass import tap_json

PHONE_TYPE = "#microsoft.graph.phoneAuthenticationMethod"
PASSWORD_TYPE = "#microsoft.graph.passwordAuthenticationMethod"
FORMAT_MESSAGE = ("Invalid phone number format. Phone numbers must be in the format "
                  "'+{country code} {subscriber number}x{extension}', e.g. '+1 5555551234' or "
                  "'+1 5555551234x123'.")


def invalid(message: str) -> GraphErrorResult:
    return GraphErrorResult(400, "invalidRequest", message)


def conflict(message: str) -> GraphErrorResult:
    return GraphErrorResult(409, "conflict", message)


def item_not_found(what: str) -> GraphErrorResult:
    return GraphErrorResult(404, "itemNotFound", f"The {what} was not found.")


SMS_REFUSAL = ("Cannot enable SMS sign-in on phone auth method as the credential policy is not "
               "enabled on user.")


def phone_json(directory: Directory, user: User, phone: Phone) -> dict[str, Any]:
    return {"@odata.type": PHONE_TYPE, "id": phone.id, "phoneNumber": phone.number,
            "phoneType": phone.phone_type,
            "smsSignInState": directory.sms_sign_in_state(user, phone)}


def password_method_json() -> dict[str, Any]:
    return {"@odata.type": PASSWORD_TYPE, "id": PASSWORD_METHOD_ID, "password": None,
            "createdDateTime": None}


def _authorize(req: GraphRequest, target: User, requirement: Requirement, write: bool) -> None:
    caller = req.caller
    require(caller, requirement)
    if caller.app_only:
        return
    if caller.object_id == target.id:
        if write:
            raise access_denied()
        return  # reading one's own methods is self-service and allowed
    check = admin_rules.may_manage_methods if write else admin_rules.may_read_methods
    if not check(req.directory, caller.object_id, target.id):
        raise access_denied()


def _sorted_phones(user: User) -> list[Phone]:
    return [user.phones[t] for t in PHONE_TYPES if t in user.phones]


# -- reads ---------------------------------------------------------------------------------


async def list_methods(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.READ_AUTH_METHODS, write=False)
    value = [password_method_json()] + [phone_json(req.directory, user, p)
                                         for p in _sorted_phones(user)]
    tap = user.temporary_access_pass
    if tap is not None:
        value.append(tap_json(tap, req.directory.tap_allowed(user.id)))
    return GraphResponse(body={"@odata.context": req.context_url(
        f"users('{user.id}')/authentication/methods"), "value": value})


async def get_method(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.READ_AUTH_METHODS, write=False)
    method_id = req.params["method"].lower()
    tap = user.temporary_access_pass
    if method_id == PASSWORD_METHOD_ID:
        obj = password_method_json()
    elif tap is not None and method_id == tap.id:
        obj = tap_json(tap, req.directory.tap_allowed(user.id))
    else:
        obj = phone_json(req.directory, user, _phone(user, method_id))
    return GraphResponse(body={"@odata.context": req.context_url(
        f"users('{user.id}')/authentication/methods/$entity")} | obj)


async def list_password_methods(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.READ_AUTH_METHODS, write=False)
    return GraphResponse(body={"@odata.context": req.context_url(
        f"users('{user.id}')/authentication/passwordMethods"),
        "value": [password_method_json()]})


def _phone(user: User, method_id: str) -> Phone:
    phone_type = PHONE_TYPES_BY_ID.get(method_id.lower())
    phone = user.phones.get(phone_type) if phone_type else None
    if phone is None:
        raise item_not_found("phone authentication method")
    return phone


async def list_phones(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.READ_PHONE_METHODS, write=False)
    return GraphResponse(body={
        "@odata.context": req.context_url(f"users('{user.id}')/authentication/phoneMethods"),
        "value": [phone_json(req.directory, user, p) for p in _sorted_phones(user)]})


async def get_phone(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.READ_PHONE_METHODS, write=False)
    phone = _phone(user, req.params["method"])
    return GraphResponse(body={"@odata.context": req.context_url(
        f"users('{user.id}')/authentication/phoneMethods/$entity")}
        | phone_json(req.directory, user, phone))


# -- writes --------------------------------------------------------------------------------

_PHONE_KEYS = {"@odata.type", "phoneNumber", "phoneType"}


def _phone_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("A JSON object with phoneNumber and phoneType is required.")
    for key, value in body.items():
        if key == "smsSignInState":
            raise invalid("smsSignInState is read-only: don't send it.")
        if key not in _PHONE_KEYS:
            raise invalid(f"Property '{key}' does not exist as a declared property of "
                          "phoneAuthenticationMethod.")
        if key == "@odata.type" and value != PHONE_TYPE:
            raise invalid(f"Invalid @odata.type '{value}' for a phone method.")
    if "phoneType" in body and body["phoneType"] not in PHONE_TYPES:
        raise invalid(f"Invalid phoneType '{body['phoneType']}': use mobile, alternateMobile or "
                      "office.")
    if "phoneNumber" in body and (not isinstance(body["phoneNumber"], str)
                                  or not PHONE_RE.match(body["phoneNumber"])):
        raise invalid(FORMAT_MESSAGE)
    return body


async def create_phone(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.WRITE_PHONE_METHODS, write=True)
    body = _phone_body(req.body)
    if "phoneNumber" not in body or "phoneType" not in body:
        raise invalid("phoneNumber and phoneType are required.")
    phone_type = body["phoneType"]
    if phone_type in user.phones:
        raise conflict(f"The user already has a phone method of type '{phone_type}': update or "
                       "delete it instead.")
    if phone_type == "alternateMobile" and "mobile" not in user.phones:
        raise conflict("An alternateMobile phone can only be added when the user has a mobile "
                       "phone.")
    phone = Phone(phone_type, body["phoneNumber"], "notSupported")
    if phone_type == "mobile":
        # "if a user is enabled by policy to use SMS sign-in and a mobile number is added,
        # the system will attempt to register the number for use in that system"
        phone.sms_sign_in_state = (_sms_state(req, user, phone.number)
                                   if req.directory.sms_sign_in_allowed(user.id)
                                   else "notEnabled")
    user.phones[phone_type] = phone
    location = f"{req.base_url}/v1.0/users/{user.id}/authentication/phoneMethods/{phone.id}"
    context = req.context_url(f"users('{user.id}')/authentication/phoneMethods/$entity")
    body_out = {"@odata.context": context} | phone_json(req.directory, user, phone)
    return GraphResponse(status=201, body=body_out, headers={"Location": location})


async def update_phone(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.WRITE_PHONE_METHODS, write=True)
    body = _phone_body(req.body)
    phone = _phone(user, req.params["method"])
    if "phoneType" in body and body["phoneType"] != phone.phone_type:
        raise invalid("The phoneType of a phone method cannot be changed: add a phone of the "
                      "new type and delete this one.")
    if "phoneNumber" in body:
        phone.number = body["phoneNumber"]
        if phone.sms_sign_in_state in ("ready", "phoneNumberNotUnique"):
            phone.sms_sign_in_state = _sms_state(req, user, phone.number)
    return no_content()


async def delete_phone(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, permissions.WRITE_PHONE_METHODS, write=True)
    phone = _phone(user, req.params["method"])
    if phone.phone_type == "mobile" and "alternateMobile" in user.phones:
        raise conflict("The mobile phone cannot be deleted while an alternateMobile phone "
                       "exists: delete the alternateMobile phone first.")
    del user.phones[phone.phone_type]
    return no_content()


def _sms_state(req: GraphRequest, user: User, number: str) -> str:
    for other in req.directory.users.values():
        mobile = other.phones.get("mobile")
        if other is not user and mobile is not None and mobile.number == number:
            return "phoneNumberNotUnique"
    return "ready"


async def _sms_target(req: GraphRequest) -> tuple[User, Phone]:
    user = lookups.user(req)
    _authorize(req, user, permissions.WRITE_PHONE_METHODS, write=True)
    method_id = req.params["method"].lower()
    if method_id in (PHONE_METHOD_IDS["alternateMobile"], PHONE_METHOD_IDS["office"]):
        raise invalid("SMS sign-in can only be enabled or disabled on the mobile phone method.")
    return user, _phone(user, method_id)


async def enable_sms_sign_in(req: GraphRequest) -> GraphResponse:
    user, phone = await _sms_target(req)
    if not req.directory.sms_sign_in_allowed(user.id):
        raise GraphErrorResult(400, "badRequest", SMS_REFUSAL)
    phone.sms_sign_in_state = _sms_state(req, user, phone.number)
    return no_content()


async def disable_sms_sign_in(req: GraphRequest) -> GraphResponse:
    _, phone = await _sms_target(req)
    phone.sms_sign_in_state = "notEnabled"
    return no_content()


# -- resetPassword and its long-running operation ------------------------------------------


async def reset_password(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    method_id = req.params["method"].lower()
    if method_id in PHONE_TYPES_BY_ID:
        raise invalid("resetPassword applies only to the password method "
                      f"'{PASSWORD_METHOD_ID}'.")
    if method_id != PASSWORD_METHOD_ID:
        raise item_not_found("authentication method")
    body = req.body if req.body is not None else {}
    if not isinstance(body, dict) or set(body) - {"newPassword"}:
        raise invalid("The body is empty or {\"newPassword\": \"...\"}.")
    require(req.caller, permissions.RESET_PASSWORD)
    # The caller's own account included: resetPassword "can't be performed on a user's own
    # account" (Learn: passwordAuthenticationMethod: resetPassword); the refusal's exact body
    # is undocumented, so it is Graph's usual 403.
    if not admin_rules.may_reset_password(req.directory, req.caller.object_id, user.id):
        raise access_denied()
    given = body.get("newPassword")
    password = (check_complexity(given, code="invalidRequest") if given is not None
                else generate_temporary())
    operation = operations.store(req.fake).start(user.id)
    if operation.outcome == "succeeded":
        user.password = password
        user.force_change_password_next_sign_in = True
    headers = {
        "Location": f"{req.base_url}/v1.0/users/{user.id}/authentication/operations/"
                    f"{operation.id}",
        "Retry-After": str(operations.store(req.fake).seconds),
    }
    if given is not None:
        return GraphResponse(status=202, headers=headers)
    return GraphResponse(status=202, headers=headers, body={
        "@odata.context": req.context_url("microsoft.graph.passwordResetResponse"),
        "newPassword": password})


async def get_operation(req: GraphRequest) -> GraphResponse:
    """``running`` on the first poll, then ``succeeded`` or ``failed`` (so that clients really
    poll). Delegated only; another user's operation needs a role that may read it."""
    user = lookups.user(req)
    caller = req.caller
    if caller.app_only or caller.object_id != user.id:
        require(caller, permissions.READ_OPERATIONS)
        if not admin_rules.may_read_operation(req.directory, caller.object_id, user.id):
            raise access_denied()
    else:
        require(caller, permissions.READ_OWN_OPERATIONS)
    op = operations.store(req.fake).get(req.params["operation"])
    if op is None or op.user_id != user.id:
        raise item_not_found("operation")
    status = op.next_status()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return GraphResponse(body={
        "@odata.context": req.context_url(f"users('{user.id}')/authentication/operations/"
                                          "$entity"),
        "id": op.id, "status": status, "createdDateTime": op.created,
        "lastActionDateTime": op.created if status == "running" else now,
        "resourceLocation": None,
        "statusDetail": op.status_detail if status == "failed" else None})
