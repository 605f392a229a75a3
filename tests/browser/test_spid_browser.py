"""SPID in Chromium: a person logs in through the test IdP (pysaml2) without ever choosing a
password, completes the profile, enrols, passes and gets a certificate in the asserted name."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_learning_browser import _answer, _qr_url, course  # noqa: F401
from tests.test_spid import spid_app, spid_keys  # noqa: F401  (fixtures)


@pytest.mark.usefixtures("spid_app", "course")
def test_spid_login_completion_and_certificate(page, live_server, app, axe, tmp_path):
    from lgnetforma.dev import test_idp

    with app.app_context():
        test_idp.install_metadata()  # at the live server's address
    page.goto(f"{live_server}/accesso")
    axe(page)
    page.get_by_text("Entra con SPID").click()
    page.get_by_role("link", name="IdP di prova (solo sviluppo)").click()
    expect(page.get_by_text("La richiesta firmata del servizio è valida")).to_be_visible()
    page.locator("#name").fill("Giulia")
    page.locator("#familyName").fill("Esposito")
    page.get_by_role("button", name="Autentica").click()
    page.get_by_role("button", name="Torna al servizio").click()

    expect(page.get_by_role("heading", name="Completa il tuo profilo")).to_be_visible()
    expect(page.get_by_text("Giulia Esposito")).to_be_visible()
    axe(page)
    page.get_by_label("Comune").fill("Napoli (NA) – 063049")
    page.get_by_text("Ho letto l'informativa").click()
    page.get_by_role("button", name="Conferma e entra").click()
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_text("Benvenuto, Giulia Esposito.")).to_be_visible()

    page.get_by_role("link", name="Catalogo corsi").click()
    page.get_by_role("link", name="Corso di prova sull'accoglienza").click()
    page.get_by_role("button", name="Iscriviti al corso").click()
    page.get_by_role("link", name="Lettura introduttiva").click()
    page.get_by_role("link", name="Modulo successivo: Il modulo con il questionario").click()
    page.get_by_role("link", name="Compila il questionario").click()
    _answer(
        page,
        q1="Il Ministero dell'Interno",
        q2=["Pronta assistenza", "Supporto abitativo"],
        q3="duemilaventicinque",
    )
    expect(page.get_by_text("Hai completato il corso")).to_be_visible()
    page.get_by_role("link", name="I miei corsi").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="attestato PDF").click()
    pdf_path = tmp_path / "attestato.pdf"
    download_info.value.save_as(pdf_path)
    page.goto(_qr_url(pdf_path))
    expect(page.locator("main").get_by_text("Giulia Esposito")).to_be_visible()
