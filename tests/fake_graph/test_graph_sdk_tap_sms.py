"""Conformance: the real msgraph-sdk against fake_graph for Temporary Access Passes, the TAP
and SMS method configurations, and SMS sign-in on / off (builders used as documented).

Learn: https://learn.microsoft.com/graph/api/authentication-post-temporaryaccesspassmethods,
https://learn.microsoft.com/graph/api/temporaryaccesspassauthenticationmethodconfiguration-get,
https://learn.microsoft.com/graph/api/smsauthenticationmethodconfiguration-get,
https://learn.microsoft.com/graph/api/phoneauthenticationmethod-enablesmssignin,
https://learn.microsoft.com/graph/api/phoneauthenticationmethod-disablesmssignin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graph_support import (
    Served,
    app_token,
    graph_client,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from fake_graph.directory import PHONE_METHOD_IDS
from fake_graph.graph.auth_methods import SMS_REFUSAL
from fake_graph.graph.temporary_access_pass import POLICY_REFUSAL

BOB = uid("bob@contoso.test")
JUDY = uid("judy@contoso.test")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


async def test_temporary_access_pass_builders(served: Served) -> None:
    from msgraph.generated.models.temporary_access_pass_authentication_method import (
        TemporaryAccessPassAuthenticationMethod,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    passes = client.users.by_user_id(BOB).authentication.temporary_access_pass_methods
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    created = await passes.post(TemporaryAccessPassAuthenticationMethod(
        start_date_time=start, lifetime_in_minutes=120, is_usable_once=True))
    assert created is not None and created.temporary_access_pass
    assert (created.lifetime_in_minutes, created.is_usable_once, created.start_date_time) == (
        120, True, start)
    assert (created.is_usable, created.method_usability_reason) == (False, "NotYetValid")
    tap = served.fake.directory.users[BOB].temporary_access_pass
    assert tap is not None and tap.value == created.temporary_access_pass

    listed = await passes.get()
    assert [(p.id, p.temporary_access_pass) for p in listed.value] == [(created.id, None)]
    one = await passes.by_temporary_access_pass_authentication_method_id(created.id).get()
    assert (one.id, one.lifetime_in_minutes, one.temporary_access_pass) == (created.id, 120, None)

    # the defaults: an empty body
    again = await passes.post(TemporaryAccessPassAuthenticationMethod())
    assert again.id != created.id and again.lifetime_in_minutes == 60 and again.is_usable
    assert await passes.by_temporary_access_pass_authentication_method_id(again.id) \
        .delete() is None
    assert (await passes.get()).value == []


async def test_temporary_access_pass_refusals_are_odata_errors(served: Served) -> None:
    from msgraph.generated.models.temporary_access_pass_authentication_method import (
        TemporaryAccessPassAuthenticationMethod,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    passes = client.users.by_user_id(BOB).authentication.temporary_access_pass_methods
    with pytest.raises(ODataError) as err:
        await passes.post(TemporaryAccessPassAuthenticationMethod(lifetime_in_minutes=5))
    assert (err.value.response_status_code, err.value.error.code) == (400, "badRequest")
    served.fake.directory.methods_policy.temporary_access_pass.state = "disabled"
    with pytest.raises(ODataError) as err:
        await passes.post(TemporaryAccessPassAuthenticationMethod())
    assert err.value.error.message == POLICY_REFUSAL


async def test_method_configurations(served: Served) -> None:
    from msgraph.generated.models.sms_authentication_method_configuration import (
        SmsAuthenticationMethodConfiguration,
    )
    from msgraph.generated.models.temporary_access_pass_authentication_method_configuration import (
        TemporaryAccessPassAuthenticationMethodConfiguration,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    configurations = client.policies.authentication_methods_policy \
        .authentication_method_configurations
    tap = await configurations.by_authentication_method_configuration_id(
        "TemporaryAccessPass").get()
    assert isinstance(tap, TemporaryAccessPassAuthenticationMethodConfiguration)
    assert (tap.state.value, tap.default_lifetime_in_minutes, tap.minimum_lifetime_in_minutes,
            tap.maximum_lifetime_in_minutes, tap.is_usable_once, tap.default_length) == (
        "enabled", 60, 60, 480, False, 8)
    assert [(t.target_type.value, t.id) for t in tap.include_targets] == [("group", "all_users")]
    sms = await configurations.by_authentication_method_configuration_id("Sms").get()
    assert isinstance(sms, SmsAuthenticationMethodConfiguration)
    assert [(t.id, t.is_usable_for_sign_in) for t in sms.include_targets] == [
        ("all_users", True)]
    assert sms.exclude_targets == []


async def test_sms_sign_in_on_and_off(served: Served) -> None:
    client = graph_client(served.base_url, app_token(served.fake))
    mobile = client.users.by_user_id(JUDY).authentication.phone_methods \
        .by_phone_authentication_method_id(PHONE_METHOD_IDS["mobile"])
    served.fake.directory.users[JUDY].phones["mobile"].number = "+1 2065550177"
    assert await mobile.enable_sms_sign_in.post() is None
    assert (await mobile.get()).sms_sign_in_state.value == "ready"
    assert await mobile.disable_sms_sign_in.post() is None
    assert (await mobile.get()).sms_sign_in_state.value == "notEnabled"
    served.fake.directory.methods_policy.sms.state = "disabled"
    assert (await mobile.get()).sms_sign_in_state.value == "notAllowedByPolicy"
    with pytest.raises(ODataError) as err:
        await mobile.enable_sms_sign_in.post()
    assert (err.value.response_status_code, err.value.error.code,
            err.value.error.message) == (400, "badRequest", SMS_REFUSAL)
