"""``fake-graph``: serve a tenant file, or generate a large one.

    fake-graph serve --tenant PATH [--host 127.0.0.1] [--port 8443] [--tls-dir DIR | --no-tls]
    fake-graph generate --users N --units M [--seed S] [--out PATH]

``serve`` prints exactly one line on standard output when it is ready —
``fake-graph ready on https://HOST:PORT`` — so a script can wait for it; anything else goes to
standard error. Without ``--tls-dir`` or ``--no-tls`` the certificates live in
``./.fake-graph-tls`` and are reused on the next start, so a client that trusts its ``ca.pem``
keeps working. A tenant file that cannot be loaded is reported as ``PATH:LINE: message``
(exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from yaml_lines import YamlFileError

from .embedded import run_fake
from .generate import generate
from .state import FakeGraph

DEFAULT_TLS_DIR = Path(".fake-graph-tls")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fake-graph", description=(
        "An offline Microsoft Graph + Entra ID tenant for MSAL, azure-identity and "
        "msgraph-sdk."))
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a tenant file over HTTPS")
    serve.add_argument("--tenant", required=True, type=Path, help="tenant file (YAML)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    tls = serve.add_mutually_exclusive_group()
    tls.add_argument("--tls-dir", type=Path, help="create or reuse ca.pem, server.pem, "
                     f"server-key.pem here (default: ./{DEFAULT_TLS_DIR})")
    tls.add_argument("--no-tls", action="store_true",
                     help="plain http (MSAL and azure-identity will refuse it)")
    gen = commands.add_parser("generate", help="write a large, realistic tenant file")
    gen.add_argument("--users", type=int, required=True)
    gen.add_argument("--units", type=int, required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", type=Path, help="output file (default: standard output)")
    return parser


def is_loopback(host: str) -> bool:
    """Only this machine can connect: a loopback address, or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_warning(host: str) -> str | None:
    """What to tell someone who binds the fake where other machines can reach it."""
    if is_loopback(host):
        return None
    return (f"fake-graph: WARNING: listening on {host}, reachable from other machines. "
            "Anyone who can connect can read every account's password (/_fake/users), "
            "reset or change the tenant (/_fake) and get tokens for any account. "
            "Use --host 127.0.0.1 unless that is what you want.")


async def _serve(fake: FakeGraph, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tls_dir = None if args.no_tls else (args.tls_dir or DEFAULT_TLS_DIR)
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    async with run_fake(fake=fake, tls_dir=tls_dir, host=args.host, port=args.port,
                        tls=not args.no_tls) as running:
        if running.ca_file:
            print(f"fake-graph: trust {running.ca_file}; authority {running.authority}",
                  file=sys.stderr, flush=True)
        print(f"fake-graph ready on {running.url}", flush=True)
        await stop.wait()


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        fake = FakeGraph.from_file(args.tenant)
    except YamlFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(fake, args))
    except OSError as exc:
        print(f"fake-graph: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    try:
        text = generate(args.users, args.units, args.seed)
    except ValueError as exc:
        print(f"fake-graph generate: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_bytes(text.encode("utf-8"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _cmd_serve(args)
    return _cmd_generate(args)


if __name__ == "__main__":
    sys.exit(main())
