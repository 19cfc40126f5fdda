"""The configuration file, validated once at start into frozen, typed settings.

Every key, its default and its meaning: docs/configuration.md.

Every problem is reported as ``NAME: [section] key: message`` (NAME = the path as given), all
of them at once in ``ConfigError.errors``. Secrets in the environment win over the file:
``MYSTAFF_CLIENT_SECRET`` and ``MYSTAFF_SESSION_SECRET``. (``MYSTAFF_CONFIG``, the file's path,
is read by the CLI.) Relative paths (policy, audit, ca_file, certificate_path) are used as
written, relative to the working directory.

Keys beyond the basic ones (all in config.example.toml): ``[server] log_level`` /
``signin_attempts_per_minute`` / ``metrics_token`` (or env ``MYSTAFF_METRICS_TOKEN``),
``[app] certificate_path`` / ``managed_identity`` / ``allowed_client_ids``,
``[session] backend`` / ``redis_url`` (or env ``MYSTAFF_REDIS_URL``) /
``account_recheck_seconds`` / ``revocations_path``, ``[policy] remembered_ids_path``,
``[graph] timeout_seconds`` / ``retry_budget_seconds`` / ``max_retries`` /
``owners_refresh_seconds`` / ``identity``, ``[audit] phone_hash_key`` (or env
``MYSTAFF_AUDIT_PHONE_HASH_KEY``), ``[notify] sender`` / ``contact``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from mystaff_proxy.ids import is_guid
from mystaff_proxy.phones import is_valid_region

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CLIENT_SECRET_ENV: Final = "MYSTAFF_CLIENT_SECRET"
SESSION_SECRET_ENV: Final = "MYSTAFF_SESSION_SECRET"
METRICS_TOKEN_ENV: Final = "MYSTAFF_METRICS_TOKEN"
PHONE_HASH_KEY_ENV: Final = "MYSTAFF_AUDIT_PHONE_HASH_KEY"
MIN_METRICS_TOKEN: Final = 16
CONFIG_ENV: Final = "MYSTAFF_CONFIG"
MIN_SESSION_SECRET_BYTES: Final = 32
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
REDIS_URL_ENV: Final = "MYSTAFF_REDIS_URL"
SESSION_BACKENDS: Final = ("cookie", "redis")

_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_MAILBOX_RE: Final = re.compile(r"[^@\s\"<>()\[\],;:\\/]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class ConfigError(ValueError):
    """The configuration is invalid; ``errors`` names each key and what is wrong with it."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ServerSettings:
    public_url: str  # scheme://host[:port], no trailing slash
    host: str = "0.0.0.0"  # noqa: S104 - the documented default: listen on every interface
    port: int = 8080
    trusted_proxies: tuple[IPNetwork, ...] = ()
    log_level: str = "info"
    # Sign-in starts a minute per client address (an IPv6 /64 counts as one); 0: no limit.
    signin_attempts_per_minute: int = 300
    # With a token, /metrics needs "Authorization: Bearer <token>"; without one it is served
    # to this machine only (app.py says exactly when): counts of resets and refusals are
    # business activity, not for anonymous readers.
    metrics_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class TenantSettings:
    id: str  # lower-cased GUID
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: str = ""


@dataclass(frozen=True, slots=True)
class AppSettings:
    client_id: str
    client_secret: str = field(default="", repr=False)
    certificate_path: str = ""
    managed_identity: bool = False
    api_scope: str = "access_as_user"
    # Client apps whose bearer tokens the API accepts (``azp`` / ``appid``, lower-cased);
    # empty: any app of the tenant that holds a token for this API.
    allowed_client_ids: tuple[str, ...] = ()

    @property
    def credential_kind(self) -> str:
        """"secret", "certificate", "managed_identity" or "none" (demo only)."""
        if self.managed_identity:
            return "managed_identity"
        if self.certificate_path:
            return "certificate"
        return "secret" if self.client_secret else "none"


