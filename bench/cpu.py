"""CPU seconds the proxy process spends per action at 16 concurrent clients, against msgraph-sdk.

Run: ``/work/venv/bin/python bench/cpu.py [--quick]``.

Fake, proxy and this client are three processes. 16 signed-in managers (each its own
connection and cookie jar) repeat one action; the proxy's user+system CPU (psutil on its pid)
before and after, divided by the number of actions, is the proxy's CPU per action. That covers
everything the proxy does: the HTTP request from the browser, the session cookie, the policy
decision, the Graph call(s) over TLS, JSON, the answer (and for changes the audit records).

Then, in this process and with nothing else running in it, the same Graph reads through
msgraph-sdk (GraphServiceClient, Graph's default middleware, a static token), 16 concurrent:
a profile view is its 5 GETs (membership, user, transitive groups, role assignments, phone
methods, gathered concurrently as an SDK app would), a staff page the same 25-member GET.
Its process CPU per view is compared with the proxy's. Target (issue 6): at most 1.5 ms per
profile view and per staff page. Figures are medians of ``--runs`` rounds. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from _stack import (
    SAM,
    TAYLOR,
    Stack,
    actions,
    env_note,
    html_pages_exist,
    median,
    run,
    start_stack,
)

CLIENTS = 16
SEATTLE_AU = "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e01"


async def concurrently(calls: list[Callable[[], Awaitable[Any]]], total: int) -> float:
    """Run ``total`` calls spread over ``len(calls)`` concurrent workers; wall seconds."""
    remaining = {"n": total}

    async def worker(call: Callable[[], Awaitable[Any]]) -> None:
        while remaining["n"] > 0:
            remaining["n"] -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in calls))
    return time.perf_counter() - started


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class SdkReads:
    """The proxy's Graph reads, written the usual msgraph-sdk way."""

    def __init__(self, fake_url: str, ca_file: str, token: str) -> None:
        import httpx
        from azure.core.credentials import AccessToken
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient
        from msgraph_core import GraphClientFactory

        class Static:
            async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
                return AccessToken(token, int(time.time()) + 3600)

            async def close(self) -> None:
                return None

        self.httpx = httpx.AsyncClient(base_url=fake_url + "/v1.0", verify=ca_file, timeout=30,
                                       limits=httpx.Limits(max_connections=CLIENTS * 5))
        http = GraphClientFactory.create_with_default_middleware(client=self.httpx)
        auth = AzureIdentityAuthenticationProvider(
            Static(), scopes=["https://graph.microsoft.com/.default"],
            allowed_hosts=["127.0.0.1"])
        self.client = GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))

    async def profile(self) -> Any:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
            RoleAssignmentsRequestBuilder,
        )
        from msgraph.generated.users.item.user_item_request_builder import (
            UserItemRequestBuilder,
        )

        c = self.client
        user = c.users.by_user_id(TAYLOR)
        q_user = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName", "mail", "jobTitle"])
        q_roles = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
            filter=f"principalId eq '{TAYLOR}'", select=["id", "directoryScopeId"])
        return await asyncio.gather(
            c.directory.administrative_units.by_administrative_unit_id(SEATTLE_AU).members
            .by_directory_object_id(TAYLOR).graph_user.get(),
            user.get(RequestConfiguration(query_parameters=q_user)),
            user.transitive_member_of.get(),
            c.role_management.directory.role_assignments.get(
                RequestConfiguration(query_parameters=q_roles)),
            user.authentication.phone_methods.get(),
        )

    async def staff_page(self) -> Any:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.directory.administrative_units.item.members.graph_user.graph_user_request_builder import (  # noqa: E501
            GraphUserRequestBuilder,
        )

        query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName", "jobTitle"], top=25, count=True)
        config: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
        config.headers.add("ConsistencyLevel", "eventual")
        return await self.client.directory.administrative_units.by_administrative_unit_id(
            SEATTLE_AU).members.graph_user.get(request_configuration=config)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, one round")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reads, changes, runs = (400, 100, 1) if args.quick else (2000, 300, args.runs)
    sdk_views = 100 if args.quick else 300
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    stack: Stack = start_stack()
    try:
        html = html_pages_exist(stack)
        managers = [await stack.manager(*SAM) for _ in range(CLIENTS)]
        per_client = [actions(m, html=html) for m in managers]
        names = list(per_client[0])
        kinds = {n: per_client[0][n][0] for n in names}
        proxy_ms: dict[str, list[float]] = {n: [] for n in names}
        rates: dict[str, list[float]] = {n: [] for n in names}
        for name in names:  # warm-up
            await concurrently([pc[name][1] for pc in per_client], CLIENTS * 4)
        for _ in range(runs):
            for name in names:
                total = reads if kinds[name] == "read" else changes
                calls = [pc[name][1] for pc in per_client]
                before = stack.proxy.cpu()
                wall = await concurrently(calls, total)
                proxy_ms[name].append((stack.proxy.cpu() - before) / total * 1000)
                rates[name].append(total / wall)

        control = await stack.control()
        token = await control.app_token(stack.fake.tenant_id)
        for session in stack._sessions:  # nothing else runs in this process from here on
            await session.close()
        sdk = SdkReads(stack.fake.url, stack.fake.ca_file, token)
        sdk_ms: dict[str, list[float]] = {"profile": [], "staff": []}
        for key, call in (("profile", sdk.profile), ("staff", sdk.staff_page)):
            await concurrently([call] * CLIENTS, CLIENTS * 2)  # first calls load msgraph models
            for _ in range(runs):
                gc.collect()
                before = _self_cpu()
                await concurrently([call] * CLIENTS, sdk_views)
                sdk_ms[key].append((_self_cpu() - before) / sdk_views * 1000)
        await sdk.httpx.aclose()

        print(f"Proxy CPU per action, {CLIENTS} concurrent clients, median of {runs} round(s) "
              f"of {reads} reads / {changes} changes ({env_note()})")
        print(f"{'action':28} {'proxy CPU ms':>12} {'req/s':>7} {'target':>7}")
        for name in names:
            target = 1.5 if name.startswith(("profile view", "staff page")) else None
            cpu = median(proxy_ms[name])
            verdict = "" if target is None else ("met" if cpu <= target else "MISSED")
            t = f"{target:7.1f}" if target else f"{'':7}"
            print(f"{name:28} {cpu:12.2f} {median(rates[name]):7.0f} {t}  {verdict}")
        print()
        print("Same Graph reads through msgraph-sdk, this process's CPU per view "
              f"({CLIENTS} concurrent, {sdk_views} views per round):")
        for key, label in (("profile", "profile view (API)"), ("staff", "staff page (API)")):
            s, p = median(sdk_ms[key]), median(proxy_ms[label])
            print(f"  {label:26} msgraph-sdk {s:7.2f} ms   proxy (whole request) {p:5.2f} ms"
                  f"   sdk / proxy = {s / p:5.1f} x")
        await stack.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    run(main)
