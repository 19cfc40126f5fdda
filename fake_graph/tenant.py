"""Load a tenant file (YAML) into a Directory, refusing bad files with PATH:LINE.

The keys are the ones read below; the optional PIM and ownership keys are described in
docs/fake_graph_pim_owners.md, ``authentication_methods_policy`` in docs/fake_graph_tap_sms.md.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from yaml_lines import LineDict, LineList, YamlFileError, load, loads_fast

from .directory import (
    PIM_START,
    ROLE_TEMPLATES,
    AdministrativeUnit,
    Application,
    Directory,
    Group,
    GroupEligibility,
    Phone,
    RoleAssignment,
    RoleEligibility,
    Tenant,
    User,
    derive_id,
    role_eligibility_id,
)
from .methods_policy import (
    ALL_USERS,
    LENGTH_RANGE,
    LIFETIME_RANGE,
    AuthenticationMethodsPolicy,
    MethodTarget,
    SmsPolicy,
    TemporaryAccessPassPolicy,
)

DEMO_TENANT = Path(__file__).parent / "tenants" / "demo.yaml"

# Graph's phone format: "+{country code} {subscriber number}[x{extension}]".
PHONE_RE = re.compile(r"^\+[1-9]\d{0,2} \d{4,15}(x\d{1,10})?$")
PHONE_TYPES = ("mobile", "alternateMobile", "office")

_TOP_KEYS = {"tenant", "applications", "users", "groups", "administrative_units",
             "pim_licensed", "authentication_methods_policy"}
_TENANT_KEYS = {"id", "domain", "name"}
_APP_KEYS = {
    "client_id", "client_secret", "client_secrets", "display_name", "redirect_uris",
    "application_permissions", "certificates", "directory_roles", "api_scopes",
    "id", "service_principal_id", "owners", "service_principal_owners",
    "access_token_version", "optional_claims",
}
_USER_KEYS = {
    "id", "userPrincipalName", "displayName", "password", "jobTitle", "mail", "givenName",
    "surname", "officeLocation", "mobilePhone", "businessPhones", "accountEnabled",
    "forceChangePasswordNextSignIn", "phones", "directory_roles", "eligible_roles",
    "otherMails",
}
_GROUP_KEYS = {"id", "displayName", "description", "members", "role_assignable", "directory_roles",
               "owners", "eligible_members", "eligible_owners"}
_AU_KEYS = {"id", "displayName", "description", "members", "scoped_roles", "visibility"}
_POLICY_KEYS = {"temporary_access_pass", "sms"}
_TAP_KEYS = {"state", "default_lifetime_minutes", "minimum_lifetime_minutes",
             "maximum_lifetime_minutes", "is_usable_once", "length", "include_groups",
             "exclude_groups"}
_SMS_KEYS = {"state", "include_groups", "exclude_groups"}
_SMS_TARGET_KEYS = {"group", "is_usable_for_sign_in"}


class TenantFileError(YamlFileError):
    """A tenant file that cannot be loaded; str() is ``PATH:LINE: message``."""


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, line: int, message: str) -> TenantFileError:
        return TenantFileError(self.path, line, message)

    def mapping(self, value: Any, line: int, what: str, allowed: set[str]) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(line, f"{what} must be a mapping")
        for key in value:
            if key not in allowed:
                raise self.fail(value.line_of(key), f"unknown key '{key}' in {what}")
        return value

    def seq(self, parent: LineDict, key: str) -> LineList:
        value = parent.get(key)
        if value is None:
            empty = LineList()
            empty.line = parent.line_of(key)
            empty.item_lines = []
            return empty
        if not isinstance(value, LineList):
            raise self.fail(parent.line_of(key), f"'{key}' must be a list")
        return value

    def text(self, parent: LineDict, key: str, required: bool = False) -> str | None:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(parent.line, f"missing required key '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(parent.line_of(key), f"'{key}' must be a non-empty string")
        return value

    def guid(self, parent: LineDict, key: str) -> str | None:
        value = self.text(parent, key)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise self.fail(parent.line_of(key), f"'{key}' is not a GUID: {value!r}") from None

    def strings(self, parent: LineDict, key: str) -> list[tuple[str, int]]:
        items = self.seq(parent, key)
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(items.line_of(i), f"'{key}' items must be non-empty strings")
            out.append((item, items.line_of(i)))
        return out

    def role(self, name: str, line: int) -> str:
        template = ROLE_TEMPLATES.get(name)
        if template is None:
            raise self.fail(line, f"unknown role name '{name}'")
        return template


def load_tenant(path: str | Path) -> Directory:
    """Read a tenant file; raises TenantFileError (``PATH:LINE: message``) on any problem."""
    # loads_fast: same result as load, several times faster (a 100,000-user file).
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return build_directory(load(path), name)  # load reports the read error with the path
    return build_directory(loads_fast(text, name), name)


def build_directory(doc: Any, path: str = "<tenant>") -> Directory:
    r = _Reader(path)
    root = r.mapping(doc, 1, "the tenant file", _TOP_KEYS)
    tenant_node = r.mapping(root.get("tenant"), root.line_of("tenant"), "'tenant'", _TENANT_KEYS)
    domain = r.text(tenant_node, "domain", required=True) or ""
    tenant = Tenant(
        id=r.guid(tenant_node, "id") or derive_id("tenant", domain),
        domain=domain,
        name=r.text(tenant_node, "name") or domain,
    )
    directory = Directory(tenant=tenant, pim_licensed=_flag(r, root, "pim_licensed", True))
    pending_roles: list[tuple[str, str, str, int]] = []  # principal, role name, scope, line

    for i, node in enumerate(r.seq(root, "users")):
        line = r.seq(root, "users").line_of(i)
        u = r.mapping(node, line, "a user", _USER_KEYS)
        upn = r.text(u, "userPrincipalName", required=True) or ""
        if "@" not in upn:
            raise r.fail(u.line_of("userPrincipalName"), f"userPrincipalName '{upn}' has no '@'")
        if directory.find_user(upn) is not None:
            raise r.fail(u.line_of("userPrincipalName"), f"duplicate userPrincipalName '{upn}'")
        uid = r.guid(u, "id") or derive_id("user", upn)
        if directory.object(uid) is not None:
            raise r.fail(u.line_of("id"), f"duplicate id '{uid}'")
        user = User(
            id=uid,
            user_principal_name=upn,
            display_name=r.text(u, "displayName", required=True) or "",
            password=r.text(u, "password") or "",
            job_title=r.text(u, "jobTitle"),
            mail=r.text(u, "mail"),
            given_name=r.text(u, "givenName"),
            surname=r.text(u, "surname"),
            office_location=r.text(u, "officeLocation"),
            mobile_phone=r.text(u, "mobilePhone"),
            business_phones=[s for s, _ in r.strings(u, "businessPhones")],
            account_enabled=_flag(r, u, "accountEnabled", True),
            force_change_password_next_sign_in=_flag(r, u, "forceChangePasswordNextSignIn", False),
            other_mails=[s for s, _ in r.strings(u, "otherMails")],
        )
        phones = u.get("phones")
        if phones is not None:
            pnode = r.mapping(phones, u.line_of("phones"), "'phones'", set(PHONE_TYPES))
            for ptype, number in pnode.items():
                pline = pnode.line_of(ptype)
                if not isinstance(number, str) or not PHONE_RE.match(number):
                    raise r.fail(
                        pline,
                        f"malformed phone number {number!r}: "
                        "Graph needs '+{country code} {number}[x{extension}]'",
                    )
                state = "notEnabled" if ptype == "mobile" else "notSupported"
                user.phones[ptype] = Phone(ptype, number, state)
            if "alternateMobile" in user.phones and "mobile" not in user.phones:
                raise r.fail(pnode.line, "an alternateMobile phone needs a mobile phone")
        for role, rline in r.strings(u, "directory_roles"):
            pending_roles.append((uid, role, "/", rline))
        _eligible_roles(r, directory, uid, r.strings(u, "eligible_roles"))
        directory.add_user(user)

    group_nodes = r.seq(root, "groups")
    group_members: list[tuple[Group, list[tuple[str, int]]]] = []
    for i, node in enumerate(group_nodes):
        g = r.mapping(node, group_nodes.line_of(i), "a group", _GROUP_KEYS)
        name = r.text(g, "displayName", required=True) or ""
        gid = r.guid(g, "id") or derive_id("group", name)
        if directory.object(gid) is not None or _group_named(directory, name):
            raise r.fail(g.line_of("displayName"), f"duplicate group '{name}'")
        group = Group(
            id=gid,
            display_name=name,
            description=r.text(g, "description"),
            role_assignable=_flag(r, g, "role_assignable", False),
        )
        roles = r.strings(g, "directory_roles")
        if roles and not group.role_assignable:
            raise r.fail(g.line_of("directory_roles"),
                         f"group '{name}' holds roles but is not role_assignable")
        for role, rline in roles:
            pending_roles.append((gid, role, "/", rline))
        directory.groups[gid] = group
        group_members.append((group, r.strings(g, "members")))
        group.owners = _users(r, directory, r.strings(g, "owners"), "owner")
        for access in ("member", "owner"):
            key = f"eligible_{access}s"
            for principal in _users(r, directory, r.strings(g, key), f"eligible {access}"):
                schedule = f"{gid}_{access}_{_uuid(principal, 'groupEligibility:' + gid)}"
                directory.group_eligibilities.append(GroupEligibility(
                    id=schedule, group_id=gid, principal_id=principal, access_id=access,
                    schedule_id=schedule, start=PIM_START))
    for group, members in group_members:
        group.members = [_resolve_member(r, directory, ref, line) for ref, line in members]
    if "authentication_methods_policy" in root:
        directory.methods_policy = _methods_policy(r, directory, root)

    au_nodes = r.seq(root, "administrative_units")
    for i, node in enumerate(au_nodes):
        a = r.mapping(node, au_nodes.line_of(i), "an administrative unit", _AU_KEYS)
        name = r.text(a, "displayName", required=True) or ""
        aid = r.guid(a, "id") or derive_id("administrativeUnit", name)
        if directory.object(aid) is not None:
            raise r.fail(a.line_of("displayName"), f"duplicate administrative unit '{name}'")
        unit = AdministrativeUnit(
            id=aid, display_name=name, description=r.text(a, "description"),
            visibility=r.text(a, "visibility"),
        )
        unit.members = [
            _resolve_member(r, directory, ref, line) for ref, line in r.strings(a, "members")
        ]
        directory.administrative_units[aid] = unit
        scoped = r.seq(a, "scoped_roles")
        for j, snode in enumerate(scoped):
            s = r.mapping(snode, scoped.line_of(j), "a scoped role", {"role", "member"})
            member_ref = r.text(s, "member", required=True) or ""
            principal = _resolve_member(r, directory, member_ref, s.line_of("member"))
            holder = directory.groups.get(principal)
            if holder is not None and not holder.role_assignable:
                raise r.fail(s.line_of("member"),
                             f"group '{holder.display_name}' is not role_assignable")
            role = r.text(s, "role", required=True) or ""
            scope = f"/administrativeUnits/{aid}"
            pending_roles.append((principal, role, scope, s.line_of("role")))

    app_nodes = r.seq(root, "applications")
    for i, node in enumerate(app_nodes):
        a = r.mapping(node, app_nodes.line_of(i), "an application", _APP_KEYS)
        client_id = r.guid(a, "client_id")
        if client_id is None:
            raise r.fail(a.line, "missing required key 'client_id'")
        if client_id in directory.applications:
            raise r.fail(a.line_of("client_id"), f"duplicate client_id '{client_id}'")
        secrets = [s for s, _ in r.strings(a, "client_secrets")]
        single = r.text(a, "client_secret")
        if single:
            secrets.insert(0, single)
        app = Application(
            client_id=client_id,
            display_name=r.text(a, "display_name") or f"app {client_id[:8]}",
            service_principal_id=(r.guid(a, "service_principal_id")
                                  or derive_id("servicePrincipal", client_id)),
            client_secrets=secrets,
            redirect_uris=[s for s, _ in r.strings(a, "redirect_uris")],
            application_permissions=[s for s, _ in r.strings(a, "application_permissions")],
            certificates=[s for s, _ in r.strings(a, "certificates")],
            api_scopes=[s for s, _ in r.strings(a, "api_scopes")],
            object_id=r.guid(a, "id") or derive_id("application", client_id),
            owners=_users(r, directory, r.strings(a, "owners"), "owner"),
            service_principal_owners=_users(r, directory, r.strings(a, "service_principal_owners"),
                                            "owner"),
            access_token_version=_token_version(r, a),
            optional_claims=_optional_claims(r, a),
        )
        taken = {i for other in directory.applications.values()
                 for i in (other.object_id, other.service_principal_id)}
        for key, value in (("id", app.object_id),
                           ("service_principal_id", app.service_principal_id)):
            if value in taken or directory.object(value) is not None:
                raise r.fail(a.line_of(key), f"duplicate object id '{value}'")
            taken.add(value)
        for role, rline in r.strings(a, "directory_roles"):
            pending_roles.append((app.service_principal_id, role, "/", rline))
        directory.applications[client_id] = app

    for n, (principal, role, scope, line) in enumerate(pending_roles):
        template = r.role(role, line)
        directory.role_assignments.append(
            RoleAssignment(
                id=str(uuid.uuid5(uuid.UUID(principal), f"{template}{scope}{n}")),
                principal_id=principal,
                role_definition_id=template,
                directory_scope_id=scope,
            )
        )
    return directory


def _methods_policy(r: _Reader, directory: Directory,
                    root: LineDict) -> AuthenticationMethodsPolicy:
    """``authentication_methods_policy: {temporary_access_pass: {...}, sms: {...}}``; an
    absent key keeps Entra's default (both methods enabled for all users)."""
    node = r.mapping(root.get("authentication_methods_policy"),
                     root.line_of("authentication_methods_policy"),
                     "'authentication_methods_policy'", _POLICY_KEYS)
    policy = AuthenticationMethodsPolicy()
    if "temporary_access_pass" in node:
        policy.temporary_access_pass = _tap_policy(r, directory, node)
    if "sms" in node:
        policy.sms = _sms_policy(r, directory, node)
    return policy