@dataclass(frozen=True, slots=True)
class SessionSettings:
    secret: str = field(default="", repr=False)  # urlsafe base64 of 32+ random bytes
    max_age_minutes: int = 480
    idle_minutes: int = 30
    backend: str = "cookie"  # "redis": revocations, rate limits, sign-in flows shared
    redis_url: str = field(default="", repr=False)  # with backend = "redis"
    # How old the answer "is the manager's account still enabled and its sessions not
    # revoked in Entra?" may be (standing.py); 0: ask Graph on every request.
    account_recheck_seconds: int = 60
    # Signed-out session ids kept on disk with backend = "cookie", so that a restart does
    # not bring them back (with "redis", Redis keeps them). "": next to the audit log.
    revocations_path: str = ""
    cookie_name: str = "__Host-mystaff"  # derived: "__Host-" only when the cookie is Secure
    secret_generated: bool = False  # True when the demo generated it (sessions die on restart)

    @property
    def secret_bytes(self) -> bytes:
        return _b64decode(self.secret)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    path: str = "policies/contoso.yaml"
    #: Where the object ids of protected UPNs are remembered across renames and restarts;
    #: "" = next to the audit log (``protected-ids.json``), or memory only when it is "-".
    remembered_ids_path: str = ""


@dataclass(frozen=True, slots=True)
class PhonesSettings:
    default_region: str = "US"


@dataclass(frozen=True, slots=True)
class AuditSettings:
    path: str = "audit.jsonl"  # "-" = standard output
    #: The key of the audit's ``phoneHash`` (urlsafe base64 of 32+ bytes); "": derived from
    #: the session secret (phone_hash.py says why one may want it apart).
    phone_hash_key: str = field(default="", repr=False)

    @property
    def phone_hash_key_bytes(self) -> bytes:
        return _b64decode(self.phone_hash_key)


@dataclass(frozen=True, slots=True)
class GraphSettings:
    timeout_seconds: float = 10.0  # one Graph call
    retry_budget_seconds: float = 30.0  # all retries of one call, Retry-After included
    max_retries: int = 3
    owners_refresh_seconds: float = 300.0  # the owner set (protected.owners) is this fresh
    #: Who Graph sees sending a change: "app" (the proxy's own identity) or "manager" (the
    #: signed-in manager's delegated token, so that Entra checks the manager's own role too).
    identity: str = "app"


@dataclass(frozen=True, slots=True)
class NotifySettings:
    #: The mailbox the mails to staff come from (notify.py); "": nobody is told.
    sender: str = ""
    #: Whom a person should contact if a change was not expected, as the mail says it
    #: (e.g. "the IT helpdesk, +1 206 555 0100"); "": "your IT helpdesk".
    contact: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings
    tenant: TenantSettings
    app: AppSettings
    session: SessionSettings = SessionSettings()
    policy: PolicySettings = PolicySettings()
    phones: PhonesSettings = PhonesSettings()
    audit: AuditSettings = AuditSettings()
    graph: GraphSettings = GraphSettings()
    notify: NotifySettings = NotifySettings()

    @property
    def redirect_uri(self) -> str:
        return self.server.public_url + "/auth/callback"

    @property
    def remembered_ids_path(self) -> str | None:
        """The file of protected UPNs' remembered object ids (None: memory only)."""
        if self.policy.remembered_ids_path:
            return self.policy.remembered_ids_path
        if self.audit.path == "-":
            return None
        return str(Path(self.audit.path).with_name("protected-ids.json"))

    @property
    def revocations_path(self) -> str:
        """The file of signed-out session ids (backend = "cookie"): as configured, else next
        to the audit log (a directory the operator already keeps and made writable), else
        in the working directory when the audit log goes to standard output."""
        if self.session.revocations_path:
            return self.session.revocations_path
        if self.audit.path == "-":
            return "revoked-sessions.txt"
        return str(Path(self.audit.path).with_name("revoked-sessions.txt"))

    @property
    def cookie_secure(self) -> bool:
        """Secure cookies, except for plain http on loopback (a browser would drop them)."""
        return not self.server.public_url.startswith("http://")

    @property
    def authority(self) -> str:
        return f"{self.tenant.authority_host}/{self.tenant.id}"


# -- validation ---------------------------------------------------------------------------------

_T = TypeVar("_T")

_SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "server": ("host", "port", "public_url", "trusted_proxies", "log_level",
               "signin_attempts_per_minute", "metrics_token"),
    "tenant": ("id", "authority_host", "graph_url", "ca_file"),
    "app": ("client_id", "client_secret", "certificate_path", "managed_identity", "api_scope",
            "allowed_client_ids"),
    "session": ("secret", "max_age_minutes", "idle_minutes", "backend", "redis_url",
                "account_recheck_seconds", "revocations_path"),
    "policy": ("path", "remembered_ids_path"),
    "phones": ("default_region",),
    "audit": ("path", "phone_hash_key"),
    "graph": ("timeout_seconds", "retry_budget_seconds", "max_retries",
              "owners_refresh_seconds", "identity"),
    "notify": ("sender", "contact"),
}
_REQUIRED: Final = {("server", "public_url"), ("tenant", "id"), ("app", "client_id")}


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Checker:
    def __init__(self, name: str, data: Mapping[str, Any]) -> None:
        self.name = name
        self.data = data
        self.errors: list[str] = []

    def err(self, section: str, key: str, message: str) -> None:
        where = f"[{section}] {key}" if key else f"[{section}]"
        self.errors.append(f"{self.name}: {where}: {message}")

    def get(self, section: str, key: str, default: _T, check: Callable[[Any], str | None],
            convert: Callable[[Any], _T] | None = None) -> _T:
        table = self.data.get(section, {})
        if not isinstance(table, Mapping) or key not in table:
            if (section, key) in _REQUIRED:
                self.err(section, key, "missing (required)")
            return default
        value = table[key]
        problem = check(value)
        if problem is not None:
            self.err(section, key, problem)
            return default
        return convert(value) if convert is not None else value


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _nonempty(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    return None


def _token(value: Any) -> str | None:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return "must be a non-empty string without spaces"
    return None


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _int_range(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"must be a whole number from {low} to {high}"
    return check


def _number_range(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and low <= value <= high:
            return None
        return f"must be a number from {low:g} to {high:g}"
    return check


def _guid(value: Any) -> str | None:
    if isinstance(value, str) and is_guid(value):
        return None
    return "must be the tenant's id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"


def _url(*, https_only: bool, allow_path: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a URL string"
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "must be an absolute http(s) URL such as https://host"
        if parts.username or parts.password:
            return "must not contain a user name or password"
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            return "must not have a query or fragment"
        if not allow_path and parts.path not in ("", "/"):
            return "must not have a path (scheme://host[:port] only)"
        try:
            _ = parts.port
        except ValueError:
            return "has an invalid port"
        if parts.scheme == "http" and (https_only or not is_loopback_host(parts.hostname)):
            return "must use https (plain http is only allowed on a loopback address)"
        return None
    return check


def _no_slash(value: str) -> str:
    return value.rstrip("/")


def _networks(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of IP addresses or CIDR ranges"
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except (ValueError, TypeError):
            return f"{item!r} is not an IP address or CIDR range"
    return None


def _to_networks(value: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in value)


def _existing_file(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string (a file path)"
    if value and not os.access(value, os.R_OK):
        return f"cannot read the file {value!r}"
    return None


def _session_secret(value: Any) -> str | None:
    if isinstance(value, str) and _B64URL_RE.fullmatch(value):
        try:
            if len(_b64decode(value)) >= MIN_SESSION_SECRET_BYTES:
                return None
        except (binascii.Error, ValueError):
            pass
    return (f"must be at least {MIN_SESSION_SECRET_BYTES} bytes of urlsafe base64; "
            "generate one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\"")


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value in options:
            return None
        return f"must be one of: {', '.join(repr(o) for o in options)}"
    return check


def _client_ids(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of application (client) ids"
    for item in value:
        if not isinstance(item, str) or not is_guid(item):
            return (f"{item!r} is not an application (client) id, a GUID such as "
                    "11111111-1111-1111-1111-111111111111")
    return None


def _lower_all(value: list[str]) -> tuple[str, ...]:
    return tuple(v.lower() for v in value)


def _metrics_token(value: Any) -> str | None:
    if isinstance(value, str) and (value == "" or (
            len(value) >= MIN_METRICS_TOKEN and value.isascii() and value.isprintable()
            and " " not in value)):
        return None
    return (f"must be empty (metrics for this machine only) or at least {MIN_METRICS_TOKEN} "
            "printable ASCII characters without spaces; generate one with: "
            "python -c \"import secrets; print(secrets.token_urlsafe(32))\"")


def _metrics_token_setting(c: _Checker, env: Mapping[str, str]) -> str:
    token: str = c.get("server", "metrics_token", "", _metrics_token)
    if env.get(METRICS_TOKEN_ENV):
        token = env[METRICS_TOKEN_ENV]
        if (problem := _metrics_token(token)) is not None:
            c.err("server", "metrics_token", f"(env {METRICS_TOKEN_ENV}) {problem}")
            return ""
    return token


def _phone_hash_key_setting(c: _Checker, env: Mapping[str, str]) -> str:
    key: str = c.get("audit", "phone_hash_key", "", _string)
    where = ""
    if env.get(PHONE_HASH_KEY_ENV):
        key, where = env[PHONE_HASH_KEY_ENV], f"(env {PHONE_HASH_KEY_ENV}) "
    if key and (problem := _session_secret(key)) is not None:
        c.err("audit", "phone_hash_key", where + problem)
        return ""
    return key


def _mailbox(value: Any) -> str | None:
    if isinstance(value, str) and (value == "" or _MAILBOX_RE.fullmatch(value)):
        return None
    return "must be empty (no mails) or a mailbox's address such as \"mystaff@contoso.com\""


def _one_line(limit: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and len(value) <= limit and value.isprintable():
            return None
        return f"must be one line of text of at most {limit} characters"
    return check


def _region(value: Any) -> str | None:
    if isinstance(value, str) and is_valid_region(value):
        return None
    return "must be a two-letter region code such as \"US\" or \"GB\""


def config_from_mapping(data: Mapping[str, Any], name: str = "config.toml",
                        env: Mapping[str, str] | None = None, *,
                        allow_no_credential: bool = False,
                        generated_session_secret: bool = False) -> Settings:
    """Validate already-parsed TOML (the demo builds one in memory)."""
    env = os.environ if env is None else env
    c = _Checker(name, data)
    for section, value in data.items():
        if section not in _SECTIONS:
            c.err(section, "", f"unknown section (expected one of: {', '.join(_SECTIONS)})")
        elif not isinstance(value, Mapping):
            c.err(section, "", "must be a table")
        else:
            for key in value:
                if key not in _SECTIONS[section]:
                    c.err(section, key, "unknown key")

    public_url = c.get("server", "public_url", "http://127.0.0.1:8080",
                       _url(https_only=False, allow_path=False), _no_slash)
    server = ServerSettings(
        public_url=public_url,
        host=c.get("server", "host", "0.0.0.0", _nonempty),  # noqa: S104
        port=c.get("server", "port", 8080, _int_range(0, 65535)),
        trusted_proxies=c.get("server", "trusted_proxies", (), _networks, _to_networks),
        log_level=c.get("server", "log_level", "info", _choice(LOG_LEVELS)),
        signin_attempts_per_minute=c.get("server", "signin_attempts_per_minute", 300,
                                         _int_range(0, 100_000)),
        metrics_token=_metrics_token_setting(c, env),
    )
    tenant = TenantSettings(
        id=c.get("tenant", "id", "", _guid, str.lower),
        authority_host=c.get("tenant", "authority_host", "https://login.microsoftonline.com",
                             _url(https_only=True, allow_path=False), _no_slash),
        graph_url=c.get("tenant", "graph_url", "https://graph.microsoft.com/v1.0",
                        _url(https_only=False, allow_path=True), _no_slash),
        ca_file=c.get("tenant", "ca_file", "", _existing_file),
    )

    client_secret = c.get("app", "client_secret", "", _string)
    if env.get(CLIENT_SECRET_ENV):
        client_secret = env[CLIENT_SECRET_ENV]
    app = AppSettings(
        client_id=c.get("app", "client_id", "", _token),
        client_secret=client_secret,
        certificate_path=c.get("app", "certificate_path", "", _existing_file),
        managed_identity=c.get("app", "managed_identity", False, _boolean),
        api_scope=c.get("app", "api_scope", "access_as_user", _token),
        allowed_client_ids=c.get("app", "allowed_client_ids", (), _client_ids, _lower_all),
    )
    kinds = [k for k, on in (("client_secret", bool(app.client_secret)),
                             ("certificate_path", bool(app.certificate_path)),
                             ("managed_identity", app.managed_identity)) if on]
    if len(kinds) > 1:
        c.err("app", kinds[1], f"set only one app credential, not {' and '.join(kinds)}")
    elif not kinds and not allow_no_credential:
        c.err("app", "client_secret", "the app needs a credential: client_secret (or env "
              f"{CLIENT_SECRET_ENV}), certificate_path, or managed_identity = true")

    secure = not public_url.startswith("http://")
    secret = c.get("session", "secret", "", _string)
    if env.get(SESSION_SECRET_ENV):
        secret = env[SESSION_SECRET_ENV]
    generated = False
    if not secret and generated_session_secret:
        secret, generated = secrets.token_urlsafe(MIN_SESSION_SECRET_BYTES), True
    if not secret:
        c.err("session", "secret", "missing (required): set it, or env "
              f"{SESSION_SECRET_ENV}; {_session_secret('')}")
    elif (problem := _session_secret(secret)) is not None:
        c.err("session", "secret", problem)
    max_age = c.get("session", "max_age_minutes", 480, _int_range(1, 7 * 24 * 60))
    idle = c.get("session", "idle_minutes", 30, _int_range(1, 7 * 24 * 60))
    if idle > max_age:
        c.err("session", "idle_minutes", f"must not exceed max_age_minutes ({max_age})")
    backend = c.get("session", "backend", "cookie", _choice(SESSION_BACKENDS))
    redis_url = c.get("session", "redis_url", "", _string)
    if env.get(REDIS_URL_ENV):
        redis_url = env[REDIS_URL_ENV]
    if backend == "redis" and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        c.err("session", "redis_url", "backend = \"redis\" needs redis_url = "
              "\"redis://host:port/db\" (or rediss:// for TLS), or env " + REDIS_URL_ENV)
    session = SessionSettings(
        secret=secret, max_age_minutes=max_age, idle_minutes=idle,
        backend=backend, redis_url=redis_url,
        account_recheck_seconds=c.get("session", "account_recheck_seconds", 60,
                                      _int_range(0, 300)),
        revocations_path=c.get("session", "revocations_path", "", _string),
        cookie_name="__Host-mystaff" if secure else "mystaff",
        secret_generated=generated,
    )
    settings = Settings(
        server=server, tenant=tenant, app=app, session=session,
        policy=PolicySettings(c.get("policy", "path", "policies/contoso.yaml", _nonempty),
                              c.get("policy", "remembered_ids_path", "", _string)),
        phones=PhonesSettings(c.get("phones", "default_region", "US", _region, str.upper)),
        audit=AuditSettings(c.get("audit", "path", "audit.jsonl", _nonempty),
                            _phone_hash_key_setting(c, env)),
        graph=GraphSettings(
            timeout_seconds=float(c.get("graph", "timeout_seconds", 10.0,
                                        _number_range(0.1, 300))),
            retry_budget_seconds=float(c.get("graph", "retry_budget_seconds", 30.0,
                                             _number_range(0, 600))),
            max_retries=c.get("graph", "max_retries", 3, _int_range(0, 10)),
            owners_refresh_seconds=float(c.get("graph", "owners_refresh_seconds", 300,
                                               _number_range(10, 3600))),
            identity=c.get("graph", "identity", "app", _choice(("app", "manager"))),
        ),
        notify=NotifySettings(
            sender=c.get("notify", "sender", "", _mailbox, str.strip),
            contact=c.get("notify", "contact", "", _one_line(200), str.strip),
        ),
    )
    if c.errors:
        raise ConfigError(c.errors)
    return settings


def load_config(path: str | Path, env: Mapping[str, str] | None = None, *,
                allow_no_credential: bool = False,
                generated_session_secret: bool = False) -> Settings:
    """Read and validate a TOML configuration file; raises ConfigError naming each bad key."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read the configuration file: {exc.strerror}"]) \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: invalid TOML: {exc}"]) from None
    return config_from_mapping(data, name, env, allow_no_credential=allow_no_credential,
                               generated_session_secret=generated_session_secret)
