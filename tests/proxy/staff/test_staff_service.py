"""The staff service driven directly, without HTTP, against the real fake (fake_graph) with
the e2e tenant and policy: wired as ``web/app.py::build_services`` wires it, so what these
tests see at the fake is what a manager's request would do there."""

from __future__ import annotations

import json
import re
import secrets
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fake_graph.directory import User, derive_id
from fake_graph.embedded import RunningFake, run_fake
from mystaff_proxy.audit.log import AuditLog
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.errors import ApiError
from mystaff_proxy.graph.client import GraphClient
from mystaff_proxy.graph.credentials import AppToken, build_credential
from mystaff_proxy.graph.operations import GraphOperations
from mystaff_proxy.metrics import Metrics
from mystaff_proxy.policy.owners import OwnerSet
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.staff.access_passes import AccessPasses
from mystaff_proxy.staff.check import Caller, StaffCheck
from mystaff_proxy.staff.passwords import Passwords
from mystaff_proxy.staff.phones import Phones
from mystaff_proxy.staff.reading import Reading
from mystaff_proxy.staff.service import StaffService
from mystaff_proxy.staff.sms_sign_in import SmsSignIn
from mystaff_proxy.stores.ratelimit import MemoryRateLimiter

E2E = Path(__file__).parents[2] / "e2e"
CLIENT_ID = "e2e0a000-0000-4000-8000-0000000000aa"  # the proxy's app in tests/e2e/tenant.yaml
CLIENT_SECRET = "e2e-proxy-secret"
MANAGER = "mgr.upn@e2e.example"  # north: reset_password, manage_phone


@dataclass
class Wired:
    staff: StaffService
    fake: RunningFake
    audit_path: Path

    def user(self, upn: str) -> User:
        user = self.fake.fake.directory.find_user(upn)
        assert user is not None
        return user

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line]


def caller(upn: str = MANAGER) -> Caller:
    """A manager who signed in just now (no re-authentication due), in a request of its own."""
    return Caller(derive_id("user", upn), upn, upn.split("@")[0], str(uuid.uuid4()),
                  authenticated_at=time.time())


def policy_file(out: Path) -> Path:
    """tests/e2e/policy.yaml with ``GROUP:<displayName>`` as the fake's group ids (as the e2e
    harness renders it)."""
    text = (E2E / "policy.yaml").read_text()
    out.write_text(re.sub(r"GROUP:([^\"\]]+)", lambda m: derive_id("group", m.group(1)), text))
    return out


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[Wired]:
    async with run_fake(E2E / "tenant.yaml", tls_dir=tmp_path / "tls") as fake:
        assert fake.ca_file is not None
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=fake.ca_file))
        async with aiohttp.ClientSession(connector=connector) as http:

            def credential() -> Any:
                return build_credential(tenant_id=fake.tenant_id, client_id=CLIENT_ID,
                                        authority_host=fake.url, client_secret=CLIENT_SECRET,
                                        ca_file=fake.ca_file or "")

            app_token = AppToken(credential(), renew=credential)
            ops = GraphOperations(GraphClient(fake.graph_url, http, app_token, timeout=5.0))
            policy = PolicyRuntime(policy_file(tmp_path / "policy.yaml"), ops, Metrics())
            assert await policy.reload(force=True), policy.last_error
            owners = OwnerSet(ops, refresh_seconds=300)
            assert await owners.refresh()
            secret = secrets.token_bytes(32)
            audit_path = tmp_path / "audit.jsonl"
            staff = StaffService(
                ops=ops, policy=policy, audit=AuditLog(audit_path),
                limiter=MemoryRateLimiter(), cursor_sealer=Sealer(secret, b"cursor-v1"),
                default_region="US", owners=owners,
                phone_hasher=PhoneHasher(secrets.token_bytes(32)))
            try:
                yield Wired(staff, fake, audit_path)
            finally:
                await app_token.close()


async def test_a_permitted_reset_changes_the_password_at_the_fake_and_is_audited(
        wired: Wired) -> None:
    target = wired.user("staff1@e2e.example")
    before = target.password
    who = caller()
    reset = await wired.staff.reset_password(who, "north", target.id, {})
    assert reset.confirmed
    assert reset.password != before
    assert wired.user("staff1@e2e.example").password == reset.password
    [record] = [r for r in wired.audit() if r["requestId"] == who.request_id]
    assert record["event"] == "password_reset"
    assert record["outcome"] == "success"
    assert record["target"]["id"] == target.id
    assert record["location"] == "north"


@pytest.mark.parametrize(("loc", "upn"), [
    ("south", "south1@e2e.example"),  # a location that is not the manager's
    ("north", "south1@e2e.example"),  # the manager's location, but not a member of it
])
async def test_a_target_outside_the_location_is_not_found_and_nothing_changes(
        wired: Wired, loc: str, upn: str) -> None:
    target = wired.user(upn)
    before = target.password
    who = caller()
    with pytest.raises(ApiError) as refused:
        await wired.staff.reset_password(who, loc, target.id, {})
    assert refused.value.code == "not_found"
    assert wired.user(upn).password == before
    [record] = [r for r in wired.audit() if r["requestId"] == who.request_id]
    assert (record["event"], record["outcome"], record["reason"]) == \
        ("password_reset", "denied", "not_found")


async def test_a_protected_target_is_refused_and_nothing_changes(wired: Wired) -> None:
    ceo = wired.user("ceo@e2e.example")  # protected.users in tests/e2e/policy.yaml
    before = ceo.password
    with pytest.raises(ApiError) as refused:
        await wired.staff.reset_password(caller(), "north", ceo.id, {})
    assert refused.value.code == "protected_user"
    assert wired.user("ceo@e2e.example").password == before
    with pytest.raises(ApiError) as no_phone:
        await wired.staff.add_phone(caller(), "north", ceo.id,
                                    {"phoneType": "mobile", "phoneNumber": "+1 2065550177"})
    assert no_phone.value.code == "protected_user"
    assert not wired.user("ceo@e2e.example").phones


async def test_the_profile_of_a_permitted_target_lists_its_phone_methods(wired: Wired) -> None:
    target = wired.user("staff1@e2e.example")
    profile = await wired.staff.profile(caller(), "north", target.id)
    assert profile.id == target.id
    assert profile.user_principal_name == "staff1@e2e.example"
    assert profile.protected_reason is None
    assert [(p.phone_type, p.phone_number) for p in profile.phones] == \
        [("mobile", "+1 2065550101")]
    assert {"reset_password", "manage_phone"} <= set(profile.actions)


def test_every_capability_is_part_of_the_staff_service() -> None:
    mro = StaffService.__mro__
    for capability in (Reading, Passwords, Phones, AccessPasses, SmsSignIn):
        assert capability in mro
        assert issubclass(capability, StaffCheck)
    assert mro.index(StaffCheck) > max(mro.index(c) for c in (Reading, Passwords, Phones,
                                                               AccessPasses, SmsSignIn))