def _tap_policy(r: _Reader, directory: Directory, parent: LineDict) -> TemporaryAccessPassPolicy:
    t = r.mapping(parent.get("temporary_access_pass"), parent.line_of("temporary_access_pass"),
                  "'temporary_access_pass'", _TAP_KEYS)
    tap = TemporaryAccessPassPolicy(state=_state(r, t))
    lifetimes = []
    for key, default in (("minimum_lifetime_minutes", tap.minimum_lifetime),
                         ("default_lifetime_minutes", tap.default_lifetime),
                         ("maximum_lifetime_minutes", tap.maximum_lifetime)):
        lifetimes.append(_int(r, t, key, default, LIFETIME_RANGE))
    tap.minimum_lifetime, tap.default_lifetime, tap.maximum_lifetime = lifetimes
    if tap.minimum_lifetime > tap.maximum_lifetime:
        raise r.fail(t.line_of("minimum_lifetime_minutes") if "minimum_lifetime_minutes" in t
                     else t.line_of("maximum_lifetime_minutes"),
                     f"minimum_lifetime_minutes ({tap.minimum_lifetime}) is more than "
                     f"maximum_lifetime_minutes ({tap.maximum_lifetime})")
    if not tap.minimum_lifetime <= tap.default_lifetime <= tap.maximum_lifetime:
        raise r.fail(t.line_of("default_lifetime_minutes") if "default_lifetime_minutes" in t
                     else t.line,
                     f"default_lifetime_minutes ({tap.default_lifetime}) must be between "
                     f"minimum_lifetime_minutes ({tap.minimum_lifetime}) and "
                     f"maximum_lifetime_minutes ({tap.maximum_lifetime})")
    tap.is_usable_once = _flag(r, t, "is_usable_once", False)
    tap.length = _int(r, t, "length", tap.length, LENGTH_RANGE)
    if "include_groups" in t:
        tap.include = [MethodTarget(gid) for gid, _, _ in _targets(r, directory, t, False)]
    tap.exclude = _excluded(r, directory, t)
    return tap


