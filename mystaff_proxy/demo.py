"""``mystaff-proxy demo``: the proxy in front of fake_graph's demo tenant, on loopback only.

No configuration file and no network beyond loopback: the fake tenant gets a generated CA and
a free port, the proxy a generated session secret, and the terminal says what to open and
which accounts to use.

``--identity manager`` runs it with ``[graph] identity = "manager"``: every change goes to
Graph with the signed-in manager's own token. The demo then gives the policy's managers the
AU-scoped Entra roles My Staff would need (Authentication Administrator where they manage
phones, else Helpdesk Administrator) and takes the app's write permissions and roles away, at
start and after every ``POST /_fake/reset``. The tenant file itself stays as it is: in the
default app mode a manager holding a role would be an admin, and protected.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import logging
import secrets
import signal
import socket
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mystaff_proxy.config import Settings, config_from_mapping
from mystaff_proxy.policy.model import Action, Policy
from mystaff_proxy.policy.parse import load_policy
from mystaff_proxy.web.app import init_app

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from fake_graph.directory import Directory

#: The demo policy: package data (a folder, not a module), so that an installed wheel runs the
#: demo from any directory (README "Run the demo"). The demo tenant is fake_graph's package
#: data likewise.
DEMO_POLICY: Traversable = resources.files("mystaff_proxy") / "demo_files" / "demo.yaml"
DEMO_CLIENT_ID = "6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"
DEMO_CLIENT_SECRET = "demo-proxy-secret-not-for-production"
#: The mailbox the demo's mails to staff come from ([notify] sender; docs/notifications.md).
DEMO_SENDER = "mystaff@contoso.example"

# Printed for the person trying the demo: (account, password, what to try).
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("sam.rivera@contoso.example", "Demo-Manager-1!",
     "store manager, Seattle + Tacoma: reset passwords, manage phones"),
    ("alex.kim@contoso.example", "Demo-Lead-1!", "shift lead, Seattle: reset passwords only"),
    ("taylor.brooks@contoso.example", "Demo-Staff-1!",
     "cashier: not a manager (insufficient permissions)"),
)


#: ``[graph] identity`` values the demo runs with.
IDENTITIES = ("app", "manager")
#: What manager mode leaves the demo app: its reads (docs/manager-mode.md, its first table), and
#: no directory role.
_WRITE_PERMISSIONS = {"User-PasswordProfile.ReadWrite.All": None,
                      "UserAuthenticationMethod.ReadWrite.All": "UserAuthenticationMethod.Read.All"}


def manager_roles(policy: Policy) -> list[tuple[str, str, str]]:
    """(manager UPN or object id, role, AU id) the policy's grants need in manager mode, as
    My Staff's documentation assigns them: Authentication Administrator over each location
    where the manager manages phones (it resets passwords too), Helpdesk Administrator where
    they only reset passwords (Graph accepts the reset; reading its outcome needs more)."""
    roles: list[tuple[str, str, str]] = []
    for assignment in policy.assignments:
        if Action.MANAGE_PHONE in assignment.allow:
            role = "Authentication Administrator"
        elif Action.RESET_PASSWORD in assignment.allow:
            role = "Helpdesk Administrator"
        else:
            continue
        for manager in assignment.managers:
            for key in assignment.locations:
                unit = policy.locations[key].administrative_unit
                if (manager, role, unit) not in roles:
                    roles.append((manager, role, unit))
    return roles


def apply_manager_mode(directory: Directory, policy: Policy) -> None:
    """The demo tenant as manager mode wants it: the managers' AU-scoped roles, and the app
    with read permissions and no directory role."""
    for manager, role, unit in manager_roles(policy):
        user = directory.find_user(manager)
        if user is None:
            raise ValueError(f"demo policy names {manager}, who is not in the demo tenant")
        directory.assign_role(user.id, role, f"/administrativeUnits/{unit}")
    app = directory.applications[DEMO_CLIENT_ID]
    kept = [_WRITE_PERMISSIONS.get(p, p) for p in app.application_permissions]
    app.application_permissions = list(dict.fromkeys(p for p in kept if p is not None))
    directory.unassign_roles(app.service_principal_id)


def add_sender_mailbox(directory: Directory) -> None:
    """The shared mailbox the mails to staff come from (a tenant would have one in Exchange),
    kept in the fake's directory beside the tenant file's people."""
    from fake_graph.directory import User, derive_id

    if directory.find_user(DEMO_SENDER) is None:
        directory.add_user(User(id=derive_id("user", DEMO_SENDER),
                                user_principal_name=DEMO_SENDER, display_name="My Staff",
                                password=secrets.token_urlsafe(24), mail=DEMO_SENDER,
                                account_enabled=False))


def demo_settings(*, public_url: str, fake_url: str, tenant_id: str, ca_file: str,
                  audit_path: str, host: str, port: int, policy_path: Path,
                  identity: str = "app") -> Settings:
    return config_from_mapping({
        "server": {"host": host, "port": port, "public_url": public_url},
        "tenant": {"id": tenant_id, "authority_host": fake_url,
                   "graph_url": fake_url + "/v1.0", "ca_file": ca_file},
        "app": {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
        "session": {"secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()},
        "policy": {"path": str(policy_path)},
        "audit": {"path": audit_path},
        "graph": {"identity": identity},
        "notify": {"sender": DEMO_SENDER, "contact": "Pat at the IT helpdesk, "
                   "pat.helpdesk@contoso.example"},
    }, "demo", {}, generated_session_secret=True)


def url_host(host: str) -> str:
    """``host`` as it goes into a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def demo_host_problem(host: str) -> str | None:
    """Why the demo will not listen on ``host``, in one line; None when it may.

    The demo serves plain http, its accounts' passwords are printed and published, and the
    fake tenant beside it hands out passwords and tokens to whoever asks: it stays on this
    machine (the README's "no network beyond loopback")."""
    from fake_graph.cli import is_loopback

    if is_loopback(host):
        return None
    return (f"mystaff-proxy demo: --host {host} is not a loopback address; the demo serves "
            "plain http with published passwords, so it listens on this machine only "
            "(127.0.0.1, ::1 or localhost). To open it from another device, forward a port "
            "(ssh -L 8080:127.0.0.1:8080 THIS-HOST) or run `serve` with your own tenant.")


