"""``/users/{id}/authentication/temporaryAccessPassMethods``: create, list, get, delete.

Learn: "Create temporaryAccessPassMethod",
https://learn.microsoft.com/graph/api/authentication-post-temporaryaccesspassmethods;
"List temporaryAccessPassMethods",
https://learn.microsoft.com/graph/api/authentication-list-temporaryaccesspassmethods;
"Get" and "Delete temporaryAccessPassAuthenticationMethod",
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethod-get,
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethod-delete;
the resource, https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethod.

- One pass per user: "If the user requires a new Temporary Access Pass while the current
  Temporary Access Pass is valid, the admin can create a new Temporary Access Pass for the
  user, the previous Temporary Access Pass will be deleted" — a second POST replaces the pass.
- ``temporaryAccessPass`` is "returned only on creation", ``null`` in reads.
- ``lifetimeInMinutes`` defaults to the policy's ``defaultLifetimeInMinutes`` and must lie
  within its minimum and maximum: ``400 badRequest`` "Invalid LifetimeInMinutes specified. The
  valid range between 60 and 480." (Graph's answer, recorded in microsoft-graph-docs PR 12187).
- A multi-use pass "can only be created ... if it is allowed by the" policy: with the
  policy's ``isUsableOnce: true`` an omitted ``isUsableOnce`` is true and ``false`` is a
  ``400 badRequest`` (the fake's message; Graph's is undocumented).
- The method disabled, or the user outside its include targets or in its exclude targets:
  ``400 badRequest`` "Converged UserCredentialPolicy does not allow creating or updating this
  authentication method. AuthMethodType [TemporaryAccessPass]." — the message Entra gives
  (MicrosoftDocs/azure-docs issue 111778; older pages said any user could get one). Its status
  and code are not documented: the fake uses those of the lifetime error.
- Permissions: UserAuthenticationMethod.ReadWrite.All or UserAuthMethod-TAP.ReadWrite.All to
  create and delete, also the .Read.All ones to read; delegated callers acting on another user
  need Authentication Administrator (non-admin targets), Privileged Authentication or Global
  Administrator (AU-scoped roles over direct non-admin members), Global Reader to read. Nobody
  creates their own pass (403, "except themselves"); deleting and reading one's own is allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..directory import User
from ..errors import GraphErrorResult, access_denied
from ..methods_policy import TemporaryAccessPass, new_pass
from . import admin_rules, lookups, permissions
from .context import GraphRequest, GraphResponse, no_content
from .permissions import require

TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
POLICY_REFUSAL = ("Converged UserCredentialPolicy does not allow creating or updating this "
                  "authentication method. AuthMethodType [TemporaryAccessPass].")
_BODY_KEYS = {"@odata.type", "startDateTime", "lifetimeInMinutes", "isUsableOnce"}
_READ_ONLY = {"id", "temporaryAccessPass", "createdDateTime", "isUsable",
              "methodUsabilityReason"}


def _bad(message: str) -> GraphErrorResult:
    return GraphErrorResult(400, "badRequest", message)


def _not_found() -> GraphErrorResult:
    return GraphErrorResult(404, "itemNotFound",
                            "The temporary access pass authentication method was not found.")


def stamp(moment: datetime) -> str:
    """A DateTimeOffset as Graph writes them: UTC, ``Z``, fractions only when there are any."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def tap_json(tap: TemporaryAccessPass, allowed: bool, with_pass: bool = False) -> dict[str, Any]:
    """The resource; ``allowed``: whether the policy enables the method for its user."""
    reason = tap.usability(allowed)
    return {"@odata.type": TAP_TYPE, "id": tap.id,
            "temporaryAccessPass": tap.value if with_pass else None,
            "createdDateTime": stamp(tap.created), "startDateTime": stamp(tap.start),
            "lifetimeInMinutes": tap.lifetime_minutes, "isUsableOnce": tap.is_usable_once,
            "isUsable": reason == "EnabledByPolicy", "methodUsabilityReason": reason}


