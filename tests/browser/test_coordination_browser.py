"""A coordinator's bulk enrolment and reminders in Chromium, audited with axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories.courses import import_courses, write_course

CSV = (
    "nome;email;comune;corsi\n"
    "Laura Bianchi;laura.bianchi@example.it;058091;corso-prova\n"
    "Mario Rossi;mario.rossi@example.it;015146;corso-prova\n"
    "Sara Verdi;sara.verdi@example.it;Latina;corso-prova\n"
)


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)


def test_upload_preview_confirm_then_remind(
    page, live_server, browser_login, make_user, course, axe, mailbox
):
    browser_login(make_user("coordinator", region="12"))
    page.goto(f"{live_server}/coordinamento/")
    page.get_by_role("link", name="Iscrizioni massive da file CSV").click()
    expect(page.get_by_role("heading", name="Iscrizioni massive", level=1)).to_be_visible()
    axe(page)

    # A file with a row outside Lazio.
    page.get_by_label("File CSV").set_input_files(
        {"name": "iscrizioni.csv", "mimeType": "text/csv", "buffer": CSV.encode("utf-8")}
    )
    page.get_by_role("button", name="Controlla il file").click()
    expect(page.get_by_role("heading", name="Anteprima dell'iscrizione massiva")).to_be_visible()
    bad_rows = page.locator("#bad-rows tbody tr")
    expect(bad_rows).to_have_count(1)
    expect(bad_rows.first.locator("td").nth(0)).to_have_text("3")
    expect(bad_rows.first.locator("td").nth(1)).to_have_text("mario.rossi@example.it")
    expect(bad_rows.first.locator("td").nth(2)).to_contain_text(
        "comune fuori dal tuo territorio: Milano"
    )
    page.get_by_text("Mostra le 2 righe valide").click()
    expect(page.locator("#good-rows")).to_contain_text("sara.verdi@example.it")
    axe(page)

    page.get_by_role("button", name="Conferma e iscrivi").click()
    expect(page.get_by_text("2 account creati e 2 iscrizioni create")).to_be_visible()
    assert mailbox.to("laura.bianchi@example.it") and mailbox.to("sara.verdi@example.it")
    assert not mailbox.to("mario.rossi@example.it")

    # The new operators have not started: with 0 days of inactivity they are reminded.
    page.goto(f"{live_server}/coordinamento/")
    page.get_by_role("link", name="Promemoria agli operatori").click()
    page.get_by_label("Giorni di inattività").fill("0")
    page.get_by_label("Oggetto").fill("I tuoi corsi ti aspettano")
    page.get_by_role("button", name="Aggiorna l'elenco e l'anteprima").click()
    expect(page.locator("#recipients")).to_contain_text("Laura Bianchi")
    expect(page.locator(".mail-preview")).to_contain_text("Gentile Laura Bianchi,")
    expect(page.locator(".mail-preview")).to_contain_text("I tuoi corsi ti aspettano")
    axe(page)
    mailbox.clear()
    page.get_by_role("button", name="Metti in coda 2 promemoria").click()
    expect(
        page.get_by_text("2 promemoria in coda: partiranno nei prossimi minuti.")
    ).to_be_visible()
    assert len(mailbox.messages) == 2
    assert str(mailbox.messages[0]["Subject"]) == "I tuoi corsi ti aspettano"
    expect(page.locator("#recipients")).to_contain_text("saltato: già avvisato il")
    axe(page)
