"""Schemathesis against the live ``/api/v1/openapi.json``, signed in (session cookie and
CSRF header): no 5xx, and every answer conforms to the document (status code, content type,
headers, body schema). Two passes per operation: schema-valid inputs aimed at the manager's
real location and people (so changes really happen), and schema-violating inputs anywhere.
Bounded (a few dozen examples per operation) to stay well under a minute. Afterwards, every
write the fake tenant accepted has its audit record (no unaudited change). The raw-socket and
generated oddities schemathesis cannot send are test_fuzz.py's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import requests
import schemathesis
from crash.test_kill9 import WRITES, _successful_writes
from e2e_support import uid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from fake_graph.embedded import RunningFake

from .support import ThreadedStack

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
PEOPLE = [uid(f"{u}@e2e.example") for u in (
    "staff1", "staff2", "staff3", "ceo", "vip", "admin.tenant", "grouped", "mgr.upn", "south1")]
REQUEST_LINE_LIMIT = 8190 - len("GET  HTTP/1.1")  # aiohttp's max_line_size
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
CHANGE_EVENTS = set(WRITES.values())


def _run(operation: Any, mode: GenerationMode, live: ThreadedStack, http: requests.Session,
         seen: dict[int, int]) -> None:
    assert live.stack is not None
    base = live.stack.proxy_url
    headers = {"X-CSRF-Token": live.csrf}
    if mode is GenerationMode.POSITIVE and "{loc}" in operation.path:
        people = st.sampled_from(PEOPLE)
        strategy = people.flatmap(lambda person: operation.as_strategy(
            mode, path_parameters={"loc": "north", "userId": person}
            if "{userId}" in operation.path else {"loc": "north"}))
    else:
        strategy = operation.as_strategy(mode)

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base, session=http, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if len(response.request.url or "") - len(base) > REQUEST_LINE_LIMIT:
            # Refused by the HTTP server's request-line limit before the application runs
            # (a plain-text 400 from aiohttp: a limit, not an API answer).
            assert response.status_code == 400
            return
        case.validate_response(response, checks=CHECKS)

    if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) \
            and not operation.body:
        return  # nothing to get wrong: no parameters and no body (GET /me, /locations)
    fuzz()


def test_api_conforms_to_its_openapi_document(e2e_fake: RunningFake, tmp_path: Path) -> None:
    with ThreadedStack(e2e_fake, tmp_path, "mgr.upn@e2e.example") as live, \
            requests.Session() as http:
        assert live.stack is not None
        http.cookies.update(live.cookies)
        seq0 = e2e_fake.fake.recorder.last_seq
        schema = schemathesis.openapi.from_url(live.stack.proxy_url + "/api/v1/openapi.json")
        # Authenticate with the session only: no made-up Authorization header (a bearer
        # token, even a garbage one, is judged alone; bad tokens are test_bearer.py's).
        schema.config.generation.with_security_parameters = False
        operations = [result.ok() for result in schema.get_all_operations()
                      if isinstance(result, Ok)]
        assert len(operations) >= 8
        seen: dict[int, int] = {}
        for operation in operations:
            for mode in EXAMPLES:
                _run(operation, mode, live, http, seen)
        # The fuzz reached past authorization and really changed things (not only 4xx).
        assert seen.get(200, 0) > 20 and seen.get(201, 0) + seen.get(204, 0) > 0, seen
        print("STATUSES", sorted(seen.items()))
        assert not any(status >= 500 for status in seen), seen
        audit = live.stack.audit()
        assert any(r["event"] == "password_reset" and r["outcome"] == "success" for r in audit)
        # No unaudited change: every write Graph accepted has its record (event, target).
        audited = Counter((r["target"]["id"], r["event"]) for r in audit
                          if r["event"] in CHANGE_EVENTS and r["outcome"] != "denied")
        done = Counter(_successful_writes(e2e_fake, seq0))
        assert done and not done - audited, (done - audited)
        assert not [r for r in audit if r.get("reason") == "interrupted"]