def _authorize(req: GraphRequest, target: User, action: str) -> None:
    """``action``: ``read``, ``create`` or ``delete``."""
    caller = req.caller
    if not caller.app_only and caller.object_id == target.id:
        if action == "create":
            require(caller, permissions.DELETE_OWN_TAP_METHODS)
            raise access_denied()  # admins create passes for others, "except themselves"
        require(caller, permissions.READ_OWN_TAP_METHODS if action == "read"
                else permissions.DELETE_OWN_TAP_METHODS)
        return
    require(caller, permissions.READ_TAP_METHODS if action == "read"
            else permissions.WRITE_TAP_METHODS)
    if caller.app_only:
        return
    check = admin_rules.may_read_methods if action == "read" else admin_rules.may_manage_methods
    if not check(req.directory, caller.object_id, target.id):
        raise access_denied()


def _context(req: GraphRequest, user: User, entity: bool) -> str:
    suffix = "/$entity" if entity else ""
    return req.context_url(f"users('{user.id}')/authentication/temporaryAccessPassMethods"
                           f"{suffix}")


def _lifetime(value: Any, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"Invalid LifetimeInMinutes specified. The valid range between {low} and "
                   f"{high}.")
    return value


def _start(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(f"Invalid startDateTime '{value}': use an ISO 8601 date and time.")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _body(req: GraphRequest) -> dict[str, Any]:
    body = req.body if req.body is not None else {}
    if not isinstance(body, dict):
        raise GraphErrorResult(400, "invalidRequest", "The body must be a JSON object.")
    for key, value in body.items():
        if key in _READ_ONLY:
            raise GraphErrorResult(400, "invalidRequest",
                                   f"Property '{key}' is read-only: don't send it.")
        if key not in _BODY_KEYS:
            raise GraphErrorResult(400, "invalidRequest",
                                   f"Property '{key}' does not exist as a declared property of "
                                   "temporaryAccessPassAuthenticationMethod.")
        if key == "@odata.type" and value != TAP_TYPE:
            raise GraphErrorResult(400, "invalidRequest",
                                   f"Invalid @odata.type '{value}' for a Temporary Access Pass.")
    return body


async def create(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, "create")
    body = _body(req)
    directory = req.directory
    policy = directory.methods_policy.temporary_access_pass
    if not directory.tap_allowed(user.id):
        raise _bad(POLICY_REFUSAL)
    lifetime = _lifetime(body.get("lifetimeInMinutes"), policy.minimum_lifetime,
                         policy.maximum_lifetime, policy.default_lifetime)
    once = body.get("isUsableOnce")
    if once is not None and not isinstance(once, bool):
        raise _bad("Invalid value for isUsableOnce: true or false.")
    if once is False and policy.is_usable_once:
        raise _bad("The Temporary Access Pass policy allows only one-time passes: "
                   "isUsableOnce can't be false.")
    tap = new_pass(policy, _start(body.get("startDateTime")), lifetime,
                   policy.is_usable_once if once is None else once)
    user.temporary_access_pass = tap  # replaces any pass the user had
    location = (f"{req.base_url}/v1.0/users/{user.id}/authentication/"
                f"temporaryAccessPassMethods/{tap.id}")
    return GraphResponse(status=201, headers={"Location": location},
                         body={"@odata.context": _context(req, user, entity=True)}
                         | tap_json(tap, True, with_pass=True))


async def list_passes(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, "read")
    tap = user.temporary_access_pass
    value = [] if tap is None else [tap_json(tap, req.directory.tap_allowed(user.id))]
    return GraphResponse(body={"@odata.context": _context(req, user, entity=False),
                               "value": value})


def _pass(user: User, method_id: str) -> TemporaryAccessPass:
    tap = user.temporary_access_pass
    if tap is None or tap.id != method_id.lower():
        raise _not_found()
    return tap


async def get_pass(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, "read")
    tap = _pass(user, req.params["method"])
    return GraphResponse(body={"@odata.context": _context(req, user, entity=True)}
                         | tap_json(tap, req.directory.tap_allowed(user.id)))


async def delete_pass(req: GraphRequest) -> GraphResponse:
    user = lookups.user(req)
    _authorize(req, user, "delete")
    _pass(user, req.params["method"])
    user.temporary_access_pass = None
    return no_content()
