from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Any

import pytest

from mystaff_proxy.config import ConfigError, config_from_mapping, load_config

ROOT = Path(__file__).resolve().parents[2]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = secrets.token_urlsafe(32)


def _data(**sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "server": {"public_url": "https://mystaff.contoso.com"},
        "tenant": {"id": TENANT},
        "app": {"client_id": "11111111-1111-1111-1111-111111111111", "client_secret": "s"},
        "session": {"secret": SECRET},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def _errors(data: dict[str, Any], env: dict[str, str] | None = None, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data, "config.toml", env or {}, **kw)
    return info.value.errors


def test_example_config_loads_with_secrets_from_env() -> None:
    env = {"MYSTAFF_CLIENT_SECRET": "from-env", "MYSTAFF_SESSION_SECRET": SECRET}
    s = load_config(ROOT / "config.example.toml", env)
    assert s.app.client_secret == "from-env" and s.session.secret == SECRET
    assert s.server.public_url == "https://mystaff.contoso.com"
    assert s.redirect_uri == "https://mystaff.contoso.com/auth/callback"
    assert s.authority == "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000"
    assert s.cookie_secure and s.session.cookie_name == "__Host-mystaff"
    assert s.graph.timeout_seconds == 10 and s.graph.max_retries == 3
    assert s.policy.path == "policies/contoso.yaml" and s.audit.path == "audit.jsonl"


def test_example_config_without_secrets_names_both_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(ROOT / "config.example.toml", {})
    assert [e.split(":")[1].strip() for e in info.value.errors] == [
        "[app] client_secret", "[session] secret"]


def test_defaults() -> None:
    s = config_from_mapping(_data(), "config.toml", {})
    assert (s.server.host, s.server.port, s.server.trusted_proxies) == ("0.0.0.0", 8080, ())
    assert s.server.log_level == "info"
    assert s.tenant.graph_url == "https://graph.microsoft.com/v1.0" and s.tenant.ca_file == ""
    assert s.app.api_scope == "access_as_user" and s.app.credential_kind == "secret"
    assert (s.session.max_age_minutes, s.session.idle_minutes) == (480, 30)
    assert s.session.account_recheck_seconds == 60
    assert s.session.backend == "cookie" and len(s.session.secret_bytes) == 32
    assert s.phones.default_region == "US"
    assert (s.graph.retry_budget_seconds, s.graph.max_retries) == (30.0, 3)
    assert s.server.signin_attempts_per_minute == 300
    assert s.app.allowed_client_ids == ()
    assert s.revocations_path == "revoked-sessions.txt"  # next to audit.jsonl


def test_secrets_not_in_repr() -> None:
    s = config_from_mapping(_data(app={"client_secret": "hunter2hunter2"}), "c", {})
    assert "hunter2" not in repr(s) and SECRET not in repr(s)


def test_env_wins_over_file() -> None:
    other = secrets.token_urlsafe(40)
    s = config_from_mapping(_data(), "c", {"MYSTAFF_CLIENT_SECRET": "env",
                                           "MYSTAFF_SESSION_SECRET": other})
    assert (s.app.client_secret, s.session.secret) == ("env", other)


def test_plain_http_on_loopback_only() -> None:
    s = config_from_mapping(_data(server={"public_url": "http://127.0.0.1:8080/"}), "c", {})
    assert s.server.public_url == "http://127.0.0.1:8080"
    assert not s.cookie_secure and s.session.cookie_name == "mystaff"
    assert s.redirect_uri == "http://127.0.0.1:8080/auth/callback"
    for url in ("http://localhost:9000", "http://[::1]:8080"):
        assert not config_from_mapping(_data(server={"public_url": url}), "c", {}).cookie_secure


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("server", "public_url", "http://mystaff.contoso.com", "must use https"),
    ("server", "public_url", "https://mystaff.contoso.com/app", "must not have a path"),
    ("server", "public_url", "https://x.com/?a=1", "query or fragment"),
    ("server", "public_url", "mystaff.contoso.com", "absolute http(s) URL"),
    ("server", "public_url", "https://u:p@x.com", "user name or password"),
    ("server", "port", 70000, "0 to 65535"),
    ("server", "port", "8080", "0 to 65535"),
    ("server", "trusted_proxies", ["10.0.0.0/8", "proxy.local"], "'proxy.local' is not"),
    ("server", "trusted_proxies", "10.0.0.1", "must be a list"),
    ("server", "log_level", "verbose", "must be one of"),
    ("server", "signin_attempts_per_minute", -1, "0 to 100000"),
    ("server", "signin_attempts_per_minute", "300", "0 to 100000"),
    ("server", "colour", "red", "unknown key"),
    ("tenant", "id", "contoso.com", "GUID"),
    ("tenant", "authority_host", "http://127.0.0.1:8443", "must use https"),
    ("tenant", "ca_file", "/nonexistent/ca.pem", "cannot read the file"),
    ("app", "client_id", "", "non-empty"),
    ("app", "managed_identity", "yes", "true or false"),
    ("app", "certificate_path", "/nonexistent/cert.pem", "cannot read the file"),
    ("app", "allowed_client_ids", "11111111-1111-1111-1111-111111111111", "must be a list"),
    ("app", "allowed_client_ids", ["my-script"], "'my-script' is not an application (client) id"),
    ("session", "secret", "short", "at least 32 bytes of urlsafe base64"),
    ("session", "secret", "a+b/" * 12, "at least 32 bytes of urlsafe base64"),
    ("session", "max_age_minutes", 0, "1 to 10080"),
    ("session", "account_recheck_seconds", 301, "0 to 300"),
    ("session", "idle_minutes", 600, "must not exceed max_age_minutes"),
    ("session", "backend", "memcached", "must be one of: 'cookie', 'redis'"),
    ("session", "revocations_path", 3, "must be a string"),
    ("phones", "default_region", "XX", "two-letter region"),
    ("audit", "path", "", "non-empty"),
    ("policy", "path", 3, "non-empty"),
    ("graph", "timeout_seconds", 0, "0.1 to 300"),
    ("graph", "max_retries", 11, "0 to 10"),
])
def test_invalid_key_is_named(section: str, key: str, value: Any, message: str) -> None:
    errors = _errors(_data(**{section: {key: value}}))
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"config.toml: [{section}] {key}: ")
    assert message in errors[0]


