"""The policy: what IT wrote (``model``), the file read into it, the live view of it
(``runtime``), and the one decision every change must pass (``decide``; docs/authorization.md).

``owners`` and ``remembered_ids`` hold the protected people learned from the tenant;
``passwords`` makes the passwords the policy asks for.
"""
