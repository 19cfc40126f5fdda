"""Checks shared by the end-to-end tests: the OpenAPI contract, fake state, audit lines, metrics.

``check_api_answer`` validates one JSON API answer against the OpenAPI document the proxy
serves (``build_openapi()``): the status must be documented for that operation and the body
must match its schema. ``tests/e2e/conftest.py`` applies it to every ``Manager.call``.

``jsonschema`` is not among the test dependencies, so ``validate`` is a small validator for the
JSON Schema keywords the document uses; an unknown keyword fails loudly instead of passing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from e2e_support import CLIENT_ID, PASSWORDS, POLICY_TEMPLATE, Manager, Stack, client_ssl

from mystaff_proxy.graph.credentials import build_credential
from mystaff_proxy.web.openapi import build_openapi
from mystaff_proxy.web.services import SERVICES

OPENAPI: dict[str, Any] = build_openapi()

_KNOWN_KEYWORDS = frozenset({
    "type", "required", "properties", "additionalProperties", "items", "enum", "const", "$ref",
    "pattern", "minLength", "maxLength", "minimum", "maximum", "format", "description",
})
_TYPES: dict[str, Any] = {
    "string": str, "object": dict, "array": list, "boolean": bool, "null": type(None),
}


class SchemaError(AssertionError):
    pass


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        raise SchemaError(f"unsupported $ref {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        if part not in node:
            raise SchemaError(f"dangling $ref {ref}")
        node = node[part]
    return node


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name not in _TYPES:
        raise SchemaError(f"unsupported type {name}")
    return isinstance(value, _TYPES[name])


def validate(schema: Mapping[str, Any], value: Any, root: Mapping[str, Any] = OPENAPI,
             where: str = "$") -> None:
    """Raise SchemaError when ``value`` does not match ``schema`` (a JSON Schema subset)."""
    unknown = set(schema) - _KNOWN_KEYWORDS
    if unknown:
        raise SchemaError(f"{where}: the test validator does not know {sorted(unknown)}")
    if "$ref" in schema:
        validate(_resolve(schema["$ref"], root), value, root, where)
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{where}: {value!r} not in {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            raise SchemaError(f"{where}: {value!r} is not of type {types}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise SchemaError(f"{where}: missing required {key!r}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                validate(props[key], item, root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise SchemaError(f"{where}: unexpected property {key!r}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(schema["items"], item, root, f"{where}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{where}: {value!r} does not match {schema['pattern']}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{where}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{where}: above {schema['maximum']}")


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented (template, operation) for a concrete request path, or None."""
    path = path.split("?", 1)[0]
    for template, item in OPENAPI["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def check_api_answer(method: str, path: str, status: int, body: Any,
                     headers: Mapping[str, str]) -> None:
    """The answer is one the OpenAPI document promises for this operation."""
    found = operation_for(method, path)
    if found is None:
        return  # not an API operation (pages, /auth, ops endpoints, unknown paths)
    template, op = found
    responses = op["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}: undocumented"
    response = responses[str(status)]
    if "$ref" in response:
        response = _resolve(response["$ref"], OPENAPI)
    content = response.get("content")
    if not content:
        assert body in (b"", None), f"{method} {template} {status}: body {body!r} undocumented"
        return
    schema = content["application/json"].get("schema")
    assert not isinstance(body, bytes), f"{method} {template} {status}: not JSON: {body!r}"
    if schema is not None:
        validate(schema, body)
    if isinstance(body, dict) and "error" in body:
        request_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id")
        assert body["error"]["requestId"] == request_id


# -- fake state and the audit file -------------------------------------------------------------

def state(stack: Stack, upn: str) -> tuple[str, bool, dict[str, tuple[str, str | None]]]:
    """What a change could touch on the fake: password, force flag, phones."""
    user = stack.fake_user(upn)
    phones = {t: (p.number, p.sms_sign_in_state) for t, p in user.phones.items()}
    return user.password, user.force_change_password_next_sign_in, phones


class AuditTail:
    """The audit records written since the last ``new()``."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._seen = len(stack.audit())

    def new(self) -> list[dict[str, Any]]:
        records = self._stack.audit()
        out, self._seen = records[self._seen:], len(records)
        return out

    def one(self) -> dict[str, Any]:
        records = self.new()
        assert len(records) == 1, json.dumps(records, indent=1)
        return records[0]


def metrics_samples(text: str) -> dict[str, float]:
    """Prometheus text format -> {'name{labels}': value}, labels in alphabetical order;
    checks HELP/TYPE for each family."""
    helped: set[str] = set()
    typed: set[str] = set()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            assert parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
            typed.add(parts[2])
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="'
                         r'(?:[^"\\]|\\.)*",?)*\})? (\S+)', line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in typed or name in typed, f"no # TYPE for {name}"
        assert family in helped or name in helped, f"no # HELP for {name}"
        labels = sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")',
                                   m.group(2) or ""))
        # Keys with the labels in alphabetical order: the exposition's order is not a contract.
        out[name + ("{" + ",".join(labels) + "}" if labels else "")] = float(m.group(3))
    return out


# -- raw requests and policy variants ----------------------------------------------------------

async def raw_call(m: Manager, method: str, path: str, data: bytes | None = None, *,
                   headers: Mapping[str, str] | None = None,
                   csrf: bool = True) -> tuple[int, bytes, dict[str, str]]:
    """A request whose body and answer are bytes, exactly as sent and received."""
    h = dict(headers or {})
    if csrf and method not in ("GET", "HEAD"):
        h.setdefault("X-CSRF-Token", m.csrf)
    async with m.session.request(method, m.proxy_url + path, data=data, headers=h,
                                 allow_redirects=False) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


def policy_variant(tmp: Path, *replacements: tuple[str, str],
                   template: Path = POLICY_TEMPLATE) -> Path:
    """A copy of the e2e policy template with text replaced (each must occur)."""
    text = template.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    out = tmp / f"policy-template-{len(list(tmp.glob('policy-template-*')))}.yaml"
    out.write_text(text)
    return out


def error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"]["code"])
    return None


# -- tokens from the fake's token endpoint -----------------------------------------------------

SCRIPT_CLIENT_ID = "e2e0b000-0000-4000-8000-0000000000bb"
SCRIPT_CLIENT_SECRET = "e2e-script-secret"
API_SCOPE = f"api://{CLIENT_ID}/access_as_user"


async def fetch_token(stack: Stack, form: Mapping[str, str]) -> dict[str, Any]:
    """POST ``form`` to the fake tenant's token endpoint as the script app; the JSON answer."""
    data = {"client_id": SCRIPT_CLIENT_ID, "client_secret": SCRIPT_CLIENT_SECRET, **form}
    url = f"{stack.fake_url}/{stack.fake.tenant_id}/oauth2/v2.0/token"
    connector = aiohttp.TCPConnector(ssl=client_ssl(stack.fake.ca_file))
    async with aiohttp.ClientSession(connector=connector) as session, \
            session.post(url, data=data) as resp:
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
        return body


async def user_token(stack: Stack, upn: str, scope: str = API_SCOPE) -> str:
    """A real access token for ``upn`` (ROPC), for the proxy's API unless ``scope`` says."""
    body = await fetch_token(stack, {"grant_type": "password", "username": upn,
                                     "password": PASSWORDS[upn], "scope": scope})
    return str(body["access_token"])


async def bearer_call(stack: Stack, token: str, method: str, path: str, body: Any = None,
                      headers: Mapping[str, str] | None = None
                      ) -> tuple[int, Any, dict[str, str]]:
    """One API call with ``Authorization: Bearer``, no cookies, no CSRF header; checked."""
    h = {"Authorization": f"Bearer {token}", **(headers or {})}
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    async with aiohttp.ClientSession() as session, session.request(
            method, stack.proxy_url + path, headers=h,
            data=json.dumps(body) if body is not None else None) as resp:
        raw = await resp.read()
        data = json.loads(raw) if raw and resp.content_type == "application/json" else raw
        result = resp.status, data, dict(resp.headers)
    check_api_answer(method, path, *result)
    return result


async def drop_app_token(stack: Stack) -> None:
    """Forget the proxy's app token, in its cache and azure-identity's (as after expiry)."""
    settings = stack.settings
    token = stack.app[SERVICES].app_token
    old = token._credential
    token._credential = build_credential(
        tenant_id=settings.tenant.id, client_id=settings.app.client_id,
        authority_host=settings.tenant.authority_host, client_secret=settings.app.client_secret,
        ca_file=settings.tenant.ca_file)
    token._token = None
    await old.close()
