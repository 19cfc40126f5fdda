"""Conformance: the real msgraph-sdk GraphServiceClient against fake_graph over a socket.

Every Graph call the proxy makes (docs/graph-calls.md), paging through a 250-member unit, phone
create / get / update / delete, PATCH passwordProfile, resetPassword (delegated), $batch, and
Graph errors as ODataError.
"""

from __future__ import annotations

from typing import Any

import pytest
from graph_support import (
    BIG_UNIT,
    BIG_USERS,
    NOROLE_APP,
    Served,
    app_token,
    graph_client,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    unit_id,
    user_token,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from fake_graph.directory import PASSWORD_METHOD_ID, PHONE_METHOD_IDS, ROLE_TEMPLATES

SEATTLE = unit_id("Seattle store")
# msgraph-sdk 1.65 / kiota warn about their own deprecated classes when first imported.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


def eventual(query: Any = None) -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    return config


async def test_au_user_members_paged_with_odata_next_link(served: Served) -> None:
    from msgraph.generated.directory.administrative_units.item.members.graph_user.graph_user_request_builder import (  # noqa: E501
        GraphUserRequestBuilder,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    members = client.directory.administrative_units.by_administrative_unit_id(
        unit_id(BIG_UNIT)).members
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
        select=["id", "displayName", "userPrincipalName", "jobTitle"], top=100, count=True)
    page = await members.graph_user.get(request_configuration=eventual(query))
    assert page.odata_count == BIG_USERS
    seen = [u.id for u in page.value]
    pages = 1
    while page.odata_next_link:
        assert page.odata_next_link.startswith(served.base_url + "/v1.0/")
        page = await members.with_url(page.odata_next_link).get(
            request_configuration=eventual())
        pages += 1
        assert page.odata_count is None  # only on the first page
        seen += [u.id for u in page.value]
    assert pages == 3
    assert len(seen) == len(set(seen)) == BIG_USERS
    assert type(page.value[0]).__name__ == "User"


async def test_page_iterator_walks_all_members(served: Served) -> None:
    from msgraph.generated.directory.administrative_units.item.members.members_request_builder import (  # noqa: E501
        MembersRequestBuilder,
    )
    from msgraph_core.tasks.page_iterator import PageIterator

    client = graph_client(served.base_url, app_token(served.fake))
    members = client.directory.administrative_units.by_administrative_unit_id(
        unit_id(BIG_UNIT)).members
    query = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(top=60)
    first = await members.get(RequestConfiguration(query_parameters=query))
    kinds: list[str] = []

    def collect(item: Any) -> bool:
        kinds.append(type(item).__name__)
        return True

    await PageIterator(first, client.request_adapter).iterate(collect)
    assert kinds.count("User") == BIG_USERS
    assert kinds.count("Group") == 3  # a group member is the group object, not its members


async def test_page_iterator_resends_consistency_level(served: Served) -> None:
    from msgraph.generated.directory.administrative_units.item.members.graph_user.graph_user_request_builder import (  # noqa: E501
        GraphUserRequestBuilder,
    )
    from msgraph_core.tasks.page_iterator import PageIterator

    client = graph_client(served.base_url, app_token(served.fake))
    cast = client.directory.administrative_units.by_administrative_unit_id(
        unit_id(BIG_UNIT)).members.graph_user
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(top=100,
                                                                              count=True)
    first = await cast.get(request_configuration=eventual(query))
    names: list[str] = []
    iterator = PageIterator(first, client.request_adapter)
    # The header is not carried to nextLink requests (https://learn.microsoft.com/graph/paging):
    # a client re-sends it.
    # (PageIterator.set_headers is broken in msgraph-core 1.5.2: add to .headers directly.)
    iterator.headers.add("ConsistencyLevel", "eventual")
    await iterator.iterate(lambda user: names.append(user.display_name) is None)
    assert len(names) == BIG_USERS


async def test_search_au_members_needs_consistency_level(served: Served) -> None:
    from msgraph.generated.directory.administrative_units.item.members.graph_user.graph_user_request_builder import (  # noqa: E501
        GraphUserRequestBuilder,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    builder = client.directory.administrative_units.by_administrative_unit_id(
        SEATTLE).members.graph_user
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
        search='"displayName:walk"', count=True, select=["id", "displayName"])
    page = await builder.get(request_configuration=eventual(query))
    assert [u.display_name for u in page.value] == ["Frank Walker"]
    with pytest.raises(ODataError) as err:
        await builder.get(request_configuration=RequestConfiguration(query_parameters=query))
    assert err.value.response_status_code == 400
    assert err.value.error.code == "Request_UnsupportedQuery"


async def test_is_user_in_unit(served: Served) -> None:
    client = graph_client(served.base_url, app_token(served.fake))
    members = client.directory.administrative_units.by_administrative_unit_id(SEATTLE).members
    # msgraph-sdk has no GET .../members/{id}; its cast form is .../members/{id}/graph.user.
    member = await members.by_directory_object_id(uid("bob@contoso.test")).graph_user.get()
    assert type(member).__name__ == "User"
    assert member.user_principal_name == "bob@contoso.test"
    with pytest.raises(ODataError) as err:  # carol is in the unit only through a group
        await members.by_directory_object_id(uid("carol@contoso.test")).graph_user.get()
    assert err.value.response_status_code == 404
    assert err.value.error.code == "Request_ResourceNotFound"


async def test_admin_checks(served: Served) -> None:
    client = graph_client(served.base_url, app_token(served.fake))
    user = client.users.by_user_id(uid("dave@contoso.test"))  # Helpdesk through a group
    roles = await user.transitive_member_of.graph_directory_role.get(
        request_configuration=eventual(_count_query()))
    assert [r.role_template_id for r in roles.value] == [ROLE_TEMPLATES["Helpdesk Administrator"]]
    direct = await user.member_of.graph_directory_role.get(
        request_configuration=eventual(_count_query()))
    assert direct.value == []

    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
        RoleAssignmentsRequestBuilder,
    )

    alice = uid("alice@contoso.test")
    query = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
        filter=f"principalId eq '{alice}'")
    assignments = await client.role_management.directory.role_assignments.get(
        RequestConfiguration(query_parameters=query))
    assert [(a.role_definition_id, a.directory_scope_id) for a in assignments.value] == [
        (ROLE_TEMPLATES["Authentication Administrator"], f"/administrativeUnits/{SEATTLE}")]


