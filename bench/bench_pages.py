"""The managers' page against fake_graph: time per page and each page's transfer size.

Run: ``/work/venv/bin/python bench/bench_pages.py [--requests 50]``.

Starts fake_graph (demo tenant, HTTPS) and the proxy on loopback with the browser tests'
policy (``tests/web/policy.yaml``), signs in through the fake's sign-in form, then requests
each page ``--requests`` times one after another. Time is measured at the client over
loopback (so it includes one local HTTP round trip, and for every page but the sign-in
start, the proxy's own calls to the fake's Graph). Transfer size is the page's HTML plus
every stylesheet, script and icon it links (uncompressed: the proxy does not compress, and
a phone's first visit pays all of it). Prints figures only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web.live import PRIYA, SAM, Account, LiveSystem

ALEX = "a1000000-0000-4000-8000-000000000002"
TAYLOR = "a1000000-0000-4000-8000-000000000005"
HOSTILE = "a1000000-0000-4000-8000-000000000030"


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = a.get("action", ""), True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def sign_in(live: LiveSystem, account: Account) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would override verify
    session.verify = live.running.ca_file if live.running else True
    page = session.get(live.url + "/auth/login?next=/")
    form = _Form()
    form.feed(page.text)
    assert form.action is not None, "no sign-in form on the fake's page"
    fields = dict(form.fields, username=account.upn, password=account.password)
    done = session.post(urljoin(page.url, form.action), data=fields)
    assert done.url.startswith(live.url), f"sign-in did not come back: {done.url}"
    return session


def assets(session: requests.Session, base: str, html: str, cache: dict[str, int]) -> int:
    total = 0
    for ref in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        if ref not in cache:
            cache[ref] = len(session.get(base + ref.replace("&amp;", "&")).content)
        total += cache[ref]
    return total


def measure(name: str, call: Callable[[], requests.Response], n: int,
            session: requests.Session, base: str,
            cache: dict[str, int]) -> tuple[str, float, float, int, int]:
    times = []
    body = ""
    for _ in range(n):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 400, f"{name}: HTTP {response.status_code}"
        body = response.text
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    html = len(body.encode())
    return name, statistics.median(times), p95, html, html + assets(session, base, body, cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    n = parser.parse_args().requests
    live = LiveSystem().start()
    try:
        base = live.url
        cache: dict[str, int] = {}
        anonymous = requests.Session()
        sam = sign_in(live, SAM)
        priya = sign_in(live, PRIYA)
        csrf = re.search(r'name="csrf" value="([^"]+)"', sam.get(base + "/locations").text)
        assert csrf is not None
        token = csrf.group(1)
        person = f"{base}/locations/seattle/staff/{ALEX}"
        # Rate limits (30 resets, 60 phone changes an hour): the change flows run fewer times.
        changes = max(1, min(n, 25))

        def add_then_remove() -> requests.Response:
            sam.post(person + "/phones/add", data={"csrf": token, "phoneType": "office",
                                                   "phoneNumber": "206 555 0142"})
            return sam.post(person + "/phones/office/remove", data={"csrf": token})

        rows = [
            measure("sign-in start (/)", lambda: anonymous.get(base + "/"), n, anonymous,
                    base, cache),
            measure("location picker", lambda: sam.get(base + "/locations"), n, sam, base,
                    cache),
            measure("staff list (10 people)", lambda: sam.get(base + "/locations/seattle"), n,
                    sam, base, cache),
            measure("staff search", lambda: sam.get(base + "/locations/seattle?search=ta"), n,
                    sam, base, cache),
            measure("profile", lambda: sam.get(f"{base}/locations/seattle/staff/{TAYLOR}"), n,
                    sam, base, cache),
            measure("reset password form", lambda: sam.get(person + "/password"), n, sam,
                    base, cache),
            measure("reset password (POST)", lambda: sam.post(
                person + "/password", data={"csrf": token, "mode": "generate"}), changes, sam,
                base, cache),
            measure("add phone form", lambda: sam.get(person + "/phones/add"), n, sam, base,
                    cache),
            measure("add + remove phone (2 POSTs)", add_then_remove, changes, sam, base,
                    cache),
            measure("remove phone confirm", lambda: sam.get(
                f"{base}/locations/seattle/staff/{TAYLOR}/phones/mobile/remove"), n, sam, base,
                cache),
            measure("hostile-name profile", lambda: priya.get(
                f"{base}/locations/portland/staff/{HOSTILE}"), n, priya, base, cache),
        ]
        print(f"mystaff-proxy pages against fake_graph, {n} requests per page "
              f"({changes} for changes), loopback")
        print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'HTML B':>8} {'total B':>8}")
        for row in rows:
            name, median, p95, html, total = row
            print(f"{name:32} {median:10.1f} {p95:8.1f} {html:8d} {total:8d}")
        print("static assets: " + ", ".join(f"{k.split('?')[0]} {v} B"
                                            for k, v in sorted(cache.items())))
    finally:
        live.stop()


if __name__ == "__main__":
    main()
