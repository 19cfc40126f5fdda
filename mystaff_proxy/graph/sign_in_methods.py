"""Temporary Access Pass and SMS sign-in on Graph: shapes, and the calls that change them.

A Temporary Access Pass (TAP) lets someone who lost their phone sign in and register a new
method: ``POST /users/{id}/authentication/temporaryAccessPassMethods`` answers the pass once;
a user has one at most (a new one replaces it); its lifetime and one-time use are bounded by
the tenant's TAP method configuration (``GET /policies/authenticationMethodsPolicy/
authenticationMethodConfigurations/TemporaryAccessPass``), which also says who may have one.
SMS sign-in is a state of the mobile phone method (``smsSignInState``), switched with
``enableSmsSignIn`` / ``disableSmsSignIn`` (204). Learn: temporaryAccessPassAuthenticationMethod,
temporaryAccessPassAuthenticationMethodConfiguration, phoneAuthenticationMethod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mystaff_proxy.graph.client import BatchRequest, GraphClient, GraphResponse, raise_for
from mystaff_proxy.graph.exceptions import GraphConflict, GraphUnavailable

PASS_POLICY_PATH = ("/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/"
                    "TemporaryAccessPass")
MOBILE_METHOD_ID = "3179e48a-750b-4051-897c-87b9720928f7"
ALL_USERS = "all_users"


#: smsSignInState values that mean SMS sign-in cannot work (values, not errors: Graph answers
#: the switch 204 and shows the state).
SMS_BLOCKING_STATES = frozenset({"phoneNumberNotUnique", "notAllowedByPolicy", "notSupported",
                                 "notConfigured"})


class SmsSignInRefused(GraphConflict):
    """Graph took the switch but the mobile's state says SMS sign-in cannot work."""

    def __init__(self, state: str) -> None:
        super().__init__(409, state, f"SMS sign-in is {state}")
        self.state = state


@dataclass(frozen=True)
class AccessPass:
    """A user's pass as Graph lists it: never the pass itself (Graph answers it only once)."""

    id: str
    created: str | None
    start: str | None
    lifetime_minutes: int | None
    usable_once: bool | None
    usable: bool | None
    usability_reason: str | None


@dataclass(frozen=True)
class IssuedPass:
    """What a new pass is, shown once to the manager."""

    code: str
    start: str | None
    lifetime_minutes: int
    usable_once: bool


@dataclass(frozen=True)
class PassPolicy:
    """The tenant's TAP method configuration: whether passes exist, their bounds, and for whom
    (group ids, or ``all_users``)."""

    enabled: bool
    default_lifetime: int
    minimum_lifetime: int
    maximum_lifetime: int
    usable_once: bool  # the tenant makes every pass one-time
    include: frozenset[str]
    exclude: frozenset[str]

    def applies_to(self, group_ids: frozenset[str]) -> bool:
        """Whether a user in these (transitive) groups may be given a pass."""
        if not self.enabled or not self.exclude.isdisjoint(group_ids):
            return False
        return ALL_USERS in self.include or not self.include.isdisjoint(group_ids)

    def lifetime(self, wanted: int) -> int:
        return max(self.minimum_lifetime, min(self.maximum_lifetime, wanted))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def access_pass(resp: GraphResponse) -> AccessPass | None:
    """The user's pass from the list (one at most), or None. Unreadable answers raise."""
    body = raise_for(resp).body
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise GraphUnavailable(502, "malformed", "Graph sent a malformed list of passes")
    items = [v for v in body["value"] if isinstance(v, dict)]
    if not items:
        return None
    v = items[0]
    return AccessPass(id=str(v.get("id", "")), created=_str(v.get("createdDateTime")),
                      start=_str(v.get("startDateTime")),
                      lifetime_minutes=_int(v.get("lifetimeInMinutes")),
                      usable_once=_bool(v.get("isUsableOnce")), usable=_bool(v.get("isUsable")),
                      usability_reason=_str(v.get("methodUsabilityReason")))


