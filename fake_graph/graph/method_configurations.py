"""``GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}`` for the
two methods the fake models: ``TemporaryAccessPass`` and ``Sms`` (ids case-insensitive; any
other id is ``404 itemNotFound``).

Learn: "Get temporaryAccessPassAuthenticationMethodConfiguration",
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethodconfiguration-get,
and "Get smsAuthenticationMethodConfiguration",
https://learn.microsoft.com/graph/api/smsauthenticationmethodconfiguration-get: Policy.Read.All
(newer pages: Policy.Read.AuthenticationMethod) or Policy.ReadWrite.AuthenticationMethod;
delegated callers also need Global Reader, Authentication Policy Administrator or Global
Administrator. ``includeTargets`` come back expanded, as in Learn's samples.
"""

from __future__ import annotations

from typing import Any

from ..errors import GraphErrorResult, access_denied
from ..methods_policy import (
    SMS_CONFIGURATION_ID,
    TAP_CONFIGURATION_ID,
    MethodTarget,
    SmsPolicy,
    TemporaryAccessPassPolicy,
)
from . import admin_rules, permissions
from .context import GraphRequest, GraphResponse
from .permissions import require

TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
SMS_TYPE = "#microsoft.graph.smsAuthenticationMethodConfiguration"
_PATH = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations"


def _exclude(groups: list[str]) -> list[dict[str, Any]]:
    return [{"targetType": "group", "id": g} for g in groups]


def _target(target: MethodTarget, sms: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"targetType": "group", "id": target.id,
                           "isRegistrationRequired": False}
    if sms:
        out["isUsableForSignIn"] = target.usable_for_sign_in
    return out


def tap_json(policy: TemporaryAccessPassPolicy) -> dict[str, Any]:
    return {"@odata.type": TAP_TYPE, "id": TAP_CONFIGURATION_ID, "state": policy.state,
            "defaultLifetimeInMinutes": policy.default_lifetime,
            "defaultLength": policy.length,
            "minimumLifetimeInMinutes": policy.minimum_lifetime,
            "maximumLifetimeInMinutes": policy.maximum_lifetime,
            "isUsableOnce": policy.is_usable_once,
            "includeTargets": [_target(t, sms=False) for t in policy.include],
            "excludeTargets": _exclude(policy.exclude)}


def sms_json(policy: SmsPolicy) -> dict[str, Any]:
    return {"@odata.type": SMS_TYPE, "id": SMS_CONFIGURATION_ID, "state": policy.state,
            "includeTargets": [_target(t, sms=True) for t in policy.include],
            "excludeTargets": _exclude(policy.exclude)}


async def get_configuration(req: GraphRequest) -> GraphResponse:
    caller = req.caller
    require(caller, permissions.READ_AUTH_METHODS_POLICY)
    if not caller.app_only and not admin_rules.may_read_methods_policy(req.directory,
                                                                       caller.object_id):
        raise access_denied()
    wanted = req.params["configuration"].lower()
    policy = req.directory.methods_policy
    if wanted == TAP_CONFIGURATION_ID.lower():
        body, type_name = tap_json(policy.temporary_access_pass), TAP_TYPE
    elif wanted == SMS_CONFIGURATION_ID.lower():
        body, type_name = sms_json(policy.sms), SMS_TYPE
    else:
        raise GraphErrorResult(404, "itemNotFound",
                               f"The authentication method configuration "
                               f"'{req.params['configuration']}' was not found.")
    targets = req.context_url(f"{_PATH}('{body['id']}')/{type_name.lstrip('#')}/includeTargets")
    return GraphResponse(body={
        "@odata.context": req.context_url("authenticationMethodConfigurations/$entity"),
        **{k: v for k, v in body.items() if k != "includeTargets"},
        "includeTargets@odata.context": targets,
        "includeTargets": body["includeTargets"]})
