"""Resolving path parameters to directory objects, with Graph's 404s."""

from __future__ import annotations

from ..directory import AdministrativeUnit, Group, User
from ..errors import not_found
from .context import GraphRequest


def user(req: GraphRequest, key: str = "user") -> User:
    ref = req.params[key]
    found = req.directory.find_user(ref)
    if found is None:
        raise not_found(ref)
    return found


def group(req: GraphRequest, key: str = "group") -> Group:
    ref = req.params[key]
    found = req.directory.groups.get(ref.lower())
    if found is None:
        raise not_found(ref)
    return found


def unit(req: GraphRequest, key: str = "unit") -> AdministrativeUnit:
    ref = req.params[key]
    found = req.directory.administrative_units.get(ref.lower())
    if found is None:
        raise not_found(ref)
    return found
