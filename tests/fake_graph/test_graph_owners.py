"""Ownership over a socket: ``/applications``, ``/servicePrincipals`` and ``/groups`` with
``$expand=owners`` (at most 20 owners expanded, at most 100 items a page), their ``/owners``
(paged beyond 20), ``/users/{id}/ownedObjects`` (delegated only), permissions, ``$batch``,
``/_fake/reset`` and msgraph-sdk conformance."""

from __future__ import annotations

from typing import Any

import pytest
from graph_support import (
    NOROLE_APP,
    PROXY_APP,
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

from fake_graph.directory import Application, User, derive_id

OLIVE = uid("olive@contoso.test")
ERIN = uid("erin@contoso.test")
APP_OBJECT = derive_id("application", PROXY_APP)
APP_SP = derive_id("servicePrincipal", PROXY_APP)
HELPDESK = derive_id("group", "Helpdesk")
TIER_ZERO = derive_id("group", "Tier zero")
EXPAND = {"$select": "id", "$expand": "owners($select=id)"}
EVENTUAL_HEADERS = {"ConsistencyLevel": "eventual"}
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


def user_ref(user_id: str) -> dict[str, str]:
    return {"@odata.type": "#microsoft.graph.user", "id": user_id}


async def get(served: Served, path: str, params: dict[str, str] | None = None,
              token: str | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, body, _ = await served.call("GET", path, token=token or app_token(served.fake),
                                        params=params, headers=headers)
    return status, body


async def all_pages(served: Served, path: str, params: dict[str, str],
                    token: str | None = None) -> tuple[list[dict[str, Any]], int]:
    status, body = await get(served, path, params, token)
    assert status == 200, body
    items, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        assert body["@odata.nextLink"].startswith(served.base_url + "/v1.0/")
        status, body = await get(served, body["@odata.nextLink"], token=token)
        assert status == 200, body
        items += body["value"]
        pages += 1
    return items, pages


def add_owners(served: Served, count: int) -> list[str]:
    """``count`` new users, made owners of the proxy's application object (after Olive)."""
    directory = served.fake.directory
    app = directory.applications[PROXY_APP]
    for n in range(count):
        upn = f"owner{n:02d}@{directory.tenant.domain}"
        user = User(id=uid(upn), user_principal_name=upn, display_name=f"Owner {n:02d}",
                    password="Owner-Passw0rd!")
        directory.add_user(user)
        app.owners.append(user.id)
    return list(app.owners)


# -- applications and service principals ---------------------------------------------------


async def test_applications_expand_owners(served: Served) -> None:
    status, body = await get(served, "/applications", EXPAND)
    assert status == 200, body
    assert body["@odata.context"] == (
        f"{served.base_url}/v1.0/$metadata#applications(id,owners(id))")
    by_id = {a["id"]: a for a in body["value"]}
    assert len(by_id) == len(served.fake.directory.applications)
    assert by_id[APP_OBJECT] == {"@odata.type": "#microsoft.graph.application",
                                 "id": APP_OBJECT, "owners": [user_ref(OLIVE)]}
    assert all(a["owners"] == [] for i, a in by_id.items() if i != APP_OBJECT)
    # Without a nested $select the owners are whole users.
    _, full = await get(served, "/applications", {"$filter": f"appId eq '{PROXY_APP}'",
                                                  "$expand": "owners"})
    [app] = full["value"]
    assert app["appId"] == PROXY_APP and app["displayName"] == "mystaff proxy"
    assert app["owners"][0]["userPrincipalName"] == "olive@contoso.test"


async def test_service_principals_expand_owners(served: Served) -> None:
    status, body = await get(served, "/servicePrincipals", EXPAND)
    assert status == 200, body
    assert body["@odata.context"].endswith("$metadata#servicePrincipals(id,owners(id))")
    by_id = {s["id"]: s for s in body["value"]}
    assert by_id[APP_SP]["@odata.type"] == "#microsoft.graph.servicePrincipal"
    assert by_id[APP_SP]["owners"] == [user_ref(ERIN), user_ref(OLIVE)]
    status, sp = await get(served, f"/servicePrincipals/{APP_SP}")
    assert status == 200 and sp["appId"] == PROXY_APP
    assert sp["servicePrincipalType"] == "Application"
    assert sp["appOwnerOrganizationId"] == served.fake.directory.tenant.id
    # The token's oid is this object.
    assert served.fake.directory.service_principal(APP_SP) is not None


async def test_role_assignable_groups_expand_owners_without_consistency_level(
        served: Served) -> None:
    params = {"$filter": "isAssignableToRole eq true"} | EXPAND
    status, body = await get(served, "/groups", params)
    assert status == 200, body
    assert body["@odata.context"].endswith("$metadata#groups(id,owners(id))")
    assert {g["id"]: g["owners"] for g in body["value"]} == {
        HELPDESK: [user_ref(ERIN)], TIER_ZERO: [user_ref(OLIVE)]}
    assert all(set(g) == {"@odata.type", "id", "owners"} for g in body["value"])
    items, pages = await all_pages(served, "/groups", params | {"$top": "1"})
    assert (len(items), pages) == (2, 2)
    status, group = await get(served, f"/groups/{TIER_ZERO}", {"$expand": "owners"})
    assert status == 200 and group["owners"][0]["displayName"] == "Olive Owner"


async def test_applications_page_with_absolute_next_link(served: Served) -> None:
    items, pages = await all_pages(served, "/applications", EXPAND | {"$top": "2"})
    assert len(items) == len({i["id"] for i in items}) == 5
    assert pages == 3


async def test_expand_holds_at_most_20_owners_and_owners_pages_beyond(served: Served) -> None:
    owners = add_owners(served, 24)  # Olive + 24
    _, body = await get(served, "/applications", {"$filter": f"id eq '{APP_OBJECT}'"} | EXPAND)
    [app] = body["value"]
    assert app["owners"] == [user_ref(o) for o in owners[:20]]
    assert "owners@odata.nextLink" not in app
    # The relationship itself has them all, paged.
    path = f"/applications/{APP_OBJECT}/owners"
    items, pages = await all_pages(served, path, {"$select": "id", "$top": "10"})
    assert [i["id"] for i in items] == owners and pages == 3
    _, first = await get(served, path)
    assert len(first["value"]) == 25 and "@odata.nextLink" not in first
    assert first["@odata.context"].endswith("$metadata#directoryObjects")
    status, users = await get(served, path + "/microsoft.graph.user",
                              {"$count": "true"}, headers=EVENTUAL_HEADERS)
    assert status == 200 and users["@odata.count"] == 25


async def test_a_page_with_expand_holds_at_most_100_items(served: Served) -> None:
    directory = served.fake.directory
    for n in range(120):
        client_id = f"00000000-0000-4000-8000-{n:012d}"
        directory.applications[client_id] = Application(
            client_id=client_id, display_name=f"app {n}",
            service_principal_id=derive_id("servicePrincipal", client_id))
    _, body = await get(served, "/applications", EXPAND | {"$top": "999"})
    assert len(body["value"]) == 100 and "@odata.nextLink" in body
    _, plain = await get(served, "/applications", {"$select": "id", "$top": "999"})
    assert len(plain["value"]) == 125 and "@odata.nextLink" not in plain


async def test_owners_endpoints(served: Served) -> None:
    for path, expected in ((f"/applications/{APP_OBJECT}/owners", [OLIVE]),
                           (f"/servicePrincipals/{APP_SP}/owners", [ERIN, OLIVE]),
                           (f"/groups/{HELPDESK}/owners", [ERIN]),
                           (f"/groups/{derive_id('group', 'Managers')}/owners", [])):
        status, body = await get(served, path)
        assert status == 200, (path, body)
        assert [o["id"] for o in body["value"]] == expected, path
        assert all(o["@odata.type"] == "#microsoft.graph.user" for o in body["value"])
    # Object ids only: an appId or a service principal id is not an application.
    for path in (f"/applications/{PROXY_APP}", f"/applications/{APP_SP}/owners",
                 f"/servicePrincipals/{APP_OBJECT}"):
        status, body = await get(served, path)
        assert (status, body["error"]["code"]) == (404, "Request_ResourceNotFound"), path


async def test_expand_rules(served: Served) -> None:
    eventual = EVENTUAL_HEADERS
    # $expand is refused in advanced queries...
    status, body = await get(served, "/applications", EXPAND | {"$count": "true"},
                             headers=eventual)
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    status, body = await get(served, "/groups", {"$search": '"displayName:tier"'} | EXPAND,
                             headers=eventual)
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    # ... on endpoints that do not implement it, and for unknown relationships.
    status, body = await get(served, "/users", {"$expand": "manager"})
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    status, body = await get(served, "/applications", {"$expand": "members"})
    assert (status, body["error"]["code"]) == (400, "Request_BadRequest")
    assert "members" in body["error"]["message"]
    status, body = await get(served, "/applications", {"$expand": "owners($filter=id eq 'x')"})
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    status, body = await get(served, "/applications", {"$expand": "owners($select=id"})
    assert status == 400
    # Case-insensitive relationship name, as Graph's.
    status, _ = await get(served, "/applications", {"$expand": "Owners"})
    assert status == 200


async def test_application_permissions(served: Served) -> None:
    fake = served.fake
    for roles in (["Application.Read.All"], ["Application.ReadWrite.All"],
                  ["Directory.Read.All"]):
        token = app_token(fake, NOROLE_APP, roles=roles)
        for path in ("/applications", "/servicePrincipals", f"/applications/{APP_OBJECT}",
                     f"/servicePrincipals/{APP_SP}/owners"):
            status, body = await get(served, path, token=token)
            assert status == 200, (roles, path, body)
    reader = app_token(fake, READER_APP)
    for path in ("/applications", "/servicePrincipals", f"/applications/{APP_OBJECT}/owners",
                 "/groups"):
        status, body = await get(served, path, token=reader)
        assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied"), path
    # Application.ReadWrite.OwnedBy: only what this app owns (nothing: owners are users).
    owned_by = app_token(fake, NOROLE_APP, roles=["Application.ReadWrite.OwnedBy"])
    status, body = await get(served, "/applications", token=owned_by)
    assert status == 200 and body["value"] == []
    status, _ = await get(served, f"/applications/{APP_OBJECT}", token=owned_by)
    assert status == 404
    # Group owners: GroupMember.Read.All is enough.
    status, body = await get(served, f"/groups/{HELPDESK}/owners",
                             token=app_token(fake, NOROLE_APP, roles=["GroupMember.Read.All"]))
    assert status == 200 and body["value"][0]["id"] == ERIN


async def test_owners_the_caller_may_not_read_come_back_limited(served: Served) -> None:
    token = app_token(served.fake, NOROLE_APP, roles=["Application.Read.All"])
    _, body = await get(served, "/applications", {"$expand": "owners"}, token=token)
    [owner] = next(a for a in body["value"] if a["id"] == APP_OBJECT)["owners"]
    assert owner["id"] == OLIVE and owner["@odata.type"] == "#microsoft.graph.user"
    assert owner["userPrincipalName"] is None and owner["displayName"] is None


# -- ownedObjects --------------------------------------------------------------------------


async def test_owned_objects_delegated(served: Served) -> None:
    fake = served.fake
    token = user_token(fake, "olive@contoso.test", ["Directory.Read.All"])
    status, body = await get(served, f"/users/{OLIVE}/ownedObjects", token=token)
    assert status == 200, body
    assert body["@odata.context"].endswith("$metadata#directoryObjects")
    kinds = {o["@odata.type"]: o for o in body["value"]}
    assert set(kinds) == {"#microsoft.graph.application", "#microsoft.graph.servicePrincipal",
                          "#microsoft.graph.group"}
    assert kinds["#microsoft.graph.application"]["id"] == APP_OBJECT
    assert kinds["#microsoft.graph.application"]["appId"] == PROXY_APP
    assert kinds["#microsoft.graph.servicePrincipal"]["id"] == APP_SP
    assert kinds["#microsoft.graph.group"]["id"] == TIER_ZERO
    status, apps = await get(served, f"/users/{OLIVE}/ownedObjects/microsoft.graph.application",
                             token=token)
    assert status == 200 and [a["id"] for a in apps["value"]] == [APP_OBJECT]
    assert apps["@odata.context"].endswith("$metadata#applications")
    status, nothing = await get(served, f"/users/{OLIVE}/ownedObjects/graph.user", token=token)
    assert status == 200 and nothing["value"] == []
    # User.Read: one's own objects, with only @odata.type and id for types it cannot read.
    own = user_token(fake, "olive@contoso.test", ["User.Read"])
    status, body = await get(served, "/users/olive@contoso.test/ownedObjects", token=own)
    assert status == 200 and len(body["value"]) == 3
    app = next(o for o in body["value"] if o["@odata.type"] == "#microsoft.graph.application")
    assert app["id"] == APP_OBJECT and app["appId"] is None
    status, body = await get(served, f"/users/{ERIN}/ownedObjects", token=own)
    assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied")
    other = user_token(fake, "alice@contoso.test", ["User.Read.All"])
    status, body = await get(served, f"/users/{ERIN}/ownedObjects", token=other)
    assert status == 200
    assert {o["id"] for o in body["value"]} == {APP_SP, HELPDESK}


async def test_owned_objects_refuses_app_only_tokens(served: Served) -> None:
    status, body = await get(served, f"/users/{OLIVE}/ownedObjects")
    assert status == 403, body
    assert body["error"]["code"] == "Authorization_RequestDenied"
    assert body["error"]["message"] == "Insufficient privileges to complete the operation."
    status, _ = await get(served, f"/users/{OLIVE}/ownedObjects",
                          token=app_token(served.fake, roles=["Directory.ReadWrite.All"]))
    assert status == 403


# -- $batch and reset ----------------------------------------------------------------------


async def test_owner_reads_inside_batch(served: Served) -> None:
    requests = [
        {"id": "apps", "method": "GET",
         "url": "/applications?$select=id&$expand=owners($select=id)"},
        {"id": "sps", "method": "GET",
         "url": "servicePrincipals?$select=id&$expand=owners($select=id)"},
        {"id": "groups", "method": "GET",
         "url": "/groups?$filter=isAssignableToRole eq true&$select=id"
                "&$expand=owners($select=id)"},
        {"id": "owned", "method": "GET", "url": f"/users/{OLIVE}/ownedObjects"},
    ]
    status, body, _ = await served.call("POST", "/$batch", token=app_token(served.fake),
                                        json={"requests": requests})
    assert status == 200, body
    answers = {r["id"]: r for r in body["responses"]}
    assert {k: v["status"] for k, v in answers.items()} == {
        "apps": 200, "sps": 200, "groups": 200, "owned": 403}
    apps = {a["id"]: a["owners"] for a in answers["apps"]["body"]["value"]}
    assert apps[APP_OBJECT] == [user_ref(OLIVE)]
    groups = {g["id"]: g["owners"] for g in answers["groups"]["body"]["value"]}
    assert groups[TIER_ZERO] == [user_ref(OLIVE)]
    assert answers["owned"]["body"]["error"]["code"] == "Authorization_RequestDenied"


async def test_fake_reset_restores_owners(served: Served) -> None:
    directory = served.fake.directory
    directory.applications[PROXY_APP].owners.clear()
    directory.groups[TIER_ZERO].owners.clear()
    async with served.session.post(served.base_url + "/_fake/reset") as resp:
        assert resp.status == 204
    _, body = await get(served, f"/applications/{APP_OBJECT}/owners")
    assert [o["id"] for o in body["value"]] == [OLIVE]
    _, body = await get(served, f"/groups/{TIER_ZERO}/owners")
    assert [o["id"] for o in body["value"]] == [OLIVE]


# -- msgraph-sdk ---------------------------------------------------------------------------


async def test_sdk_applications_with_expanded_owners(served: Served) -> None:
    from msgraph.generated.applications.applications_request_builder import (
        ApplicationsRequestBuilder,
    )

    add_owners(served, 24)
    client = graph_client(served.base_url, app_token(served.fake))
    query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        select=["id", "appId"], expand=["owners($select=id)"], top=2)
    page = await client.applications.get(RequestConfiguration(query_parameters=query))
    assert page is not None and page.value is not None
    seen = list(page.value)
    while page.odata_next_link:
        page = await client.applications.with_url(page.odata_next_link).get()
        assert page is not None and page.value is not None
        seen += page.value
    assert len(seen) == 5
    proxy = next(a for a in seen if a.app_id == PROXY_APP)
    assert proxy.id == APP_OBJECT and proxy.owners is not None
    assert len(proxy.owners) == 20
    assert type(proxy.owners[0]).__name__ == "User" and proxy.owners[0].id == OLIVE
    owners = await client.applications.by_application_id(APP_OBJECT).owners.get()
    assert owners is not None and owners.value is not None and len(owners.value) == 25


async def test_sdk_service_principals_and_groups(served: Served) -> None:
    from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
    from msgraph.generated.service_principals.service_principals_request_builder import (
        ServicePrincipalsRequestBuilder,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    sp_query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        select=["id"], expand=["owners($select=id)"])
    sps = await client.service_principals.get(RequestConfiguration(query_parameters=sp_query))
    assert sps is not None and sps.value is not None
    proxy = next(s for s in sps.value if s.id == APP_SP)
    assert [o.id for o in proxy.owners or []] == [ERIN, OLIVE]
    group_query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
        filter="isAssignableToRole eq true", select=["id"], expand=["owners($select=id)"])
    groups = await client.groups.get(RequestConfiguration(query_parameters=group_query))
    assert groups is not None and groups.value is not None
    assert {g.id: [o.id for o in g.owners or []] for g in groups.value} == {
        HELPDESK: [ERIN], TIER_ZERO: [OLIVE]}


async def test_sdk_owned_objects(served: Served) -> None:
    fake = served.fake
    delegated = graph_client(served.base_url,
                             user_token(fake, "olive@contoso.test", ["Directory.Read.All"]))
    owned = await delegated.users.by_user_id(OLIVE).owned_objects.get()
    assert owned is not None and owned.value is not None
    assert sorted(type(o).__name__ for o in owned.value) == [
        "Application", "Group", "ServicePrincipal"]
    apps = await delegated.users.by_user_id(OLIVE).owned_objects.graph_application.get()
    assert apps is not None and [a.app_id for a in apps.value or []] == [PROXY_APP]
    app_only = graph_client(served.base_url, app_token(fake))
    with pytest.raises(ODataError) as raised:
        await app_only.users.by_user_id(OLIVE).owned_objects.get()
    assert raised.value.response_status_code == 403
    assert raised.value.error is not None
    assert raised.value.error.code == "Authorization_RequestDenied"
