"""OData and routing rules: casts, ``//``, ConsistencyLevel, paging, $select, $filter, $search."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from graph_support import (
    BIG_UNIT,
    BIG_USERS,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    unit_id,
)

from fake_graph.directory import ROLE_TEMPLATES

SEATTLE = unit_id("Seattle store")
BIG = unit_id(BIG_UNIT)
EVENTUAL = {"ConsistencyLevel": "eventual"}


async def test_double_slashes_are_merged(served: Served) -> None:
    status, body, _ = await served.call("GET", f"//users//{uid('bob@contoso.test')}/",
                                        token=app_token(served.fake))
    assert status == 200
    assert body["userPrincipalName"] == "bob@contoso.test"
    assert served.fake.recorder.since(0)[0][-1].path.startswith("/v1.0//users//")


async def test_user_by_upn_and_key_syntax(served: Served) -> None:
    token = app_token(served.fake)
    for path in ("/users/bob@contoso.test", "/users/BOB%40contoso.test",
                 "/users('bob@contoso.test')"):
        status, body, _ = await served.call("GET", path, token=token)
        assert (status, body["id"]) == (200, uid("bob@contoso.test")), path


async def test_short_and_long_casts_are_accepted(served: Served) -> None:
    token = app_token(served.fake)
    for cast in ("graph.user", "microsoft.graph.user"):
        status, body, _ = await served.call(
            "GET", f"/directory/administrativeUnits/{SEATTLE}/members/{cast}", token=token,
            headers=EVENTUAL, params={"$count": "true"})
        assert status == 200, body
        assert {m["@odata.type"] for m in body["value"]} == {"#microsoft.graph.user"}
        assert body["@odata.count"] == 4


async def test_cast_needs_consistency_level_and_count(served: Served) -> None:
    token = app_token(served.fake)
    path = f"/directory/administrativeUnits/{SEATTLE}/members/graph.user"
    status, body, _ = await served.call("GET", path, token=token)
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    status, body, _ = await served.call("GET", path, token=token, headers=EVENTUAL)
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    # kiota lower-cases the header name; header names are case-insensitive.
    status, _, _ = await served.call("GET", path, token=token,
                                     headers={"consistencylevel": "eventual"},
                                     params={"$count": "true"})
    assert status == 200


async def test_search_and_count_need_consistency_level(served: Served) -> None:
    token = app_token(served.fake)
    status, body, _ = await served.call("GET", "/users", token=token,
                                        params={"$search": '"displayName:walk"'})
    assert status == 400
    assert body["error"]["message"].startswith("Request with $search query parameter only works")
    status, body, _ = await served.call("GET", "/users", token=token,
                                        params={"$count": "true"})
    assert (status, body["error"]["message"]) == (400, "$count is not currently supported.")
    status, body, _ = await served.call("GET", "/users", token=token, headers=EVENTUAL,
                                        params={"$search": '"displayName:walk"'})
    assert status == 200
    assert [u["displayName"] for u in body["value"]] == ["Frank Walker"]


async def test_ne_and_endswith_need_an_advanced_query(served: Served) -> None:
    token = app_token(served.fake)
    flt = {"$filter": "endswith(mail,'@contoso.test')"}
    status, body, _ = await served.call("GET", "/users", token=token, params=flt)
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")
    assert "ConsistencyLevel:eventual" in body["error"]["message"]
    status, body, _ = await served.call("GET", "/users", token=token, headers=EVENTUAL,
                                        params=flt)
    assert status == 400 and "$count" in body["error"]["message"]
    status, body, _ = await served.call("GET", "/users", token=token, headers=EVENTUAL,
                                        params=flt | {"$count": "true"})
    assert status == 200
    assert body["@odata.count"] == 2  # alice and bob have mail


async def test_basic_filters_on_users(served: Served) -> None:
    token = app_token(served.fake)
    status, body, _ = await served.call("GET", "/users", token=token,
                                        params={"$filter": "startswith(displayName,'bo')"})
    assert [u["userPrincipalName"] for u in body["value"]] == ["bob@contoso.test"]
    status, body, _ = await served.call(
        "GET", "/users", token=token,
        params={"$filter": "userPrincipalName in ('bob@contoso.test','ALICE@contoso.test') "
                           "and jobTitle eq 'Cashier'"})
    assert [u["userPrincipalName"] for u in body["value"]] == ["bob@contoso.test"]
    status, body, _ = await served.call("GET", "/users", token=token,
                                        params={"$filter": "city eq 'Seattle'"})
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")


async def test_filter_on_members_needs_an_advanced_query(served: Served) -> None:
    token = app_token(served.fake)
    path = f"/directory/administrativeUnits/{SEATTLE}/members/graph.user"
    flt = {"$filter": "startswith(userPrincipalName,'ju')"}
    status, body, _ = await served.call("GET", path, token=token, params=flt)
    assert status == 400
    status, body, _ = await served.call("GET", path, token=token, headers=EVENTUAL,
                                        params=flt | {"$count": "true"})
    assert [u["userPrincipalName"] for u in body["value"]] == ["judy@contoso.test"]


async def test_next_link_is_absolute_and_count_only_on_page_one(served: Served) -> None:
    token = app_token(served.fake)
    status, page, _ = await served.call(
        "GET", f"/directory/administrativeUnits/{BIG}/members/microsoft.graph.user",
        token=token, headers=EVENTUAL,
        params={"$count": "true", "$top": "100", "$select": "id,displayName"})
    assert status == 200
    assert page["@odata.count"] == BIG_USERS
    ids = [u["id"] for u in page["value"]]
    while "@odata.nextLink" in page:
        link = page["@odata.nextLink"]
        assert link.startswith(served.base_url + "/v1.0/directory/administrativeUnits/")
        assert parse_qs(urlsplit(link).query)["$select"] == ["id,displayName"]
        status, page, _ = await served.call("GET", link, token=token, headers=EVENTUAL)
        assert status == 200
        assert "@odata.count" not in page
        ids += [u["id"] for u in page["value"]]
        assert all(set(u) == {"@odata.type", "id", "displayName"} for u in page["value"])
    assert len(ids) == len(set(ids)) == BIG_USERS


async def test_a_tampered_skiptoken_is_refused(served: Served) -> None:
    token = app_token(served.fake)
    status, page, _ = await served.call("GET", "/users", token=token, params={"$top": "2"})
    link = page["@odata.nextLink"]
    status, body, _ = await served.call("GET", link.replace("$top=2", "$top=3"), token=token)
    assert (status, body["error"]["code"]) == (400, "Directory_ExpiredPageToken")


async def test_top_bounds(served: Served) -> None:
    token = app_token(served.fake)
    for top in ("0", "1000", "x"):
        status, body, _ = await served.call("GET", "/users", token=token, params={"$top": top})
        assert status == 400, top
    status, body, _ = await served.call("GET", "/users", token=token, params={"$top": "999"})
    assert status == 200 and "@odata.nextLink" not in body


async def test_default_page_size_is_100(served: Served) -> None:
    _status, body, _ = await served.call("GET", "/users", token=app_token(served.fake))
    assert len(body["value"]) == 100 and "@odata.nextLink" in body


async def test_default_user_properties_and_select(served: Served) -> None:
    token = app_token(served.fake)
    _, body, _ = await served.call("GET", "/users/bob@contoso.test", token=token)
    assert set(body) == {"@odata.context", "@odata.type", "businessPhones", "displayName",
                         "givenName", "id", "jobTitle", "mail", "mobilePhone", "officeLocation",
                         "preferredLanguage", "surname", "userPrincipalName"}
    _, body, _ = await served.call("GET", "/users/bob@contoso.test", token=token,
                                   params={"$select": "id,accountEnabled,passwordProfile"})
    assert body["accountEnabled"] is True and body["passwordProfile"] is None
    assert "password" not in str(body).replace("passwordProfile", "")
    status, body, _ = await served.call("GET", "/users/bob@contoso.test", token=token,
                                        params={"$select": "id,nonsense"})
    assert status == 400


async def test_odata_type_on_every_directory_object(served: Served) -> None:
    token = app_token(served.fake)
    _, members, _ = await served.call("GET", f"/directory/administrativeUnits/{SEATTLE}/members",
                                      token=token)
    assert {m["@odata.type"] for m in members["value"]} == {"#microsoft.graph.user",
                                                            "#microsoft.graph.group"}
    _, member_of, _ = await served.call("GET", f"/users/{uid('dave@contoso.test')}"
                                               "/transitiveMemberOf", token=token)
    assert {m["@odata.type"] for m in member_of["value"]} == {
        "#microsoft.graph.group", "#microsoft.graph.directoryRole",
        "#microsoft.graph.administrativeUnit"}
    for path in ("/users/bob@contoso.test", f"/directory/administrativeUnits/{SEATTLE}",
                 "/groups"):
        _, body, _ = await served.call("GET", path, token=token)
        for obj in body.get("value", [body]):
            assert obj["@odata.type"].startswith("#microsoft.graph."), path


async def test_member_of_lists_roles_groups_and_units(served: Served) -> None:
    token = app_token(served.fake)
    dave = uid("dave@contoso.test")
    _, direct, _ = await served.call("GET", f"/users/{dave}/memberOf", token=token)
    assert {m["@odata.type"] for m in direct["value"]} == {
        "#microsoft.graph.group", "#microsoft.graph.administrativeUnit"}
    _, roles, _ = await served.call("GET", f"/users/{uid('erin@contoso.test')}/memberOf/"
                                           "microsoft.graph.directoryRole", token=token,
                                    headers=EVENTUAL, params={"$count": "true"})
    assert [r["roleTemplateId"] for r in roles["value"]] == [
        ROLE_TEMPLATES["Global Administrator"]]
    # An AU-scoped role is not a directoryRole membership.
    _, scoped, _ = await served.call("GET", f"/users/{uid('alice@contoso.test')}/"
                                            "transitiveMemberOf/graph.directoryRole",
                                     token=token, headers=EVENTUAL, params={"$count": "true"})
    assert scoped["value"] == []


async def test_member_refs_and_scoped_role_members(served: Served) -> None:
    token = app_token(served.fake)
    _, refs, _ = await served.call("GET", f"/directory/administrativeUnits/{SEATTLE}/members/$ref",
                                   token=token)
    assert all(set(r) == {"@odata.id"} for r in refs["value"])
    assert len(refs["value"]) == 5
    _, scoped, _ = await served.call(
        "GET", f"/directory/administrativeUnits/{SEATTLE}/scopedRoleMembers", token=token)
    [item] = scoped["value"]
    assert item["administrativeUnitId"] == SEATTLE
    assert item["roleMemberInfo"]["userPrincipalName"] == "alice@contoso.test"


async def test_hidden_membership_needs_member_read_hidden(served: Served) -> None:
    hidden = unit_id("Hidden store")
    status, body, _ = await served.call("GET", f"/directory/administrativeUnits/{hidden}/members",
                                        token=app_token(served.fake))
    assert (status, body["error"]["code"]) == (403, "Authorization_RequestDenied")
    token = app_token(served.fake, roles=["Directory.Read.All", "Member.Read.Hidden"])
    status, _, _ = await served.call("GET", f"/directory/administrativeUnits/{hidden}/members",
                                     token=token)
    assert status == 200


async def test_role_assignments_filters(served: Served) -> None:
    token = app_token(served.fake)
    path = "/roleManagement/directory/roleAssignments"
    _, body, _ = await served.call(
        "GET", path, token=token,
        params={"$filter": f"roleDefinitionId eq '{ROLE_TEMPLATES['Global Administrator']}'"})
    assert [a["principalId"] for a in body["value"]] == [uid("erin@contoso.test")]
    status, body, _ = await served.call(
        "GET", path, token=token,
        params={"$filter": "principalId eq 'a' or principalId eq 'b'"})
    assert (status, body["error"]["code"]) == (400, "Request_UnsupportedQuery")


async def test_unknown_segment_and_method(served: Served) -> None:
    token = app_token(served.fake)
    status, body, _ = await served.call("GET", "/nonsense", token=token)
    assert (status, body["error"]["code"]) == (400, "BadRequest")
    status, body, _ = await served.call("DELETE", "/users", token=token)
    assert status == 405 and "error" in body
    status, body, _ = await served.call("GET", "/users/nobody@contoso.test", token=token)
    assert (status, body["error"]["code"]) == (404, "Request_ResourceNotFound")


async def test_snake_case_keys_are_refused(served: Served) -> None:
    status, body, _ = await served.call(
        "PATCH", "/users/bob@contoso.test", token=app_token(served.fake, roles=[
            "User.ReadWrite.All"]),
        json={"@odata.type": "#microsoft.graph.user", "mobile_phone": None})
    assert (status, body["error"]["code"]) == (400, "Request_BadRequest")
    assert "mobile_phone" in body["error"]["message"]