def test_redis_backend_needs_a_redis_url() -> None:
    errors = _errors(_data(session={"backend": "redis"}))
    assert errors == [errors[0]] and errors[0].startswith(
        "config.toml: [session] redis_url: backend = \"redis\" needs redis_url")
    ok = config_from_mapping(_data(session={"backend": "redis",
                                            "redis_url": "redis://127.0.0.1:6379/0"}),
                             "config.toml", {})
    assert ok.session.backend == "redis"


def test_sign_in_limit_zero_is_off() -> None:
    s = config_from_mapping(_data(server={"signin_attempts_per_minute": 0}), "c", {})
    assert s.server.signin_attempts_per_minute == 0


def test_allowed_client_ids_are_lower_cased() -> None:
    s = config_from_mapping(_data(
        app={"allowed_client_ids": ["AAAAAAAA-1111-1111-1111-111111111111"]}), "c", {})
    assert s.app.allowed_client_ids == ("aaaaaaaa-1111-1111-1111-111111111111",)


def test_revocations_path_defaults_to_beside_the_audit_log() -> None:
    def path(**sections: dict[str, Any]) -> str:
        return config_from_mapping(_data(**sections), "c", {}).revocations_path

    assert path(audit={"path": "/var/log/mystaff/audit.jsonl"}) == \
        "/var/log/mystaff/revoked-sessions.txt"
    assert path(audit={"path": "-"}) == "revoked-sessions.txt"  # the working directory
    assert path(audit={"path": "-"}, session={"revocations_path": "/var/lib/m/revoked"}) == \
        "/var/lib/m/revoked"


