"""Helpers for the identity tests: drive the fake's sign-in page over HTTP like a browser."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import msal
import requests

from fake_graph import demo
from fake_graph.embedded import RunningFake

REDIRECT_URI = demo.REDIRECT_URIS[0]


@dataclass
class Form:
    action: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), {}))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")


def parse_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    assert parser.forms, f"no form in page: {html[:300]}"
    return parser.forms[0]


def session(running: RunningFake) -> requests.Session:
    return running.requests_session()


def submit(http: requests.Session, page_url: str, html: str, **values: str) -> requests.Response:
    form = parse_form(html)
    data = {**form.fields, **values}
    return http.post(urljoin(page_url, form.action), data=data, allow_redirects=False,
                     timeout=10)


def sign_in(http: requests.Session, auth_uri: str, username: str, password: str,
            **extra: str) -> requests.Response:
    """GET the authorize URL and submit the sign-in form; the (unfollowed) response."""
    page = http.get(auth_uri, timeout=10)
    assert page.status_code == 200, page.text
    return submit(http, page.url, page.text, username=username, password=password, **extra)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, (response.status_code, response.text[:500])
    location = response.headers["Location"]
    return dict(parse_qsl(urlsplit(location).query))


def decode_verified(running: RunningFake, token: str, audience: str) -> dict[str, Any]:
    """Verify a token's signature against the fake's published JWKS, as a resource would."""
    http = session(running)
    config = http.get(f"{running.authority}/v2.0/.well-known/openid-configuration",
                      timeout=10).json()
    keys = http.get(config["jwks_uri"], timeout=10).json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk).key
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)
    return claims


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def make_app(running: RunningFake, secret: str = demo.CLIENT_SECRET,
             client_id: str = demo.CLIENT_ID) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id, client_credential=secret, authority=running.authority,
        instance_discovery=False, http_client=session(running))


def auth_code_flow(running: RunningFake, upn: str, password: str,
                   app: msal.ConfidentialClientApplication | None = None,
                   scopes: list[str] | None = None) -> tuple[dict, dict]:  # type: ignore[type-arg]
    app = app or make_app(running)
    flow = app.initiate_auth_code_flow(scopes or ["User.Read"], redirect_uri=REDIRECT_URI)
    response = sign_in(session(running), flow["auth_uri"], upn, password)
    result = app.acquire_token_by_auth_code_flow(flow, redirect_params(response))
    return flow, result
