"""PIM eligibility reads: ``/roleManagement/directory/roleEligibilityScheduleInstances`` and
``/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances`` over a socket:
shapes, ``$filter``, the 400 without a scoping filter, ``pim_licensed: false``, permissions,
``$batch`` sub-requests, ``/_fake/reset``, and msgraph-sdk conformance."""

from __future__ import annotations

from typing import Any

import pytest
from graph_support import (
    NOROLE_APP,
    READER_APP,
    Served,
    app_token,
    graph_client,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from fake_graph.directory import PIM_START, ROLE_TEMPLATES, derive_id

ROLES = "/roleManagement/directory/roleEligibilityScheduleInstances"
GROUPS = "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances"
PIPER = uid("piper@contoso.test")
BOB = uid("bob@contoso.test")
ALICE = uid("alice@contoso.test")
TIER_ZERO = derive_id("group", "Tier zero")
GA = ROLE_TEMPLATES["Global Administrator"]
USER_ADMIN = ROLE_TEMPLATES["User Administrator"]
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


def eq(prop: str, value: str) -> dict[str, str]:
    return {"$filter": f"{prop} eq '{value}'"}


async def get(served: Served, path: str, params: dict[str, str] | None = None,
              token: str | None = None) -> tuple[int, Any]:
    status, body, _ = await served.call("GET", path, token=token or app_token(served.fake),
                                        params=params)
    return status, body


# -- directory roles -----------------------------------------------------------------------


async def test_role_eligibility_of_a_principal_has_graphs_shape(served: Served) -> None:
    status, body = await get(served, ROLES, eq("principalId", PIPER))
    assert status == 200, body
    assert body["@odata.context"] == (
        f"{served.base_url}/v1.0/$metadata#roleManagement/directory/"
        "roleEligibilityScheduleInstances")
    assert "@odata.nextLink" not in body
    by_role = {e["roleDefinitionId"]: e for e in body["value"]}
    assert set(by_role) == {GA, USER_ADMIN}
    ga = by_role[GA]
    assert list(ga) == ["id", "principalId", "roleDefinitionId", "directoryScopeId",
                        "appScopeId", "startDateTime", "endDateTime", "memberType",
                        "roleEligibilityScheduleId"]
    assert ga["principalId"] == PIPER and ga["directoryScopeId"] == "/"
    assert ga["appScopeId"] is None and ga["endDateTime"] is None
    assert ga["memberType"] == "Direct" and ga["startDateTime"] == PIM_START
    # Graph's id: base64url of the role and principal GUIDs, then "-1-e".
    assert ga["id"].endswith("-1-e") and len(ga["id"]) == 43 + 4
    assert len(ga["roleEligibilityScheduleId"]) == 36


async def test_role_eligibility_filters(served: Served) -> None:
    _, everyone = await get(served, ROLES)
    assert {e["principalId"] for e in everyone["value"]} == {PIPER}
    assert len(everyone["value"]) == 2
    _, none = await get(served, ROLES, eq("principalId", BOB))
    assert none["value"] == []
    _, by_role = await get(served, ROLES, eq("roleDefinitionId", USER_ADMIN))
    assert [e["roleDefinitionId"] for e in by_role["value"]] == [USER_ADMIN]
    _, both = await get(served, ROLES, {
        "$filter": f"principalId eq '{PIPER}' and roleDefinitionId eq '{GA}'"})
    assert [e["roleDefinitionId"] for e in both["value"]] == [GA]
    # A GUID literal without quotes is accepted too, as Graph accepts it.
    _, bare = await get(served, ROLES, {"$filter": f"principalId eq {PIPER}"})
    assert len(bare["value"]) == 2


async def test_role_eligibility_select_and_paging(served: Served) -> None:
    status, body = await get(served, ROLES, {"$select": "principalId,roleDefinitionId",
                                             "$top": "1"})
    assert status == 200, body
    assert body["@odata.context"].endswith(
        "roleEligibilityScheduleInstances(principalId,roleDefinitionId)")
    assert set(body["value"][0]) == {"id", "principalId", "roleDefinitionId"}
    assert body["@odata.nextLink"].startswith(served.base_url + "/v1.0" + ROLES + "?")
    status, second = await get(served, body["@odata.nextLink"])
    assert status == 200 and len(second["value"]) == 1
    assert "@odata.nextLink" not in second
    status, bad = await get(served, ROLES, {"$select": "nope"})
    assert status == 400 and bad["error"]["code"] == "Request_BadRequest"


@pytest.mark.parametrize("flt", ["principalId ne 'x'", f"principalId eq '{PIPER}' or "
                                 f"principalId eq '{BOB}'", "status eq 'Provisioned'"])
async def test_role_eligibility_unsupported_filters(served: Served, flt: str) -> None:
    status, body = await get(served, ROLES, {"$filter": flt})
    assert status == 400 and body["error"]["code"] == "Request_UnsupportedQuery", body


async def test_role_eligibility_permissions(served: Served) -> None:
    fake = served.fake
    for roles in (["RoleEligibilitySchedule.Read.Directory"],
                  ["RoleEligibilitySchedule.ReadWrite.Directory"], ["RoleManagement.Read.All"],
                  ["RoleManagement.Read.Directory"], ["RoleManagement.ReadWrite.Directory"]):
        status, body = await get(served, ROLES, token=app_token(fake, NOROLE_APP, roles=roles))
        assert status == 200, (roles, body)
    # Directory.Read.All reads role *assignments*, not PIM eligibilities.
    for roles in (["Directory.Read.All"], ["PrivilegedEligibilitySchedule.Read.AzureADGroup"]):
        status, body = await get(served, ROLES, token=app_token(fake, NOROLE_APP, roles=roles))
        assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied"), roles
    status, _ = await get(served, ROLES, token=app_token(fake, READER_APP))
    assert status == 403
    delegated = user_token(fake, "erin@contoso.test", ["RoleEligibilitySchedule.Read.Directory"])
    status, body = await get(served, ROLES, eq("principalId", PIPER), token=delegated)
    assert status == 200 and len(body["value"]) == 2


# -- PIM for Groups ------------------------------------------------------------------------


async def test_group_eligibility_by_principal_has_graphs_shape(served: Served) -> None:
    status, body = await get(served, GROUPS, eq("principalId", PIPER))
    assert status == 200, body
    assert body["@odata.context"] == (
        f"{served.base_url}/v1.0/$metadata#identityGovernance/privilegedAccess/group/"
        "eligibilityScheduleInstances")
    [item] = body["value"]
    assert list(item) == ["id", "startDateTime", "endDateTime", "accessId", "principalId",
                          "groupId", "memberType", "eligibilityScheduleId"]
    assert item["accessId"] == "member" and item["groupId"] == TIER_ZERO
    assert item["memberType"] == "direct" and item["endDateTime"] is None
    assert item["startDateTime"] == PIM_START
    assert item["id"].startswith(f"{TIER_ZERO}_member_")
    assert item["eligibilityScheduleId"] == item["id"]


async def test_group_eligibility_filters(served: Served) -> None:
    _, by_group = await get(served, GROUPS, eq("groupId", TIER_ZERO))
    assert sorted((e["accessId"], e["principalId"]) for e in by_group["value"]) == sorted(
        [("member", PIPER), ("member", BOB), ("owner", ALICE)])
    _, owners = await get(served, GROUPS, {
        "$filter": f"groupId eq '{TIER_ZERO}' and accessId eq 'owner'"})
    assert [e["principalId"] for e in owners["value"]] == [ALICE]
    _, both = await get(served, GROUPS, {
        "$filter": f"principalId eq '{BOB}' and groupId eq '{TIER_ZERO}'"})
    assert [e["accessId"] for e in both["value"]] == ["member"]
    _, none = await get(served, GROUPS, eq("principalId", uid("frank@contoso.test")))
    assert none["value"] == []
    status, body = await get(served, GROUPS, eq("groupId", TIER_ZERO) | {"$select": "accessId"})
    assert status == 200 and all(set(e) == {"id", "accessId"} for e in body["value"])


@pytest.mark.parametrize("params", [
    {}, {"$filter": "accessId eq 'member'"}, {"$select": "principalId"},
    {"$filter": f"principalId eq '{PIPER}' or accessId eq 'owner'"},
])
async def test_group_eligibility_needs_a_principal_or_group_filter(
        served: Served, params: dict[str, str]) -> None:
    status, body = await get(served, GROUPS, params)
    assert status == 400, body
    error = body["error"]
    if "or" in params.get("$filter", ""):
        assert error["code"] == "Request_UnsupportedQuery"  # 'or' is not supported at all
        return
    assert error["code"] == "BadRequest"
    assert error["message"] == ("This method requires the $filter (eq) query parameter to "
                                "scope the request to a principalId or a groupId.")
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_group_eligibility_permissions(served: Served) -> None:
    fake = served.fake
    for roles in (["PrivilegedEligibilitySchedule.Read.AzureADGroup"],
                  ["PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"]):
        status, _ = await get(served, GROUPS, eq("principalId", PIPER),
                              token=app_token(fake, NOROLE_APP, roles=roles))
        assert status == 200, roles
    for roles in (["Directory.Read.All", "RoleManagement.Read.All", "Group.Read.All"],
                  ["RoleEligibilitySchedule.Read.Directory"]):
        status, body = await get(served, GROUPS, eq("principalId", PIPER),
                                 token=app_token(fake, NOROLE_APP, roles=roles))
        assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied"), roles
    # The permission is checked before the filter.
    status, _ = await get(served, GROUPS, token=app_token(fake, READER_APP))
    assert status == 403


# -- the license ---------------------------------------------------------------------------


async def test_without_a_p2_license_both_reads_answer_aad_premium_license_required(
        served: Served) -> None:
    served.fake.directory.pim_licensed = False
    for path, params in ((ROLES, eq("principalId", PIPER)), (ROLES, {}),
                         (GROUPS, eq("principalId", PIPER))):
        status, body = await get(served, path, params)
        assert status == 400, (path, body)
        assert body["error"]["code"] == "AadPremiumLicenseRequired"
        assert body["error"]["message"] == "The tenant needs an AAD Premium 2 license."
        assert set(body["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
    # After the permission check: an app without the permission still gets 403.
    status, _ = await get(served, ROLES, token=app_token(served.fake, READER_APP))
    assert status == 403
    # Other role reads do not need P2.
    status, _ = await get(served, "/roleManagement/directory/roleAssignments")
    assert status == 200


# -- $batch and reset ----------------------------------------------------------------------


async def test_eligibility_reads_inside_batch(served: Served) -> None:
    requests = [
        {"id": "roles", "method": "GET",
         "url": f"{ROLES}?$filter=principalId eq '{PIPER}'"},
        {"id": "groups", "method": "GET",
         "url": f"{GROUPS}?$filter=principalId eq '{PIPER}'"},
        {"id": "unscoped", "method": "GET", "url": GROUPS},
    ]
    status, body, _ = await served.call("POST", "/$batch", token=app_token(served.fake),
                                        json={"requests": requests})
    assert status == 200, body
    answers = {r["id"]: r for r in body["responses"]}
    assert answers["roles"]["status"] == 200 and len(answers["roles"]["body"]["value"]) == 2
    assert answers["groups"]["status"] == 200
    assert answers["groups"]["body"]["value"][0]["groupId"] == TIER_ZERO
    assert answers["unscoped"]["status"] == 400
    assert answers["unscoped"]["body"]["error"]["code"] == "BadRequest"
    served.fake.directory.pim_licensed = False
    _, body, _ = await served.call("POST", "/$batch", token=app_token(served.fake),
                                   json={"requests": requests[:1]})
    assert body["responses"][0]["status"] == 400
    assert body["responses"][0]["body"]["error"]["code"] == "AadPremiumLicenseRequired"


async def test_fake_reset_restores_eligibilities_and_license(served: Served) -> None:
    directory = served.fake.directory
    directory.pim_licensed = False
    directory.role_eligibilities.clear()
    directory.group_eligibilities.clear()
    async with served.session.post(served.base_url + "/_fake/reset") as resp:
        assert resp.status == 204
    _, roles = await get(served, ROLES, eq("principalId", PIPER))
    assert len(roles["value"]) == 2
    _, groups = await get(served, GROUPS, eq("groupId", TIER_ZERO))
    assert len(groups["value"]) == 3


# -- msgraph-sdk ---------------------------------------------------------------------------


async def test_sdk_role_eligibility_schedule_instances(served: Served) -> None:
    from msgraph.generated.role_management.directory.role_eligibility_schedule_instances.role_eligibility_schedule_instances_request_builder import (  # noqa: E501
        RoleEligibilityScheduleInstancesRequestBuilder as Builder,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    query = Builder.RoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters(
        filter=f"principalId eq '{PIPER}'")
    page = await client.role_management.directory.role_eligibility_schedule_instances.get(
        RequestConfiguration(query_parameters=query))
    assert page is not None and page.value is not None
    assert {e.role_definition_id for e in page.value} == {GA, USER_ADMIN}
    first = page.value[0]
    assert first.principal_id == PIPER and first.directory_scope_id == "/"
    assert first.member_type == "Direct" and first.end_date_time is None
    assert first.start_date_time is not None and first.start_date_time.year == 2025


async def test_sdk_group_eligibility_schedule_instances(served: Served) -> None:
    from msgraph.generated.identity_governance.privileged_access.group.eligibility_schedule_instances.eligibility_schedule_instances_request_builder import (  # noqa: E501
        EligibilityScheduleInstancesRequestBuilder as Builder,
    )
    from msgraph.generated.models.privileged_access_group_member_type import (
        PrivilegedAccessGroupMemberType,
    )
    from msgraph.generated.models.privileged_access_group_relationships import (
        PrivilegedAccessGroupRelationships,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    instances = client.identity_governance.privileged_access.group.eligibility_schedule_instances
    query = Builder.EligibilityScheduleInstancesRequestBuilderGetQueryParameters(
        filter=f"groupId eq '{TIER_ZERO}'")
    page = await instances.get(RequestConfiguration(query_parameters=query))
    assert page is not None and page.value is not None
    by_principal = {e.principal_id: e for e in page.value}
    assert by_principal[ALICE].access_id == PrivilegedAccessGroupRelationships.Owner
    assert by_principal[PIPER].access_id == PrivilegedAccessGroupRelationships.Member
    assert by_principal[PIPER].member_type == PrivilegedAccessGroupMemberType.Direct
    with pytest.raises(ODataError) as raised:
        await instances.get()
    assert raised.value.response_status_code == 400
    assert raised.value.error is not None and raised.value.error.code == "BadRequest"
    served.fake.directory.pim_licensed = False
    with pytest.raises(ODataError) as raised:
        await instances.get(RequestConfiguration(query_parameters=query))
    assert raised.value.error is not None
    assert raised.value.error.code == "AadPremiumLicenseRequired"
