"""The managers' page in Spanish, in Chromium: the language chosen with the footer link (on an
English browser), then signing in, picking a location, opening a profile, resetting a password
and adding a phone, each page ``<html lang="es">`` and clean under axe (no violation of any
impact, besides the serious and critical ones ``Browse.check`` refuses at both widths).
"""

from __future__ import annotations

import re

import pytest

from .conftest import Browse
from .live import SAM, LiveSystem

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SKYLER = "a1000000-0000-4000-8000-000000000015"     # Tacoma
ALEX = "a1000000-0000-4000-8000-000000000002"       # Seattle, no phones


def _spanish_and_clean(browse: Browse) -> None:
    page = browse.page
    assert page.locator("html").get_attribute("lang") == "es", page.url
    browse.check()
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
                                     v.nodes.map(n => n.target.join(" ")).join(", "));
    }""")
    assert found == [], f"axe on {page.url}: {found}"


def test_the_main_flows_in_spanish(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"  # an English browser
    page.locator("footer").get_by_role("link", name="Español").click()
    assert page.url == live.url + "/"
    _spanish_and_clean(browse)
    assert page.get_by_role("link", name="Iniciar sesión").is_visible()

    page.get_by_role("link", name="Iniciar sesión").click()
    page.wait_for_url(re.compile(re.escape(live.fake_url)))
    page.fill("#username", SAM.upn)
    page.fill("#password", SAM.password)
    page.click("#signin")
    page.wait_for_url(re.compile(re.escape(live.url)))
    assert page.get_by_role("heading", level=1).inner_text() == "Seleccione una ubicación"
    _spanish_and_clean(browse)

    page.get_by_role("link", name=re.compile("Tacoma store")).click()
    assert page.url == live.url + "/locations/tacoma"
    _spanish_and_clean(browse)

    page.get_by_role("link", name=re.compile("Skyler Grant")).click()
    assert page.url == f"{live.url}/locations/tacoma/staff/{SKYLER}"
    _spanish_and_clean(browse)

    page.get_by_role("link", name="Restablecer contraseña").click()
    _spanish_and_clean(browse)
    page.get_by_role("button", name="Restablecer contraseña").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Contraseña restablecida"
    temporary = page.locator("#temp-password").inner_text().strip()
    assert live.user("skyler.grant@contoso.example")["password"] == temporary
    _spanish_and_clean(browse)

    browse.goto(f"/locations/seattle/staff/{ALEX}")
    page.get_by_role("link", name="Agregar número de teléfono").click()
    _spanish_and_clean(browse)
    page.get_by_label("Número de teléfono").fill("555-0100")
    page.get_by_role("button", name="Guardar").click()
    assert page.get_by_role("alert").is_visible()            # too short: said on the form
    _spanish_and_clean(browse)
    page.get_by_label("Tipo").select_option("mobile")
    page.get_by_label("Número de teléfono").fill("206 555 0142")
    page.get_by_role("button", name="Guardar").click()
    assert page.get_by_role("status").inner_text() == "Número de teléfono agregado."
    assert live.phones("alex.kim@contoso.example") == {"mobile": "+1 2065550142"}
    _spanish_and_clean(browse)