def _free_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def running_demo(*, host: str = "127.0.0.1", port: int = 0,
                       workdir: Path | None = None, identity: str = "app") -> Any:
    """Start fake + proxy; yields (proxy_url, fake, workdir). Used by the command and by
    tests. ``identity`` is the proxy's ``[graph] identity`` ("app" or "manager")."""
    from fake_graph.embedded import run_fake

    if identity not in IDENTITIES:
        raise ValueError(f"identity must be one of {', '.join(IDENTITIES)}, not {identity!r}")
    tmp = Path(workdir or tempfile.mkdtemp(prefix="mystaff-demo-"))
    sock = _free_socket(host, port)
    actual_port = sock.getsockname()[1]
    public_url = f"http://{url_host(host)}:{actual_port}"
    # A file on disk for as long as the demo runs (the package's own file when installed
    # unzipped, as pip does).
    with resources.as_file(DEMO_POLICY) as policy_path:
        async with run_fake(tls_dir=tmp / "tls") as fake:
            redirect = public_url + "/auth/callback"

            def allow_redirect() -> None:
                app = fake.fake.directory.applications[DEMO_CLIENT_ID]
                if redirect not in app.redirect_uris:
                    app.redirect_uris.append(redirect)

            allow_redirect()
            fake.fake.on_reset.append(allow_redirect)
            add_sender_mailbox(fake.fake.directory)
            fake.fake.on_reset.append(lambda: add_sender_mailbox(fake.fake.directory))
            if identity == "manager":
                policy = load_policy(policy_path)

                def manager_mode() -> None:
                    apply_manager_mode(fake.fake.directory, policy)

                manager_mode()
                fake.fake.on_reset.append(manager_mode)
            settings = demo_settings(public_url=public_url, fake_url=fake.url,
                                     tenant_id=fake.tenant_id, ca_file=str(fake.ca_file),
                                     audit_path=str(tmp / "audit.jsonl"), host=host,
                                     port=actual_port, policy_path=policy_path,
                                     identity=identity)
            runner = web.AppRunner(init_app(settings), access_log=None)
            await runner.setup()
            site = web.SockSite(runner, sock)
            await site.start()
            try:
                yield public_url, fake, tmp
            finally:
                await runner.cleanup()


def run_demo(*, host: str = "127.0.0.1", port: int = 8080, identity: str = "app") -> int:
    problem = demo_host_problem(host)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(host, port, identity))


async def _main(host: str, port: int, identity: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_demo(host=host, port=port, identity=identity) as (url, fake,
                                                                              workdir):
            _print_banner(url, fake.url, workdir, identity)
            await stop.wait()
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        print(f"cannot start the demo on {url_host(host)}:{port}: {exc.strerror} "
              "(try --port 0 or another port)", flush=True)
        return 1
    print("demo stopped", flush=True)
    return 0


_MODES = {
    "app": "app mode: Graph sees the proxy's own app identity make every change.",
    "manager": "manager mode: every change goes to Graph with the signed-in manager's own "
               "token;\n"
               "    the managers hold AU-scoped Entra roles (Alex and Jordan: Helpdesk "
               "Administrator,\n"
               "    so Entra accepts their resets but will not let them confirm the outcome),\n"
               "    the app read permissions only.",
}


def banner_lines(url: str, fake_url: str, workdir: Path, identity: str = "app") -> list[str]:
    accounts = DEMO_ACCOUNTS
    lines = [
        "",
        "mystaff-proxy demo is running (offline: a fake Entra ID tenant, nothing leaves this "
        "machine).",
        f"  Graph identity: {_MODES[identity]}",
        "",
        f"  Open:  {url}/",
        "",
        "  Sign in as one of these accounts:",
    ]
    width = max(len(a[0]) for a in accounts)
    for upn, password, note in accounts:
        lines.append(f"    {upn.ljust(width)}  {password:<20}  {note}")
    lines += [
        "",
        f"  Audit log:   {workdir / 'audit.jsonl'}",
        f"  Fake tenant: {fake_url}  (state: {fake_url}/_fake/users/<upn>)",
        f"  Mails sent to staff after each change: {fake_url}/_fake/mail",
        "",
        "Press Ctrl-C to stop.",
    ]
    return lines


def _print_banner(url: str, fake_url: str, workdir: Path, identity: str) -> None:
    print("\n".join(banner_lines(url, fake_url, workdir, identity)), flush=True)
