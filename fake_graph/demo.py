"""Names and secrets of the bundled demo tenant (``tenants/demo.yaml``), for demos and tests.

Demo-only values: the tenant file is the source of truth; ``tests/fake_graph`` checks that
these constants match it.
"""

from __future__ import annotations

from typing import NamedTuple

TENANT_ID = "b7f3c2a4-6e1d-4c8b-9f25-3a0d7e6c1b42"
DOMAIN = "contoso.example"
CLIENT_ID = "6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"
CLIENT_SECRET = "demo-proxy-secret-not-for-production"
REDIRECT_URIS = ("http://127.0.0.1:8080/auth/callback", "http://localhost:8080/auth/callback")
API_SCOPE = f"api://{CLIENT_ID}/access_as_user"
APPLICATION_ID = "d2b1c8e4-7a3f-4e9b-8c21-5f0a9e3b7d12"  # the app registration's object id

UNITS = {
    "seattle": "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e01",
    "tacoma": "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e02",
    "portland": "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e03",
    "spokane": "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e04",
}
GROUPS = {
    "Store managers": "c2000000-0000-4000-8000-000000000001",
    "Shift leads": "c2000000-0000-4000-8000-000000000002",
    "Store IT support": "c2000000-0000-4000-8000-000000000003",
    "Seattle weekend crew": "c2000000-0000-4000-8000-000000000004",
}


class Account(NamedTuple):
    upn: str
    password: str
    role: str


ACCOUNTS = (
    Account("sam.rivera@contoso.example", "Demo-Manager-1!", "Seattle store manager"),
    Account("dana.whitfield@contoso.example", "Demo-Manager-1!", "Tacoma store manager"),
    Account("priya.natarajan@contoso.example", "Demo-Manager-1!", "Portland store manager"),
    Account("robin.okafor@contoso.example", "Demo-Manager-1!", "Spokane store manager"),
    Account("alex.kim@contoso.example", "Demo-Lead-1!", "Seattle shift lead"),
    Account("taylor.brooks@contoso.example", "Demo-Staff-1!", "Seattle cashier"),
    Account("riley.chen@contoso.example", "Demo-Staff-1!",
            "Seattle cashier, must change password at first sign-in"),
    Account("jesse.park@contoso.example", "Demo-Staff-1!", "Tacoma cashier, account disabled"),
    Account("drew.okafor@contoso.example", "Demo-Lead-1!",
            "Spokane shift lead, Helpdesk Administrator scoped to the Spokane unit"),
    Account("casey.nguyen@contoso.example", "Demo-Staff-1!",
            "Portland IT coordinator, Password Administrator through a role-assignable group"),
    Account("hostile.stocker@contoso.example", "Demo-Staff-1!",
            "Portland stocker with an HTML display name (XSS tests)"),
    Account("blake.sutton@contoso.example", "Demo-Staff-1!",
            "Tacoma cashier, eligible (PIM, not active) for Global Administrator"),
    Account("noa.berg@contoso.example", "Demo-Staff-1!",
            "Spokane cashier, eligible (PIM for Groups) to join Store IT support"),
    Account("river.santos@contoso.example", "Demo-Staff-1!",
            "Seattle stocker who owns the proxy's app registration"),
    Account("morgan.admin@contoso.example", "Demo-Admin-1!", "Global Administrator"),
    Account("pat.helpdesk@contoso.example", "Demo-Admin-1!", "Helpdesk Administrator"),
)
MANAGER = ACCOUNTS[0]