def test_session_secret_message() -> None:
    errors = _errors(_data(session={"secret": "abc"}))
    assert errors[0].startswith("config.toml: [session] secret: must be at least 32 bytes of "
                                "urlsafe base64")


def test_required_keys_and_unknown_sections() -> None:
    errors = _errors({"app": {"client_secret": "s"}, "session": {"secret": SECRET},
                      "extras": {}})
    assert errors == [
        "config.toml: [extras]: unknown section (expected one of: server, tenant, app, "
        "session, policy, phones, audit, graph, notify)",
        "config.toml: [server] public_url: missing (required)",
        "config.toml: [tenant] id: missing (required)",
        "config.toml: [app] client_id: missing (required)",
    ]


def test_exactly_one_credential(tmp_path: Path) -> None:
    cert = tmp_path / "app.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    two = _errors(_data(app={"certificate_path": str(cert)}))
    assert two == ["config.toml: [app] certificate_path: set only one app credential, not "
                   "client_secret and certificate_path"]
    s = config_from_mapping(_data(app={"client_secret": "", "managed_identity": True}), "c", {})
    assert s.app.credential_kind == "managed_identity"
    none = _data(app={"client_secret": ""})
    assert "needs a credential" in _errors(none)[0]
    demo = config_from_mapping(none, "c", {}, allow_no_credential=True)
    assert demo.app.credential_kind == "none"


def test_session_secret_required_unless_generated() -> None:
    data = _data(session={"secret": ""})
    assert _errors(data)[0].startswith("config.toml: [session] secret: missing (required)")
    s = config_from_mapping(data, "c", {}, generated_session_secret=True)
    assert s.session.secret_generated and len(s.session.secret_bytes) >= 32
    kept = config_from_mapping(_data(), "c", {}, generated_session_secret=True)
    assert kept.session.secret == SECRET and not kept.session.secret_generated


def test_trusted_proxies_parsed() -> None:
    s = config_from_mapping(_data(server={"trusted_proxies": ["10.0.0.0/8", "::1",
                                                              "192.168.1.7"]}), "c", {})
    assert s.server.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"),
                                        ipaddress.ip_network("::1"),
                                        ipaddress.ip_network("192.168.1.7/32"))


def test_all_errors_at_once() -> None:
    errors = _errors(_data(server={"port": -1}, tenant={"id": "x"}, phones={"default_region": 1}))
    assert [e.split(":")[1].strip() for e in errors] == [
        "[server] port", "[tenant] id", "[phones] default_region"]


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "none.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad, {})
    assert info.value.errors[0].startswith(f"{bad}: invalid TOML: ")


def test_metrics_token_is_off_by_default_and_the_environment_wins() -> None:
    assert config_from_mapping(_data(), "c", {}).server.metrics_token == ""
    token = secrets.token_urlsafe(24)
    s = config_from_mapping(_data(server={"metrics_token": "x" * 16}), "c",
                            {"MYSTAFF_METRICS_TOKEN": token})
    assert s.server.metrics_token == token and token not in repr(s)


@pytest.mark.parametrize(("value", "env"), [
    ("short", None), ("has a space in it, sixteen+", None), (16, None),
    ("caf\u00e9" * 4, None), ("", "short"),
])
def test_a_weak_metrics_token_is_named(value: Any, env: str | None) -> None:
    errors = _errors(_data(server={"metrics_token": value}),
                     {"MYSTAFF_METRICS_TOKEN": env} if env else None)
    assert len(errors) == 1, errors
    assert errors[0].startswith("config.toml: [server] metrics_token: ")
    assert "at least 16 printable ASCII characters" in errors[0]
    if env:
        assert "(env MYSTAFF_METRICS_TOKEN)" in errors[0]


