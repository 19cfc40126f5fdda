"""The fake tenant's in-memory state: users, groups, administrative units, roles, apps.

Everything the Graph and identity endpoints read or change lives here, as plain dataclasses,
so handlers stay about HTTP and tests can look at the state directly.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field

from .methods_policy import (
    ALL_USERS,
    AuthenticationMethodsPolicy,
    MethodTarget,
    TemporaryAccessPass,
    sms_sign_in_allowed,
    tap_allowed,
)

# Stable ids of the built-in Entra roles (role template ids are the same in every tenant).
ROLE_TEMPLATES: dict[str, str] = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    "Authentication Policy Administrator": "0526716b-113d-4c15-b2c8-68e3c22b9f80",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Password Administrator": "966707d0-3269-4727-9be2-8c3a10f19b9d",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
    "Groups Administrator": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "Guest Inviter": "95e79109-95c0-4d8e-aee3-d01accf2d47b",
    "Reports Reader": "4a5d8f65-41da-4de4-8968-e035b65339cf",
    "Message Center Reader": "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
    "License Administrator": "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
}
ROLE_NAMES: dict[str, str] = {tid: name for name, tid in ROLE_TEMPLATES.items()}

# Fixed ids of the phone methods, one per type (Graph documents these values).
PHONE_METHOD_IDS: dict[str, str] = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}
PHONE_TYPES_BY_ID: dict[str, str] = {v: k for k, v in PHONE_METHOD_IDS.items()}
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"

# When every PIM eligibility of a tenant file starts (a fixed past time, so that ids and
# answers are the same after each load and reset). Eligibilities are permanent (no end).
PIM_START = "2025-01-06T08:00:00Z"

_ID_NAMESPACE = uuid.UUID("7f1f2d8e-4d0a-4c7a-9a53-0c6a1b8e5f10")


def derive_id(kind: str, key: str) -> str:
    """The stable object id fake_graph gives an object declared without an explicit ``id``.

    ``kind`` is ``user`` (key: UPN), ``group``, ``administrativeUnit`` (key: displayName),
    ``servicePrincipal`` or ``application`` (key: client id). Case-insensitive, like UPNs.
    """
    return _uuid5(f"{kind}:{key.strip().lower()}")


_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_ID_NAMESPACE, name))`` without the UUID object (3x faster: a
    100,000-user tenant derives 100,000 ids at load)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])  # noqa: S324 - RFC 4122 v5
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def role_eligibility_id(template_id: str, principal_id: str) -> str:
    """A roleEligibilityScheduleInstance id as Graph builds them: the role definition's and
    the principal's GUID bytes, base64url without padding, then ``-1-e``."""
    raw = uuid.UUID(template_id).bytes_le + uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-1-e"