def _sms_policy(r: _Reader, directory: Directory, parent: LineDict) -> SmsPolicy:
    s = r.mapping(parent.get("sms"), parent.line_of("sms"), "'sms'", _SMS_KEYS)
    sms = SmsPolicy(state=_state(r, s))
    if "include_groups" in s:
        sms.include = [MethodTarget(gid, usable) for gid, usable, _ in
                       _targets(r, directory, s, True)]
    sms.exclude = _excluded(r, directory, s)
    return sms


def _state(r: _Reader, node: LineDict) -> str:
    value = node.get("state", "enabled")
    if value not in ("enabled", "disabled"):
        raise r.fail(node.line_of("state"), "'state' must be enabled or disabled")
    return str(value)


def _int(r: _Reader, node: LineDict, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = node.get(key, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise r.fail(node.line_of(key), f"'{key}' must be an integer from {low} to {high}")
    return value


def _group_id(r: _Reader, directory: Directory, ref: str, line: int) -> str:
    group = directory.groups.get(ref.lower()) or _group_named(directory, ref)
    if group is None:
        raise r.fail(line, f"unknown group '{ref}' (not a group name or id, nor all_users)")
    return group.id


def _targets(r: _Reader, directory: Directory, node: LineDict,
             sms: bool) -> list[tuple[str, bool, int]]:
    """``include_groups``: group names or ids, or ``all_users``; for SMS an entry may also be
    ``{group: ..., is_usable_for_sign_in: false}``. Returns (id, usable for sign-in, line)."""
    items = r.seq(node, "include_groups")
    out: list[tuple[str, bool, int]] = []
    for i, item in enumerate(items):
        line = items.line_of(i)
        usable = True
        if sms and isinstance(item, LineDict):
            entry = r.mapping(item, line, "an include_groups entry", _SMS_TARGET_KEYS)
            ref = r.text(entry, "group", required=True) or ""
            usable = _flag(r, entry, "is_usable_for_sign_in", True)
        elif isinstance(item, str) and item.strip():
            ref = item
        else:
            raise r.fail(line, "'include_groups' items must be group names or ids, or all_users"
                         + (", or {group, is_usable_for_sign_in}" if sms else ""))
        gid = ALL_USERS if ref == ALL_USERS else _group_id(r, directory, ref, line)
        if any(gid == seen for seen, _, _ in out):
            raise r.fail(line, f"duplicate include_groups entry '{ref}'")
        out.append((gid, usable, line))
    return out


def _excluded(r: _Reader, directory: Directory, node: LineDict) -> list[str]:
    out: list[str] = []
    for ref, line in r.strings(node, "exclude_groups"):
        if ref == ALL_USERS:
            raise r.fail(line, "'exclude_groups' names groups; all_users cannot be excluded")
        gid = _group_id(r, directory, ref, line)
        if gid in out:
            raise r.fail(line, f"duplicate exclude_groups entry '{ref}'")
        out.append(gid)
    return out


def _uuid(principal: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(principal), name))


def _eligible_roles(r: _Reader, directory: Directory, principal: str,
                    roles: list[tuple[str, int]]) -> None:
    """PIM eligibilities for directory roles, tenant-wide (directoryScopeId "/")."""
    seen: set[str] = set()
    for name, line in roles:
        template = r.role(name, line)
        if template in seen:
            raise r.fail(line, f"duplicate eligible role '{name}'")
        seen.add(template)
        directory.role_eligibilities.append(RoleEligibility(
            id=role_eligibility_id(template, principal), principal_id=principal,
            role_definition_id=template, directory_scope_id="/",
            schedule_id=_uuid(principal, f"roleEligibilitySchedule:{template}"),
            start=PIM_START))


def _users(r: _Reader, directory: Directory, refs: list[tuple[str, int]], what: str) -> list[str]:
    """User references (UPN or object id) -> user ids; an owner or eligible principal here
    can only be a user."""
    out: list[str] = []
    for ref, line in refs:
        user = directory.find_user(ref)
        if user is None:
            raise r.fail(line, f"unknown {what} '{ref}' (not a user UPN or id)")
        if user.id in out:
            raise r.fail(line, f"duplicate {what} '{ref}'")
        out.append(user.id)
    return out


#: The optional claims (app registration, Token configuration) the fake can add to tokens.
OPTIONAL_CLAIMS = ("auth_time",)


def _optional_claims(r: _Reader, node: LineDict) -> list[str]:
    """``optional_claims: [auth_time]``: the claims Entra adds to this app's ID tokens and
    to access tokens for its API because its registration asks for them."""
    out = []
    for name, line in r.strings(node, "optional_claims"):
        if name not in OPTIONAL_CLAIMS:
            raise r.fail(line, f"unknown optional claim '{name}' (the fake knows: "
                         f"{', '.join(OPTIONAL_CLAIMS)})")
        out.append(name)
    return out


def _token_version(r: _Reader, node: LineDict) -> int:
    """The manifest's ``accessTokenAcceptedVersion`` of an app's API: 1 (Entra's default
    for a custom API, v1.0 tokens) or 2; the fake defaults to 2."""
    value = node.get("access_token_version", 2)
    if value not in (1, 2) or isinstance(value, bool):
        raise r.fail(node.line_of("access_token_version"),
                     "'access_token_version' must be 1 or 2")
    return int(value)


def _flag(r: _Reader, node: LineDict, key: str, default: bool) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        raise r.fail(node.line_of(key), f"'{key}' must be true or false")
    return value


def _group_named(directory: Directory, name: str) -> Group | None:
    for group in directory.groups.values():
        if group.display_name.lower() == name.lower():
            return group
    return None


def _resolve_member(r: _Reader, directory: Directory, ref: str, line: int) -> str:
    """A member reference: a user's UPN or id, or a group's displayName or id."""
    user = directory.find_user(ref)
    if user is not None:
        return user.id
    group = directory.groups.get(ref.lower()) or _group_named(directory, ref)
    if group is not None:
        return group.id
    raise r.fail(line, f"unknown member '{ref}' (not a user UPN/id or a group name/id)")
