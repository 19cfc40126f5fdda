"""Directory objects as Graph JSON.

Every directory object carries ``@odata.type`` (msgraph-sdk picks the model class from it; without
it an item is a bare ``DirectoryObject``). Users return Graph's default property set unless
``$select`` names others (https://learn.microsoft.com/graph/api/user-get). ``password`` is never
serialised: ``passwordProfile`` reads back as null, as on real Graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..directory import (
    ROLE_NAMES,
    AdministrativeUnit,
    Group,
    User,
    directory_role_id,
)
from ..errors import bad_request

DirectoryObject = User | Group | AdministrativeUnit


def _mail_nickname(upn: str) -> str:
    return upn.split("@", 1)[0]


USER_PROPERTIES: dict[str, Callable[[User], Any]] = {
    "id": lambda u: u.id,
    "businessPhones": lambda u: list(u.business_phones),
    "displayName": lambda u: u.display_name,
    "givenName": lambda u: u.given_name,
    "jobTitle": lambda u: u.job_title,
    "mail": lambda u: u.mail,
    "mobilePhone": lambda u: u.mobile_phone,
    "officeLocation": lambda u: u.office_location,
    "preferredLanguage": lambda u: None,
    "surname": lambda u: u.surname,
    "userPrincipalName": lambda u: u.user_principal_name,
    "accountEnabled": lambda u: u.account_enabled,
    # Not in the default set: real Graph returns it only on $select.
    "signInSessionsValidFromDateTime": lambda u: None if u.sign_in_sessions_valid_from is None
    else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(u.sign_in_sessions_valid_from)),
    "mailNickname": lambda u: _mail_nickname(u.user_principal_name),
    "userType": lambda u: "Member",
    "otherMails": lambda u: list(u.other_mails),
    "passwordProfile": lambda u: None,
    "deletedDateTime": lambda u: None,
    "usageLocation": lambda u: None,
    "department": lambda u: None,
    "companyName": lambda u: None,
    "employeeId": lambda u: None,
    "proxyAddresses": lambda u: [f"SMTP:{u.mail}"] if u.mail else [],
}
USER_DEFAULT = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
)

GROUP_PROPERTIES: dict[str, Callable[[Group], Any]] = {
    "id": lambda g: g.id,
    "deletedDateTime": lambda g: None,
    "description": lambda g: g.description,
    "displayName": lambda g: g.display_name,
    "groupTypes": lambda g: [],
    "isAssignableToRole": lambda g: g.role_assignable,
    "mail": lambda g: None,
    "mailEnabled": lambda g: False,
    "mailNickname": lambda g: "".join(c for c in g.display_name if c.isalnum()) or g.id[:8],
    "securityEnabled": lambda g: True,
    "visibility": lambda g: None,
    "membershipRule": lambda g: None,
}
GROUP_DEFAULT = tuple(GROUP_PROPERTIES)

UNIT_PROPERTIES: dict[str, Callable[[AdministrativeUnit], Any]] = {
    "id": lambda a: a.id,
    "deletedDateTime": lambda a: None,
    "displayName": lambda a: a.display_name,
    "description": lambda a: a.description,
    "isMemberManagementRestricted": lambda a: False,
    "membershipRule": lambda a: None,
    "membershipType": lambda a: None,
    "membershipRuleProcessingState": lambda a: None,
    "visibility": lambda a: a.visibility,
}
UNIT_DEFAULT = tuple(UNIT_PROPERTIES)

ROLE_DESCRIPTIONS: dict[str, str] = {
    "Global Administrator": "Can manage all aspects of Microsoft Entra ID and Microsoft "
    "services that use Microsoft Entra identities.",
    "Privileged Role Administrator": "Can manage role assignments in Microsoft Entra ID, and "
    "all aspects of Privileged Identity Management.",
    "Privileged Authentication Administrator": "Can access to view, set and reset "
    "authentication method information for any user (admin or non-admin).",
    "Authentication Administrator": "Can access to view, set and reset authentication method "
    "information for any non-admin user.",
    "User Administrator": "Can manage all aspects of users and groups, including resetting "
    "passwords for limited admins.",
    "Helpdesk Administrator": "Can reset passwords for non-administrators and Helpdesk "
    "Administrators.",
    "Password Administrator": "Can reset passwords for non-administrators and Password "
    "Administrators.",
}


def role_description(template_id: str) -> str:
    name = ROLE_NAMES.get(template_id, "")
    return ROLE_DESCRIPTIONS.get(name, f"{name} role." if name else "Directory role.")


def select_props(select: Sequence[str] | None, default: Sequence[str],
                 known: dict[str, Any], type_name: str, strict: bool) -> Sequence[str]:
    """The properties to render; unknown ``$select`` names are a 400 when ``strict``.

    On polymorphic collections (members, memberOf) a property of another type is not an error:
    items of the type without it just omit it, so ``strict`` is False there.
    """
    if select is None:
        return default
    if strict:
        for prop in select:
            if prop not in known:
                raise bad_request(f"Could not find a property named '{prop}' on type "
                                  f"'microsoft.graph.{type_name}'.")
    return [p for p in select if p in known]


def _shape(obj: DirectoryObject) -> tuple[dict[str, Callable[[Any], Any]], Sequence[str], str]:
    if isinstance(obj, User):
        return USER_PROPERTIES, USER_DEFAULT, "user"
    if isinstance(obj, Group):
        return GROUP_PROPERTIES, GROUP_DEFAULT, "group"
    return UNIT_PROPERTIES, UNIT_DEFAULT, "administrativeUnit"


def render(obj: DirectoryObject, select: Sequence[str] | None = None, strict: bool = False,
           limited: bool = False) -> dict[str, Any]:
    """One directory object; ``limited``: the caller may not read this type (Graph's "limited
    information": https://learn.microsoft.com/graph/api/administrativeunit-list-members)."""
    props, default, type_name = _shape(obj)
    names = select_props(select, default, props, type_name, strict)
    out: dict[str, Any] = {"@odata.type": obj.odata_type}
    for name in names:
        out[name] = props[name](obj) if not limited or name == "id" else None
    if "id" not in out:
        out["id"] = obj.id  # Graph always returns the key of a directory object
    return out


def directory_role(template_id: str, select: Sequence[str] | None = None) -> dict[str, Any]:
    """The activated directoryRole object of a role template."""
    full = {
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": directory_role_id(template_id),
        "deletedDateTime": None,
        "description": role_description(template_id),
        "displayName": ROLE_NAMES.get(template_id, template_id),
        "roleTemplateId": template_id,
    }
    if select is None:
        return full
    return {k: v for k, v in full.items() if k in select or k in ("@odata.type", "id")}


def object_property(obj: DirectoryObject, name: str) -> Any:
    """A property value for ``$filter`` / ``$search`` evaluation (None if the type lacks it)."""
    getter = _shape(obj)[0].get(name)
    return getter(obj) if getter is not None else None


def user_property(user: User, name: str) -> Any:
    getter = USER_PROPERTIES.get(name)
    return getter(user) if getter is not None else None