def test_remembered_ids_path_defaults_beside_the_audit_log() -> None:
    s = config_from_mapping(_data(audit={"path": "/var/log/mystaff/audit.jsonl"}), "c", {})
    assert s.remembered_ids_path == "/var/log/mystaff/protected-ids.json"
    s = config_from_mapping(_data(audit={"path": "-"}), "c", {})
    assert s.remembered_ids_path is None  # memory only
    s = config_from_mapping(_data(policy={"remembered_ids_path": "/srv/ids.json"}), "c", {})
    assert s.remembered_ids_path == "/srv/ids.json"


def test_owners_refresh_seconds() -> None:
    assert config_from_mapping(_data(), "c", {}).graph.owners_refresh_seconds == 300
    s = config_from_mapping(_data(graph={"owners_refresh_seconds": 60}), "c", {})
    assert s.graph.owners_refresh_seconds == 60
    errors = _errors(_data(graph={"owners_refresh_seconds": 5}))
    assert len(errors) == 1 and "[graph] owners_refresh_seconds" in errors[0]


def test_graph_identity() -> None:
    assert config_from_mapping(_data(), "c", {}).graph.identity == "app"
    s = config_from_mapping(_data(graph={"identity": "manager"}), "c", {})
    assert s.graph.identity == "manager"
    errors = _errors(_data(graph={"identity": "user"}))
    assert len(errors) == 1 and "[graph] identity" in errors[0] and "'manager'" in errors[0]


def test_phone_hash_key_is_off_by_default_and_the_environment_wins() -> None:
    assert config_from_mapping(_data(), "c", {}).audit.phone_hash_key == ""
    key = secrets.token_urlsafe(32)
    s = config_from_mapping(_data(audit={"phone_hash_key": secrets.token_urlsafe(40)}), "c",
                            {"MYSTAFF_AUDIT_PHONE_HASH_KEY": key})
    assert s.audit.phone_hash_key == key and key not in repr(s)
    assert len(s.audit.phone_hash_key_bytes) == 32


@pytest.mark.parametrize(("value", "env"), [
    (secrets.token_urlsafe(16), None), ("not base64!", None), (32, None),
    ("", secrets.token_urlsafe(8)),
])
def test_a_weak_phone_hash_key_is_named(value: Any, env: str | None) -> None:
    errors = _errors(_data(audit={"phone_hash_key": value}),
                     {"MYSTAFF_AUDIT_PHONE_HASH_KEY": env} if env else None)
    assert len(errors) == 1, errors
    assert errors[0].startswith("config.toml: [audit] phone_hash_key: ")
    if env:
        assert "(env MYSTAFF_AUDIT_PHONE_HASH_KEY)" in errors[0]
    if isinstance(value, str):
        assert "at least 32 bytes of urlsafe base64" in errors[0]


def test_notify_is_off_unless_a_sender_is_set() -> None:
    off = config_from_mapping(_data(), "c", {}).notify
    assert (off.sender, off.contact) == ("", "")
    on = config_from_mapping(_data(notify={"sender": "mystaff@contoso.com",
                                           "contact": "the IT helpdesk, +1 206 555 0100"}),
                             "c", {}).notify
    assert (on.sender, on.contact) == ("mystaff@contoso.com", "the IT helpdesk, +1 206 555 0100")


@pytest.mark.parametrize(("values", "error"), [
    ({"sender": "mystaff"}, "[notify] sender: must be empty (no mails) or a mailbox's address "
                            "such as \"mystaff@contoso.com\""),
    ({"sender": "My Staff <mystaff@contoso.com>"}, "[notify] sender: must be empty"),
    ({"sender": 1}, "[notify] sender: must be empty"),
    ({"contact": "line one\nline two"}, "[notify] contact: must be one line of text of at "
                                        "most 200 characters"),
    ({"contact": "x" * 201}, "[notify] contact: must be one line"),
    ({"colour": "red"}, "[notify] colour: unknown key"),
])
def test_bad_notify_keys(values: dict[str, Any], error: str) -> None:
    [message] = _errors(_data(notify=values))
    assert message.startswith("config.toml: " + error), message
