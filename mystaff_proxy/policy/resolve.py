"""The policy resolved against the directory: what each request looks up (docs/authorization.md).

``resolve`` turns a ``Policy`` plus the UPN → object id answers from Graph into a
``ResolvedPolicy``: dict indexes from a manager's object id and from a group id to the grants,
so that ``locations_for_manager`` costs a few dict look-ups per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mystaff_proxy.ids import is_guid
from mystaff_proxy.policy.model import Action, Assignment, Location, ManagerProtection, Policy
from mystaff_proxy.policy.parse import gc_paused

Grants = Mapping[str, frozenset[Action]]


@dataclass(frozen=True, slots=True)
class Protection:
    """Who is never managed, in the form the per-request decision needs."""

    admins: bool = True
    user_ids: frozenset[str] = frozenset()  # lower-cased object ids
    upns: frozenset[str] = frozenset()  # lower-cased; also matched, in case ids are stale
    group_ids: frozenset[str] = frozenset()
    managers: ManagerProtection = ManagerProtection.OUTRANKED
    owners: bool = True


def _union(parts: list[Grants]) -> dict[str, frozenset[Action]]:
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, frozenset[Action]] = {}
    for grants in parts:
        for loc, actions in grants.items():
            have = out.get(loc)
            out[loc] = actions if have is None else have | actions
    return out


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    policy: Policy
    by_oid: Mapping[str, Grants]
    by_group: Mapping[str, Grants]
    protection: Protection
    warnings: tuple[str, ...] = ()
    #: Grants of managers named by UPN, by UPN: a target is a manager by its UPN too, even
    #: when that UPN did not resolve (the decision must not depend on Graph being quick).
    by_upn: Mapping[str, Grants] = field(default_factory=dict)
    #: Each protected UPN -> every object id it has resolved to (now or before): remembered
    #: across renames (``RememberedIds``), so renaming a protected person does not unprotect.
    protected_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def locations(self) -> Mapping[str, Location]:
        return self.policy.locations

    @property
    def manager_group_ids(self) -> frozenset[str]:
        """Groups that grant something: the only ones worth looking up for a manager."""
        return frozenset(self.by_group)

    def location(self, key: str) -> Location | None:
        return self.policy.locations.get(key)

    def locations_for_manager(
            self, oid: str, group_ids: Iterable[str] = frozenset(),
    ) -> dict[str, frozenset[Action]]:
        """location key → allowed actions: the union over every matching assignment.

        ``group_ids`` are the manager's transitive group ids (lower-cased). An empty dict means
        the user manages nothing (``insufficient_permissions``). A signed-in manager is matched
        by object id only: a UPN can be given to someone else.
        """
        return self._grants_of(oid, None, group_ids)

    def grants_of_target(self, oid: str, upn: str | None,
                         group_ids: Iterable[str]) -> dict[str, frozenset[Action]]:
        """What the policy grants a person someone wants to change: by object id, by UPN
        (matched even when it did not resolve) and through ``manager_groups``. Non-empty
        means the target is a manager (``protected.managers``)."""
        return self._grants_of(oid, upn, group_ids)

    def _grants_of(self, oid: str, upn: str | None,
                   group_ids: Iterable[str]) -> dict[str, frozenset[Action]]:
        parts: list[Grants] = []
        own = self.by_oid.get(oid.lower())
        if own is not None:
            parts.append(own)
        named = self.by_upn.get(upn.lower()) if upn else None
        if named is not None:
            parts.append(named)
        by_group = self.by_group
        if by_group:
            parts += [g for g in map(by_group.get, group_ids) if g is not None]
        return _union(parts) if parts else {}


def resolve(policy: Policy, upn_to_oid: Mapping[str, str],
            remembered: Mapping[str, Iterable[str]] | None = None) -> ResolvedPolicy:
    """Index the policy by manager object id and group id.

    A UPN missing from ``upn_to_oid`` grants nothing and is reported in ``warnings``.
    ``remembered``: protected UPN -> object ids it resolved to before; they stay protected
    (a rename must not unprotect anyone) for as long as the UPN stays in ``protected.users``.
    """
    with gc_paused():
        return _resolve(policy, upn_to_oid, remembered or {})


def _resolve(policy: Policy, upn_to_oid: Mapping[str, str],
             remembered: Mapping[str, Iterable[str]]) -> ResolvedPolicy:
    lookup = {k.lower(): v.lower() for k, v in upn_to_oid.items()}
    warnings: list[str] = []
    warned: set[str] = set()

    def oid_of(name: str, what: str) -> str | None:
        if is_guid(name):
            return name
        oid = lookup.get(name)
        if oid is None and name not in warned:
            warned.add(name)
            line = policy.upn_lines.get(name, 0)
            warnings.append(f"{policy.source}:{line}: no user '{name}' in the tenant; {what}")
        return oid

    by_oid: dict[str, dict[str, frozenset[Action]]] = {}
    by_group: dict[str, dict[str, frozenset[Action]]] = {}
    by_upn: dict[str, dict[str, frozenset[Action]]] = {}

    def add(index: dict[str, dict[str, frozenset[Action]]], principal: str,
            a: Assignment) -> None:
        grants = index.get(principal)
        if grants is None:
            index[principal] = dict.fromkeys(a.locations, a.allow)
            return
        for loc in a.locations:
            have = grants.get(loc)
            grants[loc] = a.allow if have is None or have == a.allow else have | a.allow

    for a in policy.assignments:
        for m in a.managers:
            oid = oid_of(m, "this entry grants nothing")
            if oid is not None:
                add(by_oid, oid, a)
            if not is_guid(m):
                add(by_upn, m, a)
        for g in a.manager_groups:
            add(by_group, g, a)

    prot = policy.protected
    user_ids = set()
    protected_ids: dict[str, frozenset[str]] = {}
    for u in prot.users:
        if is_guid(u):
            user_ids.add(u)
            continue
        before = frozenset(i.lower() for i in remembered.get(u, ()))
        oid = lookup.get(u)
        if oid is None and before:
            if u not in warned:
                warned.add(u)
                line = policy.upn_lines.get(u, 0)
                warnings.append(
                    f"{policy.source}:{line}: protected user '{u}' no longer resolves (renamed "
                    f"or deleted?); still protected by the object id it had: "
                    f"{', '.join(sorted(before))}")
        else:
            oid = oid_of(u, "protected by name only until it resolves")
        ids = before | ({oid} if oid is not None else set())
        if ids:
            protected_ids[u] = ids
            user_ids.update(ids)
    protection = Protection(
        admins=prot.admins,
        user_ids=frozenset(user_ids),
        upns=frozenset(u for u in prot.users if not is_guid(u)),
        group_ids=frozenset(prot.groups),
        managers=prot.managers,
        owners=prot.owners,
    )
    return ResolvedPolicy(policy, by_oid, by_group, protection, tuple(warnings), by_upn,
                          protected_ids)
