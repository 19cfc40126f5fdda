"""Reading, no change: the manager's locations, a location's staff list, one person's profile,
and the names of the locations' administrative units."""

from __future__ import annotations

import re

from mystaff_proxy.audit.log import EventType
from mystaff_proxy.graph.exceptions import GraphError
from mystaff_proxy.policy import decide as authz
from mystaff_proxy.policy.model import Action
from mystaff_proxy.policy.resolve import ResolvedPolicy
from mystaff_proxy.staff.check import Caller, StaffCheck
from mystaff_proxy.staff.views import LocationView, ProfileView, StaffPageView

MAX_SEARCH = 64
_SEARCH_OK = re.compile(r"[^\x00-\x1f\x7f]*")  # fullmatch: "$" would let a final "\n" in


class Reading(StaffCheck):
    async def locations(self, caller: Caller, *, required: bool = True) -> list[LocationView]:
        """The manager's locations; ``insufficient_permissions`` for a non-manager if required."""
        grants = await self.manager_grants(caller, EventType.ACCESS_DENIED, "view") \
            if required else await self.grants(caller)
        policy = self.policy_in_force()
        await self._load_unit_names(policy, list(grants))
        out = []
        for key in sorted(grants):
            loc = policy.location(key)
            if loc is None:
                continue
            name = loc.name or self._unit_names.get(loc.administrative_unit) or key
            actions = tuple(a.value for a in Action if a in grants[key])
            out.append(LocationView(key, name, actions))
        return out

    async def _load_unit_names(self, policy: ResolvedPolicy, keys: list[str]) -> None:
        wanted = []
        for key in keys:
            loc = policy.location(key)
            if loc is not None and loc.name is None and \
                    loc.administrative_unit not in self._unit_names:
                wanted.append(loc.administrative_unit)
        if not wanted:
            return
        try:
            # One $batch per 20 units (was one GET each): one round trip for a manager's list.
            names = await self.ops.unit_names(wanted)
        except GraphError:
            return  # names are cosmetic: fall back to the location key
        self._unit_names.update(names)

    async def warm_unit_names(self) -> None:
        """Fetch the names of every unnamed location now (start-up), so that a manager's
        first ``/me`` or location list does not wait for Graph (bench/startup.py)."""
        policy = self._policy.current
        if policy is not None:
            await self._load_unit_names(policy, list(policy.locations))

    # -- staff lists ----------------------------------------------------------------------------

    async def staff_page(self, caller: Caller, loc: str, *, search: str = "", top: int = 25,
                         cursor: str | None = None) -> StaffPageView:
        grants = await self.manager_grants(caller, EventType.ACCESS_DENIED, "view", loc)
        au = self.unit_of(grants, loc)
        if au is None:
            await self.refused(caller, EventType.ACCESS_DENIED, "not_found", location=loc,
                               action="view")
        next_link = None
        if cursor:
            next_link = self._open_cursor(caller, loc, au, cursor)
            if next_link is None:
                await self.refused(caller, EventType.ACCESS_DENIED, "invalid_request",
                                   location=loc, action="view")
        search = search.strip()
        if len(search) > MAX_SEARCH or not _SEARCH_OK.fullmatch(search) or not 1 <= top <= 100:
            await self.refused(caller, EventType.ACCESS_DENIED, "invalid_request",
                               location=loc, action="view")
        try:
            page = await self.ops.list_staff(au, search=search, top=top, next_link=next_link)
        except GraphError as exc:
            await self.failed(caller, EventType.ACCESS_DENIED, exc, location=loc)
        cursor_out = None
        if page.next_link:
            cursor_out = self._cursors.seal({"o": caller.oid, "l": loc, "a": au,
                                             "n": page.next_link})
        return StaffPageView(page.items, cursor_out)

    def _open_cursor(self, caller: Caller, loc: str, au: str, cursor: str) -> str | None:
        """A cursor is ours, for this manager and location, and points into this unit."""
        data = self._cursors.open(cursor) if len(cursor) <= 4096 else None
        if not data or data.get("o") != caller.oid or data.get("l") != loc \
                or data.get("a") != au:
            return None
        link = data.get("n")
        if not isinstance(link, str) or not self.ops.is_own_next_link(au, link):
            return None
        return link

    # -- one person ---------------------------------------------------------------------------

    async def profile(self, caller: Caller, loc: str, user_id: str, *,
                      with_pass_policy: bool = False) -> ProfileView:
        """``with_pass_policy``: read the tenant's pass settings too, for a pass the same
        request issues next (its check then reuses this read: no second round trip)."""
        snapshot = await self.check(caller, loc, user_id, authz.VIEW, EventType.ACCESS_DENIED,
                                    with_phones=True, with_pass=True,
                                    with_pass_policy=with_pass_policy)
        grants = await self.grants(caller)
        policy = self.policy_in_force()
        facts = self.facts(snapshot)
        actions = authz.allowed_actions(grants, loc, facts, policy.protection,
                                        manager_oid=caller.oid)
        # Protection does not depend on what this location allows, so a view-only or
        # phone-only manager still learns (and hides) it; whether another manager is
        # outranked does depend on everything this manager holds.
        probe = authz.protection_refusal(caller.oid, grants, facts, policy.protection)
        protected_reason = probe.why if probe is not None and probe.code == "protected_user" \
            else None
        profile = snapshot.profile
        assert profile is not None
        # A protected person's phone numbers are none of the manager's business.
        phones = snapshot.phones or () if protected_reason is None else ()
        access_pass = snapshot.access_pass if protected_reason is None else None
        return ProfileView(profile.id, profile.display_name, profile.user_principal_name,
                           profile.mail, profile.job_title, tuple(actions), phones,
                           protected_reason, access_pass)