def directory_role_id(template_id: str) -> str:
    """The id of the activated directoryRole object for a role template in this tenant."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"directoryRole:{template_id}"))


@dataclass
class Phone:
    phone_type: str
    number: str
    # What SMS sign-in was last set to (``notEnabled``, ``ready``, ``phoneNumberNotUnique``;
    # ``notSupported`` for other types than mobile); Directory.sms_sign_in_state is what
    # Graph shows, the policy applied.
    sms_sign_in_state: str

    @property
    def id(self) -> str:
        return PHONE_METHOD_IDS[self.phone_type]


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    password: str
    job_title: str | None = None
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    office_location: str | None = None
    mobile_phone: str | None = None
    business_phones: list[str] = field(default_factory=list)
    account_enabled: bool = True
    force_change_password_next_sign_in: bool = False
    phones: dict[str, Phone] = field(default_factory=dict)
    # signInSessionsValidFromDateTime: tokens and sessions issued before it are void;
    # revokeSignInSessions moves it to "now". None (null) until then: a fixed past time
    # would do too, but "now" at load would void every session at each fake reset.
    sign_in_sessions_valid_from: float | None = None
    # The user's one Temporary Access Pass (a new one replaces it), or None.
    temporary_access_pass: TemporaryAccessPass | None = None
    # otherMails: addresses outside the tenant (a personal mailbox), for people without one.
    other_mails: list[str] = field(default_factory=list)

    odata_type = "#microsoft.graph.user"


@dataclass
class Group:
    id: str
    display_name: str
    members: list[str] = field(default_factory=list)  # object ids: users or groups
    role_assignable: bool = False
    description: str | None = None
    owners: list[str] = field(default_factory=list)  # user object ids

    odata_type = "#microsoft.graph.group"


@dataclass
class AdministrativeUnit:
    id: str
    display_name: str
    members: list[str] = field(default_factory=list)  # object ids: users or groups
    description: str | None = None
    visibility: str | None = None

    odata_type = "#microsoft.graph.administrativeUnit"


@dataclass
class RoleAssignment:
    id: str
    principal_id: str
    role_definition_id: str  # the role template id
    directory_scope_id: str  # "/" or "/administrativeUnits/{id}"


@dataclass
class RoleEligibility:
    """A PIM eligibility for a directory role (``unifiedRoleEligibilityScheduleInstance``)."""

    id: str
    principal_id: str
    role_definition_id: str  # the role template id
    directory_scope_id: str  # "/" (tenant-wide)
    schedule_id: str
    start: str  # ISO 8601, UTC


@dataclass
class GroupEligibility:
    """A PIM for Groups eligibility (``privilegedAccessGroupEligibilityScheduleInstance``)."""

    id: str
    group_id: str
    principal_id: str
    access_id: str  # "member" | "owner"
    schedule_id: str
    start: str  # ISO 8601, UTC


@dataclass
class Application:
    """An app registration: its application object and its service principal."""

    client_id: str  # appId
    display_name: str
    service_principal_id: str
    client_secrets: list[str] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)
    application_permissions: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)  # PEM
    api_scopes: list[str] = field(default_factory=list)
    object_id: str = ""  # the application object's id (not the appId); set by the loader
    owners: list[str] = field(default_factory=list)  # of the application object: user ids
    service_principal_owners: list[str] = field(default_factory=list)  # user ids
    # accessTokenAcceptedVersion: the shape of access tokens for this app's own API
    # (1: v1.0, issuer sts.windows.net, appid/upn claims; 2: v2.0, azp/preferred_username).
    access_token_version: int = 2
    # The manifest's optional claims (Token configuration), for the ID tokens this app gets
    # and the access tokens for its own API: only ``auth_time`` is modelled.
    optional_claims: list[str] = field(default_factory=list)

    odata_type = "#microsoft.graph.application"
    service_principal_odata_type = "#microsoft.graph.servicePrincipal"

    def __post_init__(self) -> None:
        if not self.object_id:
            self.object_id = derive_id("application", self.client_id)


@dataclass
class Tenant:
    id: str
    domain: str
    name: str


@dataclass
class Directory:
    """The whole state of one fake tenant."""

    tenant: Tenant
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    administrative_units: dict[str, AdministrativeUnit] = field(default_factory=dict)
    applications: dict[str, Application] = field(default_factory=dict)  # by client id
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    # Privileged Identity Management: eligibilities, and whether the tenant holds the
    # Entra ID P2 license PIM needs (without it, Graph refuses the PIM reads).
    role_eligibilities: list[RoleEligibility] = field(default_factory=list)
    group_eligibilities: list[GroupEligibility] = field(default_factory=list)
    pim_licensed: bool = True
    # The Temporary Access Pass and SMS method configurations (tenant key
    # ``authentication_methods_policy``).
    methods_policy: AuthenticationMethodsPolicy = field(
        default_factory=AuthenticationMethodsPolicy)
    _upn_index: dict[str, str] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        self._upn_index[user.user_principal_name.lower()] = user.id

    def find_user(self, id_or_upn: str) -> User | None:
        """A user by object id or UPN (case-insensitive), as Graph's /users/{id|upn}."""
        user = self.users.get(id_or_upn.lower())
        if user is not None:
            return user
        uid = self._upn_index.get(id_or_upn.lower())
        return self.users.get(uid) if uid else None

    def object(self, object_id: str) -> User | Group | AdministrativeUnit | None:
        key = object_id.lower()
        return self.users.get(key) or self.groups.get(key) or self.administrative_units.get(key)

    def service_principal(self, sp_id: str) -> Application | None:
        sp_id = sp_id.lower()
        for app in self.applications.values():
            if app.service_principal_id == sp_id:
                return app
        return None

    def application(self, object_id: str) -> Application | None:
        """An app registration by its application object id (not its appId)."""
        object_id = object_id.lower()
        for app in self.applications.values():
            if app.object_id == object_id:
                return app
        return None

    # -- memberships -----------------------------------------------------------------------

    def direct_groups(self, object_id: str) -> list[Group]:
        return [g for g in self.groups.values() if object_id in g.members]

    def transitive_groups(self, object_id: str) -> list[Group]:
        """Every group the object is in, directly or through nested groups (cycle-safe)."""
        seen: dict[str, Group] = {}
        frontier = [object_id]
        while frontier:
            current = frontier.pop()
            for group in self.direct_groups(current):
                if group.id not in seen:
                    seen[group.id] = group
                    frontier.append(group.id)
        return list(seen.values())

    def tap_allowed(self, user_id: str) -> bool:
        """Whether the Temporary Access Pass method is enabled for this user."""
        policy = self.methods_policy.temporary_access_pass
        return tap_allowed(policy, self._targeted_groups(user_id, policy.include,
                                                         policy.exclude))

    def sms_sign_in_allowed(self, user_id: str) -> bool:
        """Whether the SMS method is enabled for this user and usable to sign in."""
        policy = self.methods_policy.sms
        return sms_sign_in_allowed(policy, self._targeted_groups(user_id, policy.include,
                                                                 policy.exclude))

    def _targeted_groups(self, user_id: str, include: list[MethodTarget],
                         exclude: list[str]) -> set[str]:
        """The user's groups (nested included), unless the targets name no group at all."""
        if not exclude and all(t.id == ALL_USERS for t in include):
            return set()
        return {g.id for g in self.transitive_groups(user_id)}

    def sms_sign_in_state(self, user: User, phone: Phone) -> str:
        """A phone's ``smsSignInState`` as Graph shows it: a ``mobile`` of a user the SMS
        policy does not enable for sign-in is ``notAllowedByPolicy``, whatever was set."""
        if phone.phone_type == "mobile" and not self.sms_sign_in_allowed(user.id):
            return "notAllowedByPolicy"
        return phone.sms_sign_in_state

    def direct_units(self, object_id: str) -> list[AdministrativeUnit]:
        return [u for u in self.administrative_units.values() if object_id in u.members]

    # -- role assignments --------------------------------------------------------------------

    def assign_role(self, principal_id: str, role: str, scope: str = "/") -> RoleAssignment:
        """Assign a directory role (a name of ``ROLE_TEMPLATES`` or a template id) to a user,
        group or service principal, tenant-wide (``"/"``) or scoped to an administrative unit
        (``"/administrativeUnits/{id}"``); an existing identical assignment is returned as is.
        The id is stable (derived from the three values), so it is the same after a reset."""
        template = ROLE_TEMPLATES.get(role, role.lower())
        if template not in ROLE_NAMES:
            raise ValueError(f"unknown directory role '{role}'")
        unit = scope.removeprefix("/administrativeUnits/")
        if scope != "/" and (unit == scope or unit not in self.administrative_units):
            raise ValueError(f"scope '{scope}' is neither '/' nor an administrative unit's")
        for existing in self.role_assignments:
            if (existing.principal_id, existing.role_definition_id,
                    existing.directory_scope_id) == (principal_id, template, scope):
                return existing
        assignment = RoleAssignment(
            id=str(uuid.uuid5(uuid.UUID(principal_id), f"assigned:{template}{scope}")),
            principal_id=principal_id, role_definition_id=template, directory_scope_id=scope)
        self.role_assignments.append(assignment)
        return assignment

    def unassign_roles(self, principal_id: str) -> None:
        """Remove every directory role assignment of this principal (any scope)."""
        self.role_assignments = [a for a in self.role_assignments
                                 if a.principal_id != principal_id]

    def assignments_of(self, principal_id: str) -> list[RoleAssignment]:
        return [a for a in self.role_assignments if a.principal_id == principal_id]

    def tenant_wide_roles(self, principal_id: str, transitive: bool) -> set[str]:
        """Role template ids held tenant-wide: directly, or also through groups."""
        principals = [principal_id]
        if transitive:
            principals += [g.id for g in self.transitive_groups(principal_id)]
        return {
            a.role_definition_id
            for p in principals
            for a in self.assignments_of(p)
            if a.directory_scope_id == "/"
        }

    def all_roles(self, principal_id: str) -> set[str]:
        """Role template ids held at any scope, directly or through role-assignable groups."""
        principals = [principal_id] + [g.id for g in self.transitive_groups(principal_id)]
        return {a.role_definition_id for p in principals for a in self.assignments_of(p)}