def _count_query() -> Any:
    from msgraph.generated.users.item.transitive_member_of.graph_directory_role.graph_directory_role_request_builder import (  # noqa: E501
        GraphDirectoryRoleRequestBuilder,
    )

    return GraphDirectoryRoleRequestBuilder.GraphDirectoryRoleRequestBuilderGetQueryParameters(
        count=True)


async def test_manager_groups(served: Served) -> None:
    from msgraph.generated.users.item.transitive_member_of.graph_group.graph_group_request_builder import (  # noqa: E501
        GraphGroupRequestBuilder,
    )

    client = graph_client(served.base_url, app_token(served.fake))
    query = GraphGroupRequestBuilder.GraphGroupRequestBuilderGetQueryParameters(
        count=True, select=["id", "displayName"])
    groups = await client.users.by_user_id(uid("carol@contoso.test")).transitive_member_of \
        .graph_group.get(request_configuration=eventual(query))
    assert sorted(g.display_name for g in groups.value) == ["Managers", "Shift leads"]
    assert groups.odata_count == 2


async def test_profile_and_phones(served: Served) -> None:
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    client = graph_client(served.base_url, app_token(served.fake))
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "displayName", "userPrincipalName", "mail", "jobTitle"])
    user = await client.users.by_user_id("bob@contoso.test").get(
        RequestConfiguration(query_parameters=query))
    assert (user.id, user.job_title, user.mail) == (uid("bob@contoso.test"), "Cashier",
                                                    "bob@contoso.test")
    phones = await client.users.by_user_id(user.id).authentication.phone_methods.get()
    assert [(p.phone_type.value, p.phone_number, p.sms_sign_in_state.value)
            for p in phones.value] == [("mobile", "+1 2065550100", "notEnabled")]


async def test_phone_create_get_update_delete(served: Served) -> None:
    from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
    from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod

    client = graph_client(served.base_url, app_token(served.fake))
    phones = client.users.by_user_id(uid("frank@contoso.test")).authentication.phone_methods
    created = await phones.post(PhoneAuthenticationMethod(
        phone_number="+1 2065550177", phone_type=AuthenticationPhoneType.Mobile))
    assert created.id == PHONE_METHOD_IDS["mobile"]
    assert created.phone_number == "+1 2065550177"
    mobile = phones.by_phone_authentication_method_id(PHONE_METHOD_IDS["mobile"])
    assert (await mobile.get()).phone_number == "+1 2065550177"
    assert await mobile.patch(PhoneAuthenticationMethod(
        phone_number="+44 2079460958", phone_type=AuthenticationPhoneType.Mobile)) is None
    assert (await mobile.get()).phone_number == "+44 2079460958"
    assert await mobile.delete() is None
    with pytest.raises(ODataError) as err:
        await mobile.get()
    assert err.value.response_status_code == 404
    assert served.fake.directory.find_user("frank@contoso.test").phones == {}  # type: ignore[union-attr]


