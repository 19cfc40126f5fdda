"""What a grant of the token endpoint gets (``TokenRequest``) and is (``Grant``).

``token`` builds the request; each module of ``grants/`` serves one ``grant_type``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..directory import Application
from ..state import FakeGraph
from .clientauth import authenticate_client
from .protocol import TenantRef, missing_parameter


@dataclass
class TokenRequest:
    fake: FakeGraph
    tenant: TenantRef
    form: dict[str, str]
    headers: Any  # CIMultiDictProxy[str]
    token_urls: set[str]

    def param(self, name: str) -> str:
        value = self.form.get(name)
        if not value:
            raise missing_parameter(name)
        return value

    def client(self, *, require_credential: bool = False) -> Application:
        return authenticate_client(self.fake.directory, self.form, self.headers,
                                   self.token_urls, require_credential=require_credential)

    @property
    def wants_client_info(self) -> bool:
        return self.form.get("client_info") == "1"


Grant = Callable[[TokenRequest], Awaitable[dict[str, Any]]]
