"""The operator's whole journey in Chromium, from registration to a verified certificate."""

from __future__ import annotations

import pypdfium2
import pytest
import zxingcpp
from playwright.sync_api import expect

from tests.factories.courses import import_courses, write_course


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)


def _qr_url(pdf_path) -> str:  # noqa: ANN001
    """Render the PDF's page and read its QR code, as a phone would."""
    page = pypdfium2.PdfDocument(str(pdf_path))[0]
    image = page.render(scale=4).to_pil()
    codes = zxingcpp.read_barcodes(image)
    assert codes, "no QR code found in the certificate"
    return codes[0].text


def _answer(page, *, q1: str, q2: list[str], q3: str) -> None:  # noqa: ANN001
    # Bootstrap Italia draws the box on the label: people click the label.
    page.get_by_role("group", name="Domanda 1").locator("label", has_text=q1).click()
    for label in q2:
        page.get_by_role("group", name="Domanda 2").locator("label", has_text=label).click()
    page.get_by_role("group", name="Domanda 3").get_by_role("textbox").fill(q3)
    page.get_by_role("button", name="Invia le risposte").click()


def test_register_enrol_learn_fail_retry_pass_certificate(
    page, live_server, mailbox, course, axe, tmp_path
):
    # Register and confirm.
    page.goto(f"{live_server}/registrazione")
    page.get_by_label("Nome e cognome").fill("Paolo Conti")
    page.get_by_label("Email").fill("paolo.conti@comune.napoli.it")
    page.get_by_label("Password").fill("leggo tutti i moduli con calma")
    page.get_by_label("Comune").fill("Napoli (NA) – 063049")
    page.get_by_role("button", name="Registrati").last.click()
    page.goto(mailbox.last_link("paolo.conti@comune.napoli.it"))
    page.get_by_label("Email").fill("paolo.conti@comune.napoli.it")
    page.get_by_label("Password").fill("leggo tutti i moduli con calma")
    page.get_by_role("button", name="Accedi").last.click()
    expect(page).to_have_url(f"{live_server}/")

    # Enrol from the catalogue.
    page.get_by_role("link", name="Catalogo corsi").click()
    page.get_by_role("link", name="Corso di prova sull'accoglienza").click()
    page.get_by_role("button", name="Iscriviti al corso").click()
    expect(page.get_by_text("Iscrizione confermata")).to_be_visible()

    # Read both modules.
    page.get_by_role("link", name="Lettura introduttiva").click()
    expect(page.get_by_text("Un modulo senza questionario")).to_be_visible()
    page.get_by_role("link", name="Modulo successivo: Il modulo con il questionario").click()
    expect(page.get_by_role("heading", name="Primo paragrafo")).to_be_visible()

    # Fail the quiz.
    page.get_by_role("link", name="Compila il questionario").click()
    axe(page)
    _answer(page, q1="ANCI", q2=["Pronta assistenza"], q3="2030")
    expect(page.get_by_text("Non superato")).to_be_visible()
    axe(page)

    # Retry and pass.
    page.get_by_role("link", name="Riprova").click()
    _answer(
        page,
        q1="Il Ministero dell'Interno",
        q2=["Pronta assistenza", "Supporto abitativo"],
        q3="duemilaventicinque",
    )
    expect(page.get_by_text("Superato", exact=True)).to_be_visible()
    expect(page.get_by_text("Hai completato il corso")).to_be_visible()

    # My courses shows the completion.
    page.get_by_role("link", name="I miei corsi").click()
    expect(page.get_by_text("2 moduli completati su 2")).to_be_visible()
    axe(page)

    # Download the certificate and follow its QR code.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="attestato PDF").click()
    pdf_path = tmp_path / "attestato.pdf"
    download_info.value.save_as(pdf_path)
    url = _qr_url(pdf_path)
    assert url.startswith(f"{live_server}/verifica/LGN-")
    page.goto(url)
    expect(page.get_by_text("è autentico")).to_be_visible()
    expect(page.locator("main").get_by_text("Paolo Conti")).to_be_visible()
    expect(page.locator("main").get_by_text("Corso di prova sull'accoglienza")).to_be_visible()
    axe(page)

    page.goto(f"{live_server}/verifica/LGN-XXXX-YYYY-ZZZZ")
    expect(page.get_by_role("heading", name="Attestato non trovato")).to_be_visible()