async def test_phone_errors_surface_as_odata_errors(served: Served) -> None:
    from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
    from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod

    client = graph_client(served.base_url, app_token(served.fake))
    phones = client.users.by_user_id(uid("bob@contoso.test")).authentication.phone_methods
    with pytest.raises(ODataError) as err:
        await phones.post(PhoneAuthenticationMethod(
            phone_number="+1 2065550199", phone_type=AuthenticationPhoneType.Mobile))
    assert (err.value.response_status_code, err.value.error.code) == (409, "conflict")
    with pytest.raises(ODataError) as err:
        await phones.post(PhoneAuthenticationMethod(
            phone_number="(206) 555-0199", phone_type=AuthenticationPhoneType.Office))
    assert (err.value.response_status_code, err.value.error.code) == (400, "invalidRequest")


async def test_patch_password_profile(served: Served) -> None:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    client = graph_client(served.base_url, app_token(served.fake))
    result = await client.users.by_user_id(uid("bob@contoso.test")).patch(User(
        password_profile=PasswordProfile(password="Tmp-4xQ9-wLp2",
                                         force_change_password_next_sign_in=True)))
    assert result is None
    bob = served.fake.directory.find_user("bob@contoso.test")
    assert bob is not None
    assert (bob.password, bob.force_change_password_next_sign_in) == ("Tmp-4xQ9-wLp2", True)


async def test_patch_password_profile_needs_a_directory_role(served: Served) -> None:
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    client = graph_client(served.base_url, app_token(served.fake, NOROLE_APP))
    with pytest.raises(ODataError) as err:
        await client.users.by_user_id(uid("bob@contoso.test")).patch(User(
            password_profile=PasswordProfile(password="Tmp-4xQ9-wLp2",
                                             force_change_password_next_sign_in=True)))
    assert err.value.response_status_code == 403
    assert err.value.error.code == "Authorization_RequestDenied"
    assert err.value.error.message == "Insufficient privileges to complete the operation."


async def test_reset_password_delegated(served: Served) -> None:
    from msgraph.generated.users.item.authentication.methods.item.reset_password.reset_password_post_request_body import (  # noqa: E501
        ResetPasswordPostRequestBody,
    )

    token = user_token(served.fake, "alice@contoso.test",
                       ["UserAuthenticationMethod.ReadWrite.All"])
    client = graph_client(served.base_url, token)
    method = client.users.by_user_id(uid("bob@contoso.test")).authentication.methods \
        .by_authentication_method_id(PASSWORD_METHOD_ID)
    generated = await method.reset_password.post(ResetPasswordPostRequestBody())
    assert generated is not None and generated.new_password
    bob = served.fake.directory.find_user("bob@contoso.test")
    assert bob is not None
    assert (bob.password, bob.force_change_password_next_sign_in) == (generated.new_password,
                                                                       True)
    given = await method.reset_password.post(ResetPasswordPostRequestBody(
        new_password="Given-Passw0rd"))
    assert given is None
    assert bob.password == "Given-Passw0rd"


async def test_batch_through_the_sdk(served: Served) -> None:
    # msgraph-core's batch module imports 'deprecated' (declared in our test extras).
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    client = graph_client(served.base_url, app_token(served.fake))
    bob = client.users.by_user_id(uid("bob@contoso.test"))
    first = BatchRequestItem(request_information=bob.to_get_request_information())
    second = BatchRequestItem(
        request_information=bob.authentication.phone_methods.to_get_request_information())
    missing = BatchRequestItem(
        request_information=client.users.by_user_id("nobody@contoso.test")
        .to_get_request_information())
    content = BatchRequestContent(
        requests={item.id: item for item in (first, second, missing)})
    result = await client.batch.post(content)
    statuses = {item_id: item.status for item_id, item in result.responses.items()}
    assert statuses == {first.id: 200, second.id: 200, missing.id: 404}
    seq = [r for r in served.fake.recorder.since(0)[0] if r.batch]
    assert len(seq) == 3


async def test_sdk_retries_a_throttled_read_after_retry_after(served: Served) -> None:
    import re
    import time

    from fake_graph.faults import Fault

    served.fake.faults.add(Fault(path=re.compile("/users/"), status=429, retry_after=1,
                                 count=1))
    client = graph_client(served.base_url, app_token(served.fake))
    started = time.perf_counter()
    user = await client.users.by_user_id("bob@contoso.test").get()
    assert user.display_name == "Bob Staff"
    assert time.perf_counter() - started >= 1.0
    statuses = [r.status for r in served.fake.recorder.since(0)[0]]
    assert statuses == [429, 200]


async def test_sdk_sees_401_as_odata_error(served: Served) -> None:
    client = graph_client(served.base_url, "not-a-token")
    with pytest.raises(ODataError) as err:
        await client.users.by_user_id("bob@contoso.test").get()
    assert err.value.response_status_code == 401
    assert err.value.error.code == "InvalidAuthenticationToken"
