"""Membership indexes, so that a request never scans a 100,000-member list to answer one lookup.

Member lists live on the directory's dataclasses (``AdministrativeUnit.members``,
``Group.members``). A set per list is cached, keyed by the list's identity and length: a
replaced list (tenant reload, ``/_fake/reset``) or an append / removal invalidates it. An
in-place edit that keeps the length (``members[i] = x``) would not be seen: code changing
memberships replaces or grows / shrinks the list, or calls ``clear()``.
"""

from __future__ import annotations

from ..directory import AdministrativeUnit, Directory, Group

# id(list) -> (the list, kept alive so its id is not reused; its length; its members)
_sets: dict[int, tuple[list[str], int, frozenset[str]]] = {}
_MAX_ENTRIES = 50_000


def member_set(members: list[str]) -> frozenset[str]:
    entry = _sets.get(id(members))
    if entry is not None and entry[0] is members and entry[1] == len(members):
        return entry[2]
    if len(_sets) >= _MAX_ENTRIES:
        _sets.clear()
    result = frozenset(members)
    _sets[id(members)] = (members, len(members), result)
    return result


def clear() -> None:
    _sets.clear()


def is_direct_member(container: AdministrativeUnit | Group, object_id: str) -> bool:
    return object_id in member_set(container.members)


def direct_groups(directory: Directory, object_id: str) -> list[Group]:
    return [g for g in directory.groups.values() if object_id in member_set(g.members)]


def transitive_groups(directory: Directory, object_id: str) -> list[Group]:
    """Every group the object is in, directly or through nested groups (cycle-safe)."""
    seen: dict[str, Group] = {}
    frontier = [object_id]
    while frontier:
        for group in direct_groups(directory, frontier.pop()):
            if group.id not in seen:
                seen[group.id] = group
                frontier.append(group.id)
    return list(seen.values())


def direct_units(directory: Directory, object_id: str) -> list[AdministrativeUnit]:
    return [u for u in directory.administrative_units.values()
            if object_id in member_set(u.members)]
