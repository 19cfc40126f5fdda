"""Permission checks from the token: app-only ``roles`` or delegated ``scp``.

Each endpoint names every permission that satisfies it (the least privileged one and the broader
ones Graph documents in each endpoint's Learn page, "Permissions"). Missing all of them is
``403 Authorization_RequestDenied``, "Insufficient privileges to complete the operation."
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import access_denied
from .context import Caller


@dataclass(frozen=True)
class Requirement:
    application: frozenset[str]
    delegated: frozenset[str]

    def satisfied_by(self, caller: Caller) -> bool:
        granted = self.application if caller.app_only else self.delegated
        return not granted.isdisjoint(caller.permissions)

    def __or__(self, other: Requirement) -> Requirement:
        return Requirement(self.application | other.application, self.delegated | other.delegated)


def needs(application: Iterable[str], delegated: Iterable[str] | None = None) -> Requirement:
    """``delegated`` defaults to the application list (most directory reads are symmetric)."""
    app = frozenset(application)
    return Requirement(app, app if delegated is None else frozenset(delegated))


def require(caller: Caller, requirement: Requirement) -> None:
    if not requirement.satisfied_by(caller):
        raise access_denied()


_DIR_READ = ("Directory.Read.All", "Directory.ReadWrite.All")
_AS_USER = ("Directory.AccessAsUser.All",)

READ_USERS = needs(("User.Read.All", "User.ReadWrite.All", *_DIR_READ),
                   ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", *_DIR_READ,
                    *_AS_USER))
READ_SELF = needs((), ("User.Read", "User.ReadWrite"))
READ_GROUPS = needs(("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All",
                     "GroupMember.ReadWrite.All", *_DIR_READ))
READ_UNITS = needs(("AdministrativeUnit.Read.All", "AdministrativeUnit.ReadWrite.All",
                    *_DIR_READ),
                   ("AdministrativeUnit.Read.All", "AdministrativeUnit.ReadWrite.All",
                    *_DIR_READ, *_AS_USER))
READ_ROLES = needs(("RoleManagement.Read.Directory", "RoleManagement.Read.All",
                    "RoleManagement.ReadWrite.Directory", *_DIR_READ))
# memberOf / transitiveMemberOf of users and groups
# (https://learn.microsoft.com/graph/api/user-list-memberof).
READ_MEMBERSHIPS = needs(
    (*_DIR_READ, "GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All",
     "Group.ReadWrite.All"),
    ("User.Read.All", "User.ReadWrite.All", *_DIR_READ, "GroupMember.Read.All",
     "Group.Read.All", *_AS_USER),
)
# Objects of a type the caller cannot read come back with only @odata.type and id
# (https://learn.microsoft.com/graph/api/administrativeunit-list-members, "limited information").
READ_HIDDEN_MEMBERS = needs(("Member.Read.Hidden",))

WRITE_USER = needs(("User.ReadWrite.All", "Directory.ReadWrite.All"),
                   ("User.ReadWrite.All", "Directory.ReadWrite.All", *_AS_USER))
WRITE_PASSWORD_PROFILE = WRITE_USER | needs(("User-PasswordProfile.ReadWrite.All",))
WRITE_USER_PHONES = WRITE_USER | needs(("User-Phone.ReadWrite.All",))
WRITE_ACCOUNT_ENABLED = WRITE_USER | needs(("User.EnableDisableAccount.All",))
REVOKE_SESSIONS = WRITE_USER | needs(("User.RevokeSessions.All",))

_AUTH_RW = ("UserAuthenticationMethod.ReadWrite.All",)
READ_AUTH_METHODS = needs(("UserAuthenticationMethod.Read.All", *_AUTH_RW))
READ_PHONE_METHODS = READ_AUTH_METHODS | needs(("UserAuthMethod-Phone.Read.All",
                                                "UserAuthMethod-Phone.ReadWrite.All"))
WRITE_PHONE_METHODS = needs((*_AUTH_RW, "UserAuthMethod-Phone.ReadWrite.All"))
# Temporary Access Pass methods (Learn: "Create temporaryAccessPassMethod", "List
# temporaryAccessPassMethods", "Get" and "Delete temporaryAccessPassAuthenticationMethod").
# Another user's: the .All permissions; one's own (delegated): any of them.
_TAP_RW_ALL = (*_AUTH_RW, "UserAuthMethod-TAP.ReadWrite.All")
_TAP_READ_ALL = (*_TAP_RW_ALL, "UserAuthenticationMethod.Read.All", "UserAuthMethod-TAP.Read.All")
_TAP_SELF = ("UserAuthenticationMethod.ReadWrite", "UserAuthMethod-TAP.ReadWrite")
READ_TAP_METHODS = needs(_TAP_READ_ALL)
READ_OWN_TAP_METHODS = READ_TAP_METHODS | needs((), (*_TAP_SELF, "UserAuthenticationMethod.Read",
                                                      "UserAuthMethod-TAP.Read"))
WRITE_TAP_METHODS = needs(_TAP_RW_ALL)
DELETE_OWN_TAP_METHODS = WRITE_TAP_METHODS | needs((), _TAP_SELF)
# The authentication methods policy's method configurations (Learn: "Get
# temporaryAccessPassAuthenticationMethodConfiguration", "Get smsAuthenticationMethodConfiguration":
# Policy.Read.All on the older pages, Policy.Read.AuthenticationMethod on the newer).
READ_AUTH_METHODS_POLICY = needs(("Policy.Read.All", "Policy.Read.AuthenticationMethod",
                                  "Policy.ReadWrite.AuthenticationMethod"))
# resetPassword and its operation: "Application: not supported"
# (https://learn.microsoft.com/graph/api/authenticationmethod-resetpassword).
RESET_PASSWORD = needs((), _AUTH_RW)
# Learn "Get longRunningOperation": another user's needs the .All scopes, one's own any of them.
READ_OPERATIONS = needs((), ("UserAuthenticationMethod.Read.All", *_AUTH_RW))
READ_OWN_OPERATIONS = READ_OPERATIONS | needs((), ("UserAuthenticationMethod.Read",
                                                   "UserAuthenticationMethod.ReadWrite"))

# Privileged Identity Management reads (Learn: "List roleEligibilityScheduleInstances",
# "List eligibilityScheduleInstances" of PIM for Groups).
READ_ROLE_ELIGIBILITY = needs(("RoleEligibilitySchedule.Read.Directory",
                               "RoleEligibilitySchedule.ReadWrite.Directory",
                               "RoleManagement.Read.All", "RoleManagement.Read.Directory",
                               "RoleManagement.ReadWrite.Directory"))
READ_GROUP_ELIGIBILITY = needs(("PrivilegedEligibilitySchedule.Read.AzureADGroup",
                                "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup"))

# Applications and service principals (Learn: "List applications", "List servicePrincipals",
# "List owners"). Application.ReadWrite.OwnedBy (app-only) reads only what the app owns.
_APP_READ = ("Application.Read.All", "Application.ReadWrite.All", *_DIR_READ)
READ_ALL_APPS = needs(_APP_READ)
READ_APPS = READ_ALL_APPS | needs(("Application.ReadWrite.OwnedBy",), ())
# /users/{id}/ownedObjects: "Application: Not supported"; User.Read for the signed-in user's
# own objects (READ_SELF), these for anyone's.
READ_OWNED_OBJECTS = needs((), ("User.Read.All", "User.ReadWrite.All", *_DIR_READ))

# sendMail (Learn: "user: sendMail"): application Mail.Send sends as any mailbox; delegated
# Mail.Send as the signed-in user only (mail.py checks whose mailbox it is).
SEND_MAIL = needs(("Mail.Send",), ("Mail.Send",))