def _targets(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        raise GraphUnavailable(502, "malformed", "Graph sent malformed policy targets")
    return frozenset(str(t.get("id", "")).lower() for t in value if isinstance(t, dict))


def pass_policy(resp: GraphResponse) -> PassPolicy:
    body = raise_for(resp).body
    if not isinstance(body, dict):
        raise GraphUnavailable(502, "malformed", "Graph sent a malformed TAP configuration")
    minimum = _int(body.get("minimumLifetimeInMinutes")) or 60
    maximum = _int(body.get("maximumLifetimeInMinutes")) or 480
    return PassPolicy(
        enabled=str(body.get("state", "")).lower() == "enabled",
        default_lifetime=_int(body.get("defaultLifetimeInMinutes")) or minimum,
        minimum_lifetime=minimum, maximum_lifetime=max(minimum, maximum),
        usable_once=body.get("isUsableOnce") is True,
        include=_targets(body.get("includeTargets", [])),
        exclude=_targets(body.get("excludeTargets", [])))


def pass_requests(uid: str, *, with_pass: bool, with_policy: bool) -> list[BatchRequest]:
    """Sub-requests for the check's ``$batch`` (no round trip of their own)."""
    out = []
    if with_pass:
        out.append(BatchRequest("accessPass", "GET",
                                f"/users/{uid}/authentication/temporaryAccessPassMethods"))
    if with_policy:
        out.append(BatchRequest("passPolicy", "GET", PASS_POLICY_PATH))
    return out


async def issue_pass(client: GraphClient, uid: str, lifetime: int, usable_once: bool, *,
                     token: str | None) -> IssuedPass:
    """Create the user's pass (replacing one that exists). A POST: never sent twice."""
    resp = await client.request(
        "POST", f"users/{uid}/authentication/temporaryAccessPassMethods",
        body={"lifetimeInMinutes": lifetime, "isUsableOnce": usable_once},
        op="issue_pass", token=token)
    body = resp.body if isinstance(resp.body, dict) else {}
    code = body.get("temporaryAccessPass")
    if not isinstance(code, str) or not code:
        # Created, but the pass is not in the answer and cannot be read again: say so.
        error = GraphUnavailable(502, "malformed", "Graph's answer lacks the pass")
        error.unanswered_attempt = True
        raise error
    return IssuedPass(code=code, start=_str(body.get("startDateTime")),
                      lifetime_minutes=_int(body.get("lifetimeInMinutes")) or lifetime,
                      usable_once=body.get("isUsableOnce") is True)


async def remove_pass(client: GraphClient, uid: str, pass_id: str, *,
                      token: str | None) -> None:
    await client.request("DELETE", f"users/{uid}/authentication/temporaryAccessPassMethods/"
                         f"{pass_id}", op="remove_pass", token=token)


async def switch_sms_sign_in(client: GraphClient, uid: str, enable: bool, *,
                             token: str | None) -> str | None:
    """Enable or disable SMS sign-in on the mobile, then read its new state — both in one
    ``$batch`` (the read ``dependsOn`` the change): one round trip. Returns the new
    ``smsSignInState``; a refusal of the change raises."""
    action = "enableSmsSignIn" if enable else "disableSmsSignIn"
    path = f"/users/{uid}/authentication/phoneMethods/{MOBILE_METHOD_ID}"
    answers = await client.batch([
        BatchRequest("switch", "POST", f"{path}/{action}", body={}),
        BatchRequest("state", "GET", path, depends_on=("switch",)),
    ], op="sms_sign_in", retry=False, token=token)
    raise_for(answers["switch"])
    state = answers["state"]
    if state.status >= 400 or not isinstance(state.body, dict):
        return None  # switched; its new state could not be read back
    new_state = _str(state.body.get("smsSignInState"))
    if enable and new_state in SMS_BLOCKING_STATES:
        raise SmsSignInRefused(new_state)
    return new_state
