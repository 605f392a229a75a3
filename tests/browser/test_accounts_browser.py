"""Accounts in Chromium: the registration journey, refusals, and accessibility audits."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect


def _fill_registration(page, live_server, *, email, password, comune) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/registrazione")
    page.get_by_label("Nome e cognome").fill("Lucia Ferri")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Comune").fill(comune)
    page.get_by_role("button", name="Registrati").last.click()


def test_register_confirm_login_journey(page, live_server, mailbox, axe):
    page.goto(live_server)
    expect(page.locator("html")).to_have_attribute("lang", "it")
    axe(page)
    page.get_by_role("link", name="Registrati").first.click()
    axe(page)
    _fill_registration(
        page,
        live_server,
        email="lucia.ferri@comune.roma.it",
        password="una frase lunga per il corso",
        comune="Roma (RM) – 058091",
    )
    expect(page.get_by_role("heading", name="Controlla la posta")).to_be_visible()
    expect(page.get_by_text("è in coda per lucia.ferri@comune.roma.it")).to_be_visible()
    axe(page)

    link = mailbox.last_link("lucia.ferri@comune.roma.it")
    page.goto(link)
    expect(page.get_by_text("Indirizzo email confermato")).to_be_visible()
    axe(page)
    page.get_by_label("Email").fill("lucia.ferri@comune.roma.it")
    page.get_by_label("Password").fill("una frase lunga per il corso")
    page.get_by_role("button", name="Accedi").last.click()
    expect(page).to_have_url(f"{live_server}/")
    header = page.locator(".it-header-slim-wrapper")  # wide screen: the account is up here
    expect(header.get_by_text("Lucia Ferri")).to_be_visible()
    expect(header.get_by_text("Operatore")).to_be_visible()
    expect(header.get_by_role("button", name="Esci")).to_be_visible()
    expect(page.get_by_text("Comune: Roma.")).to_be_visible()
    axe(page)


def test_registration_refusals_are_explained(page, live_server, make_user, mailbox, axe):
    _fill_registration(
        page,
        live_server,
        email="lucia.ferri@example.it",
        password="una frase lunga per il corso",
        comune="Tremezzina",
    )
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Tremezzina ha 4.993 abitanti")
    expect(summary).to_contain_text("più di 5.000 abitanti")
    axe(page)  # the page with errors must be accessible too

    make_user("operator", email="gia.registrata@example.it")
    _fill_registration(
        page,
        live_server,
        email="GIA.Registrata@Example.it",
        password="una frase lunga per il corso",
        comune="058091",
    )
    # The same page as a new registration: the owner is told by mail, not the visitor.
    expect(page.get_by_role("heading", name="Controlla la posta")).to_be_visible()

    _fill_registration(
        page, live_server, email="nuova@example.it", password="corta", comune="058091"
    )
    expect(page.locator("#password-error")).to_contain_text("almeno 12 caratteri")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert [str(m["To"]) for m in mailbox.messages] == ["gia.registrata@example.it"]


def test_static_assets_are_local(page, live_server):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server)
    page.wait_for_load_state("networkidle")
    assert requests and all(
        url.startswith(live_server) or url.startswith("data:") for url in requests
    )
    css = [u for u in requests if urlsplit(u).path.endswith("bootstrap-italia.min.css")]
    assert css, requests
    font_family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Titillium Web" in font_family


def test_public_pages_are_accessible(page, live_server, axe):
    for path in ("/accesso", "/password/recupero", "/privacy", "/accessibilita"):
        page.goto(f"{live_server}{path}")
        expect(page.locator("h1")).to_be_visible()
        axe(page)


def test_password_reset_journey(page, live_server, make_user, mailbox, axe):
    user = make_user("operator", email="dimentica@example.it")
    page.goto(f"{live_server}/accesso")
    page.get_by_role("link", name="Hai dimenticato la password?").click()
    page.get_by_label("Email").fill(user["email"])
    page.get_by_role("button", name="Invia il link").click()
    expect(page.get_by_role("heading", name="Controlla la posta")).to_be_visible()
    page.goto(mailbox.last_link(user["email"]))
    axe(page)
    page.get_by_label("Nuova password").fill("ricomincio con una frase nuova")
    page.get_by_role("button", name="Salva la password").click()
    expect(page.get_by_text("Password aggiornata")).to_be_visible()


def test_admin_user_pages(page, live_server, make_user, browser_login, mailbox, axe):
    admin = make_user("admin")
    browser_login(admin)
    page.goto(f"{live_server}/admin/utenti")
    axe(page)
    page.get_by_role("link", name="Nuovo formatore o coordinatore").click()
    axe(page)
    page.get_by_label("Nome e cognome").fill("Carla Lazio")
    page.get_by_label("Email").fill("carla.lazio@example.it")
    page.get_by_label("Ruolo (obbligatorio)").select_option("coordinator")
    page.get_by_label("Ambito: regione").select_option(label="Lazio")
    page.get_by_role("button", name="Crea account").click()
    expect(page.get_by_text("Account creato per Carla Lazio")).to_be_visible()
    assert mailbox.to("carla.lazio@example.it")
    page.get_by_role("link", name="Carla Lazio").click()
    expect(page.get_by_label("Ambito: regione")).to_have_value("12")
    axe(page)
    page.get_by_label("Ambito: comune (codice ISTAT o nome)").fill("058091")
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#error-summary")).to_contain_text("una regione oppure un comune")
    axe(page)


def test_english_is_available(page, live_server, axe):
    page.goto(live_server)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Italiano")).to_be_visible()
    assert re.search(r"LGNetforma", page.title())
    axe(page)


def test_outbox_page_for_admins(page, live_server, make_user, browser_login, mailbox, axe, app):
    """The outbox lists what the worker has to send, sent, or gave up on; an admin
    cancels a queued message and resends a failed one, from an accessible page."""
    from lgnetforma.extensions import db
    from lgnetforma.services.platform.mail import queue_mail

    with app.app_context():
        queue_mail("in.coda@example.it", "Da inviare", "Testo", kind="reminder")
        failed = queue_mail("fallito@example.it", "Non arrivato", "Testo", kind="reset")
        failed.status, failed.attempts = "failed", 20
        failed.last_error = "SMTPRecipientsRefused: 550 5.1.1 no such user"
        db.session.commit()
    browser_login(make_user("admin"))
    page.get_by_role("link", name="Posta").first.click()
    expect(page.get_by_role("heading", name="Posta in uscita")).to_be_visible()
    table = page.locator("#outbox")
    expect(table).to_contain_text("550 5.1.1 no such user")
    expect(table).to_contain_text("In coda")
    axe(page)

    page.get_by_label("Stato").select_option(label="Non consegnato")
    page.get_by_role("button", name="Filtra").click()
    expect(table).not_to_contain_text("in.coda@example.it")
    page.get_by_role("button", name="Invia di nuovo il messaggio 2 a fallito@example.it").click()
    expect(page.get_by_text("Una nuova copia del messaggio per fallito@example.it")).to_be_visible()
    axe(page)

    page.goto(f"{live_server}/admin/posta?status=queued")
    page.get_by_role("button", name="Annulla il messaggio 1 a in.coda@example.it").click()
    expect(page.get_by_text("Messaggio per in.coda@example.it annullato.")).to_be_visible()
    assert [str(m["To"]) for m in mailbox.messages] == ["fallito@example.it"]

    page.get_by_role("link", name="Attività").first.click()
    expect(page.get_by_role("heading", name="Attività pianificate")).to_be_visible()
    axe(page)

    # An account waiting for confirmation: the admin queues a new link, then confirms it.
    pending = make_user("operator", email="in.attesa@example.it")
    with app.app_context():
        from lgnetforma.models import User

        db.session.get(User, pending["id"]).is_confirmed = False
        db.session.commit()
    page.goto(f"{live_server}/admin/utenti/{pending['id']}")
    axe(page)
    page.get_by_role("button", name="Invia di nuovo la conferma").click()
    expect(
        page.get_by_text("Nuovo link di conferma in coda per in.attesa@example.it")
    ).to_be_visible()
    page.get_by_role("button", name="Conferma l'indirizzo").click()
    expect(page.get_by_text("confermato: ora può accedere")).to_be_visible()
    expect(page.get_by_role("button", name="Conferma l'indirizzo")).to_have_count(0)
    axe(page)
