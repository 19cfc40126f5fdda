"""Every ``/v1.0`` route of the fake, in one table."""

from __future__ import annotations

from . import administrative_units as au
from . import applications as apps
from . import auth_methods as am
from . import batch, eligibility, mail, memberships, owned_objects, owners, roles, users
from . import method_configurations as configurations
from . import temporary_access_pass as tap
from .router import Router

_USER = "/users/{user}"
_AUTH = _USER + "/authentication"
_UNIT = "/directory/administrativeUnits/{unit}"
_GROUP = "/groups/{group}"
_APP = "/applications/{application}"
_SP = "/servicePrincipals/{sp}"


def build_router(dispatch: batch.Dispatch) -> Router:
    """The routes; ``dispatch`` serves the sub-requests of ``$batch``."""
    r = Router()
    r.post("/$batch", batch.handler(dispatch))

    r.get("/users", users.list_users)
    r.get(_USER, users.get_user)
    r.patch(_USER, users.patch_user)
    r.post(_USER + "/revokeSignInSessions", users.revoke_sign_in_sessions)
    r.get(_USER + "/memberOf", memberships.user_member_of)
    r.get(_USER + "/memberOf/{cast}", memberships.user_member_of)
    r.get(_USER + "/transitiveMemberOf", memberships.user_transitive_member_of)
    r.get(_USER + "/transitiveMemberOf/{cast}", memberships.user_transitive_member_of)
    r.get(_USER + "/ownedObjects", owned_objects.user_owned_objects)
    r.get(_USER + "/ownedObjects/{cast}", owned_objects.user_owned_objects)
    r.post(_USER + "/sendMail", mail.send_mail)

    r.get(_AUTH + "/methods", am.list_methods)
    r.get(_AUTH + "/methods/{method}", am.get_method)
    r.post(_AUTH + "/methods/{method}/resetPassword", am.reset_password)
    r.get(_AUTH + "/passwordMethods", am.list_password_methods)
    r.get(_AUTH + "/operations/{operation}", am.get_operation)
    r.get(_AUTH + "/phoneMethods", am.list_phones)
    r.post(_AUTH + "/phoneMethods", am.create_phone)
    r.get(_AUTH + "/phoneMethods/{method}", am.get_phone)
    r.patch(_AUTH + "/phoneMethods/{method}", am.update_phone)
    r.delete(_AUTH + "/phoneMethods/{method}", am.delete_phone)
    r.post(_AUTH + "/phoneMethods/{method}/enableSmsSignIn", am.enable_sms_sign_in)
    r.post(_AUTH + "/phoneMethods/{method}/disableSmsSignIn", am.disable_sms_sign_in)
    r.get(_AUTH + "/temporaryAccessPassMethods", tap.list_passes)
    r.post(_AUTH + "/temporaryAccessPassMethods", tap.create)
    r.get(_AUTH + "/temporaryAccessPassMethods/{method}", tap.get_pass)
    r.delete(_AUTH + "/temporaryAccessPassMethods/{method}", tap.delete_pass)

    r.get("/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/"
          "{configuration}", configurations.get_configuration)

    r.get("/directory/administrativeUnits", au.list_units)
    r.get(_UNIT, au.get_unit)
    r.get(_UNIT + "/members", au.list_members)
    r.get(_UNIT + "/members/$ref", au.list_member_refs)
    r.get(_UNIT + "/members/{cast}", au.list_members)
    r.get(_UNIT + "/members/{member}", au.get_member)
    r.get(_UNIT + "/members/{member}/{cast}", au.get_member)
    r.get(_UNIT + "/scopedRoleMembers", au.list_scoped_role_members)

    r.get("/groups", memberships.list_groups)
    r.get(_GROUP, memberships.get_group)
    r.get(_GROUP + "/members", memberships.group_members)
    r.get(_GROUP + "/members/{cast}", memberships.group_members)
    r.get(_GROUP + "/transitiveMembers", memberships.group_transitive_members)
    r.get(_GROUP + "/transitiveMembers/{cast}", memberships.group_transitive_members)
    r.get(_GROUP + "/memberOf", memberships.group_member_of)
    r.get(_GROUP + "/memberOf/{cast}", memberships.group_member_of)
    r.get(_GROUP + "/transitiveMemberOf", memberships.group_transitive_member_of)
    r.get(_GROUP + "/transitiveMemberOf/{cast}", memberships.group_transitive_member_of)
    r.get(_GROUP + "/owners", owners.group_owners)
    r.get(_GROUP + "/owners/{cast}", owners.group_owners)

    r.get("/applications", apps.list_applications)
    r.get(_APP, apps.get_application)
    r.get(_APP + "/owners", apps.application_owners)
    r.get(_APP + "/owners/{cast}", apps.application_owners)
    r.get("/servicePrincipals", apps.list_service_principals)
    r.get(_SP, apps.get_service_principal)
    r.get(_SP + "/owners", apps.service_principal_owners)
    r.get(_SP + "/owners/{cast}", apps.service_principal_owners)

    r.get("/roleManagement/directory/roleAssignments", roles.list_role_assignments)
    r.get("/roleManagement/directory/roleAssignments/{assignment}", roles.get_role_assignment)
    r.get("/roleManagement/directory/roleDefinitions", roles.list_role_definitions)
    r.get("/roleManagement/directory/roleDefinitions/{definition}", roles.get_role_definition)
    r.get("/roleManagement/directory/roleEligibilityScheduleInstances",
          eligibility.list_role_eligibility_instances)
    r.get("/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
          eligibility.list_group_eligibility_instances)
    r.get("/directoryRoles", roles.list_directory_roles)
    r.get("/directoryRoles/{role}", roles.get_directory_role)
    r.get("/directoryRoles/{role}/members", roles.directory_role_members)
    r.get("/directoryRoles/{role}/members/{cast}", roles.directory_role_members)
    r.get("/directoryRoles/{role}/scopedMembers", roles.directory_role_scoped_members)
    return r
