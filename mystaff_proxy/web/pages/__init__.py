"""The managers' web page: thin handlers over ``StaffService``, one module per capability.

Every decision about who may see or do what is the service's; a handler only finds the
session, checks the form's CSRF token before anything else happens, calls the service and
renders what it answered. Service errors propagate as ``ApiError`` to the middleware, which
renders the error page (``Pages.error``); the few a manager can fix by retyping (a bad phone
number, a refused password, a phone-type conflict) or act on (passes turned off for the
organization, a number that already signs someone else in) are shown on the form instead.

The modules: common.py (the ``page`` / ``change_page`` decorators, form, render and redirect
helpers), profile_view.py (what a profile shows, ``ProfilePage``), then the handlers of
browse.py (start, locations, staff list, profile, static files, not found), passwords.py
(one reset, and the bulk reset), phones.py, access_passes.py and sms_sign_in.py, as the
staff service's (mystaff_proxy/staff/). To add a capability: one module here, registered in
``setup_page_routes``.

URL map (each form page answers GET with the form and POST with the change)::

    /                                             sign-in start, or the manager's location
    /locations                                    location picker
    /locations/{loc}?search=&cursor=              staff list (a multi-select where the
                                                  manager may reset passwords)
    /locations/{loc}/password-resets?id=...       confirm, then reset the selected people's
                                                  passwords → each one's, once, as slips
    /locations/{loc}/staff/{uid}                  profile (?done= shows what just happened)
    /locations/{loc}/staff/{uid}/password         reset password → the temporary password, once
    /locations/{loc}/staff/{uid}/phones/add       add a phone number
    /locations/{loc}/staff/{uid}/phones/{t}/edit  change a phone number
    /locations/{loc}/staff/{uid}/phones/{t}/remove  confirm, then remove a phone number
    /locations/{loc}/staff/{uid}/temporary-access-pass  issue a Temporary Access Pass → it, once
    /locations/{loc}/staff/{uid}/temporary-access-pass/remove  confirm, then remove the pass
    /locations/{loc}/staff/{uid}/phone-methods/mobile/sms-sign-in/{enable,disable}
                                                  confirm, then turn phone-number sign-in on
                                                  or off (the profile posts "off" directly)
    /static/{name}                                stylesheet and script, cached by content hash
"""

from __future__ import annotations

from aiohttp import web

from mystaff_proxy.web.pages.access_passes import (
    pass_form,
    pass_issue,
    pass_remove,
    pass_remove_form,
)
from mystaff_proxy.web.pages.browse import index, locations, not_found, profile, staff_list, static
from mystaff_proxy.web.pages.passwords import (
    bulk_reset,
    bulk_reset_form,
    password_form,
    password_reset,
)
from mystaff_proxy.web.pages.phones import (
    phone_add,
    phone_add_form,
    phone_edit,
    phone_edit_form,
    phone_remove,
    phone_remove_form,
)
from mystaff_proxy.web.pages.sms_sign_in import (
    sms_disable,
    sms_disable_form,
    sms_enable,
    sms_enable_form,
)


def setup_page_routes(app: web.Application) -> None:
    # aiohttp matches routes in the order they are added: keep the catch-all last.
    person = "/locations/{loc}/staff/{userId}"
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/locations", locations)
    app.router.add_get("/locations/{loc}", staff_list)
    app.router.add_get("/locations/{loc}/password-resets", bulk_reset_form)
    app.router.add_post("/locations/{loc}/password-resets", bulk_reset)
    app.router.add_get(person, profile)
    app.router.add_get(person + "/password", password_form)
    app.router.add_post(person + "/password", password_reset)
    app.router.add_get(person + "/phones/add", phone_add_form)
    app.router.add_post(person + "/phones/add", phone_add)
    app.router.add_get(person + "/phones/{phoneType}/edit", phone_edit_form)
    app.router.add_post(person + "/phones/{phoneType}/edit", phone_edit)
    app.router.add_get(person + "/phones/{phoneType}/remove", phone_remove_form)
    app.router.add_post(person + "/phones/{phoneType}/remove", phone_remove)
    app.router.add_get(person + "/temporary-access-pass", pass_form)
    app.router.add_post(person + "/temporary-access-pass", pass_issue)
    app.router.add_get(person + "/temporary-access-pass/remove", pass_remove_form)
    app.router.add_post(person + "/temporary-access-pass/remove", pass_remove)
    sms = person + "/phone-methods/mobile/sms-sign-in"
    app.router.add_get(sms + "/enable", sms_enable_form)
    app.router.add_post(sms + "/enable", sms_enable)
    app.router.add_get(sms + "/disable", sms_disable_form)
    app.router.add_post(sms + "/disable", sms_disable)
    # Any other page (not the JSON API, which answers for itself): the not-found page.
    app.router.add_get(r"/{tail:(?!api/).*}", not_found)
