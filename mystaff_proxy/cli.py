"""``mystaff-proxy``: serve, demo, policy check, audit verify, audit find-phone
(docs/configuration.md, command line)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from mystaff_proxy.config import ConfigError, Settings, load_config
from mystaff_proxy.policy.model import PolicyError, policy_names, policy_user_ids
from mystaff_proxy.policy.parse import load_policy


def _load_settings(path: str) -> Settings:
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from mystaff_proxy.web.app import init_app

    settings = _load_settings(args.config)
    logging.basicConfig(level=settings.server.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(init_app(settings), host=settings.server.host, port=settings.server.port,
                access_log=None, print=lambda s: print(s, flush=True))
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 with a one-line summary when the chain holds; 1 naming the first broken line
    (``PATH:LINE: ...``); 2 when a file cannot be read."""
    from mystaff_proxy.audit.verify import ChainBroken, verify

    paths = args.paths or [_load_settings(args.config).audit.path]
    try:
        summary = verify(paths)
    except ChainBroken as exc:
        print(exc)
        return 1
    except OSError as exc:
        print(f"{exc.filename}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    print(summary.line(paths))
    return 0


def cmd_audit_find_phone(args: argparse.Namespace) -> int:
    """Exit 0 listing every event about the number (one line each), 1 when there is none,
    2 when the number, the configuration or a file cannot be read (docs/phones.md)."""
    from mystaff_proxy.audit.find import find_phone
    from mystaff_proxy.audit.phone_hash import PhoneHasher
    from mystaff_proxy.phones import InvalidPhoneNumber, e164, is_valid_region

    try:
        settings = load_config(args.config, allow_no_credential=True)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        print("find-phone needs the proxy's configuration: the key of the phone hashes is its "
              "[audit] phone_hash_key, else derived from its [session] secret", file=sys.stderr)
        return 2
    paths = args.audit or [settings.audit.path]
    if "-" in paths:
        print("the audit log goes to standard output: give the files it was saved to with "
              "--audit PATH", file=sys.stderr)
        return 2
    region = args.region or settings.phones.default_region
    if not is_valid_region(region):
        print(f"--region: {region!r} is not a region code (two letters, such as US or GB)",
              file=sys.stderr)
        return 2
    try:
        number = e164(args.number, region)
    except InvalidPhoneNumber as exc:
        print(f"not a phone number: {exc.message}", file=sys.stderr)
        return 2
    digest = PhoneHasher.from_settings(settings).digest(number)
    count = 0
    try:
        for found in find_phone(paths, digest):
            print(found.line())
            count += 1
    except OSError as exc:
        print(f"{exc.filename}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    where = ", ".join(paths)
    if not count:
        print(f"{where}: no event about {number}", file=sys.stderr)
        return 1
    print(f"{where}: {count} event(s) about {number}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mystaff_proxy.demo import run_demo

    return run_demo(host=args.host, port=args.port, identity=args.identity)


def cmd_policy_check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.path)
    except PolicyError as exc:
        for line in exc.errors:
            print(line)
        return 1
    if not args.online:
        print(f"{args.path}: valid ({len(policy.locations)} locations, "
              f"{len(policy.assignments)} assignments)")
        return 0
    if not args.config:
        print("--online needs --config for the tenant and credentials", file=sys.stderr)
        return 2
    settings = _load_settings(args.config)
    problems = asyncio.run(_check_online(settings, args.path, policy))
    for line in problems:
        print(line)
    if not problems:
        print(f"{args.path}: valid, and every name it uses exists in the tenant")
    return 1 if problems else 0


async def _check_online(settings: Settings, path: str, policy: object) -> list[str]:
    import aiohttp

    from mystaff_proxy.graph import GraphError, connect, ssl_context
    from mystaff_proxy.policy.model import Policy

    assert isinstance(policy, Policy)
    names = policy_names(policy)
    problems: list[str] = []
    connector = aiohttp.TCPConnector(ssl=ssl_context(settings.tenant.ca_file))
    async with aiohttp.ClientSession(connector=connector) as http:
        graph = connect(settings, http)
        ops, token = graph.ops, graph.app_token
        try:
            resolved = await ops.resolve_upns(names.upns)
            problems += await _unresolved(ops, settings, path, policy,
                                          [u for u in names.upns if u.lower() not in resolved])
            for kind, ids in (("administrativeUnit", names.au_ids), ("group", names.group_ids),
                              ("user", policy_user_ids(policy))):
                for missing in await ops.missing_objects(kind, ids):
                    problems.append(f"{path}:0: no {kind} '{missing}' in the tenant")
            problems += await _protection_reads(ops, path, policy)
            problems += await _access_pass_configuration(ops, path, policy)
            problems += await _notify_sender(token, settings, path)
            if settings.graph.identity == "manager":
                problems += await _manager_mode(ops, token, settings, path, policy, resolved)
        except GraphError as exc:
            problems.append(f"{path}:0: cannot check against Graph: {exc.status} {exc.code}")
        finally:
            await token.close()
    return problems


async def _unresolved(ops: Any, settings: Settings, path: str, policy: Any,
                      upns: list[str]) -> list[str]:
    """One line per UPN the tenant does not know; for a protected UPN that resolved before
    (remembered by the proxy), which object id it had and what that account is called now."""
    from mystaff_proxy.policy.remembered_ids import load_remembered

    remembered = load_remembered(settings.remembered_ids_path)
    protected = set(policy.protected.users)
    out = []
    for upn in upns:
        line = policy.upn_lines.get(upn, 0)
        ids = sorted(remembered.get(upn, ())) if upn in protected else []
        if not ids:
            out.append(f"{path}:{line}: no user '{upn}' in the tenant")
            continue
        now = await ops.user_principal_names(ids)
        known = ", ".join(f"{i} (now '{now[i]}')" if i in now else f"{i} (deleted)"
                          for i in ids)
        out.append(f"{path}:{line}: protected user '{upn}' no longer resolves (renamed?); the "
                   f"proxy still protects the object id it had: {known}. Update the entry.")
    return out


async def _protection_reads(ops: Any, path: str, policy: Any) -> list[str]:
    """Whether the app can read what protection needs; PIM's licence is reported, not a
    problem (a tenant without it has no eligible roles)."""
    from mystaff_proxy.graph.exceptions import GraphError

    problems = []
    if policy.protected.admins:
        try:
            await ops.eligibility_probe()
        except GraphError as exc:
            problems.append(f"{path}:0: cannot read PIM eligibility ({exc.status} {exc.code}): "
                            "grant RoleEligibilitySchedule.Read.Directory and "
                            "PrivilegedEligibilitySchedule.Read.AzureADGroup; until then "
                            "every change is refused")
        else:
            print(f"{path}: PIM: " + ("licensed: eligible roles count as admin"
                                      if ops.pim_licensed else
                                      "not licensed in this tenant: no eligible roles exist"))
    if policy.protected.owners:
        try:
            owners = await ops.owner_ids()
        except GraphError as exc:
            problems.append(f"{path}:0: cannot read the owners of applications and role-"
                            f"assignable groups ({exc.status} {exc.code}): grant "
                            "Application.Read.All; until then every change is refused")
        else:
            print(f"{path}: {len(owners)} owners of applications, service principals and "
                  "role-assignable groups are protected")
    return problems


async def _access_pass_configuration(ops: Any, path: str, policy: Any) -> list[str]:
    """Where the policy lets managers issue Temporary Access Passes: whether the tenant has
    them on (real tenants start with them off) and whether the app may read that."""
    from mystaff_proxy.graph.client import GraphResponse, raise_for
    from mystaff_proxy.graph.exceptions import GraphError
    from mystaff_proxy.graph.sign_in_methods import PASS_POLICY_PATH, pass_policy
    from mystaff_proxy.policy.model import Action

    if not any(Action.ISSUE_TEMPORARY_ACCESS_PASS in a.allow for a in policy.assignments):
        return []
    try:
        resp = await ops.client.get(PASS_POLICY_PATH.lstrip("/"), op="check_objects")
        tenant = pass_policy(raise_for(GraphResponse(200, resp)))
    except GraphError as exc:
        return [f"{path}:0: cannot read the tenant's Temporary Access Pass configuration "
                f"({exc.status} {exc.code}): grant Policy.Read.All; until then every pass "
                "is refused"]
    if not tenant.enabled:
        print(f"{path}: note: Temporary Access Pass is turned off in this tenant (Entra admin "
              "center: Authentication methods): the passes this policy allows will be refused "
              "until IT turns it on")
    else:
        print(f"{path}: Temporary Access Pass is on: {tenant.minimum_lifetime} to "
              f"{tenant.maximum_lifetime} minutes" + (", one-time" if tenant.usable_once
                                                      else ""))
    return []


async def _notify_sender(token: Any, settings: Settings, path: str) -> list[str]:
    """[notify] sender: the app needs Mail.Send, which reaches every mailbox unless Exchange
    limits it; Graph cannot show that limit, so IT is told to check it there. Told, never a
    problem: granted in Exchange alone (the safe way), it is in no token either."""
    from mystaff_proxy.staff.manager_mode import token_roles

    sender = settings.notify.sender
    if not sender:
        return []
    print(f"{path}: warning: [notify] sender = {sender}: Graph cannot show whether the app's "
          "Mail.Send is limited to that mailbox (Exchange Online RBAC for Applications); check "
          "in Exchange Online PowerShell with Test-ServicePrincipalAuthorization, for the sender "
          "and for another mailbox (README \"Telling staff\")")
    try:
        roles = token_roles(await token())
    except ValueError:
        return []
    if "Mail.Send" not in roles:
        # Not a problem: RBAC for Applications grants it in Exchange, where no token shows it.
        print(f"{path}: note: the app's token holds no Mail.Send: right when Exchange's RBAC "
              f"for Applications grants it for {sender} alone, else no mail to staff can be "
              "sent")
    return []


async def _manager_mode(ops: Any, token: Any, settings: Settings, path: str, policy: Any,
                        resolved: dict[str, str]) -> list[str]:
    """Manager mode (docs/manager-mode.md): the app's own write power (a warning), resets
    the manager cannot confirm (notes), and grants no Entra role backs (problems)."""
    from mystaff_proxy.graph.exceptions import GraphError
    from mystaff_proxy.staff.manager_mode import (
        app_write_power,
        check_role_backing,
        write_power_warning,
    )

    try:
        warning = write_power_warning(
            await app_write_power(ops, await token(), settings.app.client_id))
    except GraphError as exc:
        warning = ("cannot tell whether the app still holds write roles "
                   f"({exc.status} {exc.code})")
    except ValueError as exc:
        warning = f"cannot tell whether the app still holds write permissions: {exc}"
    if warning:
        print(f"{path}: warning: {warning}")
    report = await check_role_backing(ops, policy, path, resolved)
    for note in report.notes:
        print(note)
    return report.problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mystaff-proxy",
                                     description="A self-hosted My Staff for Microsoft Entra ID")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the proxy against an offline fake tenant")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--identity", choices=("app", "manager"), default="app",
                      help="who Graph sees make changes: the app, or the signed-in manager")
    demo.set_defaults(func=cmd_demo)
    serve = sub.add_parser("serve", help="run the proxy (production)")
    serve.add_argument("--config", default=os.environ.get("MYSTAFF_CONFIG", "config.toml"))
    serve.set_defaults(func=cmd_serve)
    policy = sub.add_parser("policy", help="policy file tools")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("path")
    check.add_argument("--config", default=None)
    check.add_argument("--online", action="store_true",
                       help="also check every name against the tenant (needs --config)")
    check.set_defaults(func=cmd_policy_check)
    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check that no line of the audit log was removed, changed or moved")
    verify.add_argument("paths", nargs="*", metavar="PATH",
                        help="audit files, oldest first (default: [audit] path of --config)")
    verify.add_argument("--config", default=os.environ.get("MYSTAFF_CONFIG", "config.toml"))
    verify.set_defaults(func=cmd_audit_verify)
    find = audit_sub.add_parser(
        "find-phone", help="list every event that set, changed or removed a phone number")
    find.add_argument("number", metavar="NUMBER",
                      help="the number, +country code or in --region's national form")
    find.add_argument("--audit", action="append", metavar="PATH",
                      help="an audit file, oldest first; repeat for rotated files "
                           "(default: [audit] path of --config)")
    find.add_argument("--config", default=os.environ.get("MYSTAFF_CONFIG", "config.toml"),
                      help="the proxy's configuration: the key of the hashes comes from it")
    find.add_argument("--region", default=None, metavar="XX",
                      help="region of a number without +country (default: [phones] "
                           "default_region)")
    find.set_defaults(func=cmd_audit_find_phone)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
