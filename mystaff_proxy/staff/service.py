"""``StaffService``: the manager's use cases — locations, staff lists, profiles, password
resets, phone changes, Temporary Access Passes, SMS sign-in — as one object for the web layer.

Each capability is a module of its own, a class deriving from the one shared check
(check.py: grants, the live check and decision, rate limits, audit records, the delegated
token); this class is all of them at once and adds nothing. Adding a capability is one new
module with one ``StaffCheck`` subclass, and one more base in the list below.
"""

from __future__ import annotations

from mystaff_proxy.staff.access_passes import AccessPasses
from mystaff_proxy.staff.passwords import Passwords
from mystaff_proxy.staff.phones import Phones
from mystaff_proxy.staff.reading import Reading
from mystaff_proxy.staff.sms_sign_in import SmsSignIn


class StaffService(Reading, Passwords, Phones, AccessPasses, SmsSignIn):
    """What a manager can do for their staff; built once per process (web/app.py)."""
