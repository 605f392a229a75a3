"""The trainers' editor in Chromium: the whole journey, accessibility, no script from content."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.test_author import MISSING_CORRECT_LINE, QUIZ_FIXED, QUIZ_WITHOUT_CORRECT, XSS_MODULE

MISSING_CORRECT = f"Riga {MISSING_CORRECT_LINE}: la domanda non ha alcuna opzione corretta"


def _create_course_with_module(page, live_server, axe) -> str:  # noqa: ANN001
    """From the editor's list to a new module's page; returns the module's URL."""
    page.goto(f"{live_server}/editor/")
    expect(page.get_by_role("heading", name="Editor dei corsi")).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Nuovo corso").click()
    axe(page)
    page.get_by_label("Titolo").fill("Il lavoro di rete")
    page.get_by_label("Slug (nome nell'indirizzo)").fill("lavoro-di-rete")
    page.get_by_label("Ore certificate").fill("1,5")
    page.get_by_label("Area tematica").fill("Servizi per l'integrazione")
    page.get_by_role("button", name="Crea il corso").click()
    expect(page.get_by_text("Corso creato come bozza")).to_be_visible()
    expect(page.get_by_role("heading", name="Anteprima")).to_be_visible()
    axe(page)  # course edit page, with its preview

    page.get_by_label("Titolo").fill("Chi coordina la rete")
    page.get_by_label("Slug (nome nell'indirizzo)").fill("chi-coordina")
    page.get_by_role("button", name="Aggiungi il modulo").click()
    expect(page.get_by_text("Modulo aggiunto")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/editor/corsi/lavoro-di-rete/moduli/chi-coordina")
    return page.url


def test_trainer_writes_publishes_and_an_operator_reads(
    page, live_server, make_user, browser_login, axe, allowed_console_errors
):
    # XSS_MODULE's hostile images ("x", "x.png") point nowhere: their 404s are expected.
    allowed_console_errors.append("/editor/corsi/lavoro-di-rete/moduli/x")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(make_user("trainer"))
    _create_course_with_module(page, live_server, axe)

    source = page.get_by_label("Testo del modulo (Markdown)")
    preview = page.locator("#editor-preview")
    problems = page.locator("#editor-problems")
    expect(preview.get_by_role("heading", name="Chi coordina la rete")).to_be_visible()
    axe(page)  # module edit page with the preview shown

    # Live preview while typing: the error and its line appear without saving.
    source.fill(QUIZ_WITHOUT_CORRECT)
    expect(problems).to_contain_text(MISSING_CORRECT)
    expect(preview).to_contain_text("La rete LGNet è coordinata dal Ministero dell'Interno.")
    expect(page.locator("#editor-preview-status")).to_contain_text("1 errore")
    axe(page)  # with errors shown

    # The problem links to its line in the textarea.
    problems.get_by_role("link", name=MISSING_CORRECT).click()
    expect(source).to_be_focused()
    caret = source.evaluate("el => el.value.slice(0, el.selectionStart).split('\\n').length")
    assert caret == MISSING_CORRECT_LINE

    # Saving with errors keeps the text, shows the errors, creates no version.
    page.get_by_role("button", name="Salva").click()
    expect(page.get_by_text("conservato come bozza")).to_be_visible()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(MISSING_CORRECT)
    expect(source).to_have_value(re.compile(r"- \[ \] Cittalia"))
    axe(page)

    # Content never runs: script, handlers and javascript: links are inert in the preview.
    source.fill(XSS_MODULE)
    expect(page.locator("#editor-preview-status")).to_contain_text("errori")
    expect(preview.locator("img[alt=immagine]")).to_have_count(1)
    assert preview.locator("script, iframe, [onerror], [onclick], [onmouseover]").count() == 0
    assert preview.locator("a[href^='javascript']").count() == 0
    preview.locator("img[alt=immagine]").dispatch_event("error")
    assert dialogs == []

    # Fixed: the quiz shows in the preview, and saving creates version 2.
    source.fill(QUIZ_FIXED)
    expect(page.locator("#editor-preview-status")).to_contain_text("nessun problema")
    expect(problems).to_be_empty()
    expect(preview).to_contain_text("Il Ministero dell'Interno (corretta)")
    page.get_by_role("button", name="Salva").click()
    expect(page.get_by_text("Modulo salvato (versione 2)")).to_be_visible()
    axe(page)

    page.get_by_role("link", name="Il lavoro di rete").click()
    page.get_by_role("button", name="Pubblica il corso").click()
    expect(page.get_by_text("Corso pubblicato")).to_be_visible()
    expect(page.get_by_role("button", name="Ritira dalla pubblicazione")).to_be_visible()
    page.get_by_role("button", name="Esci").click()

    # An operator reads the published module, and is refused the editor.
    browser_login(make_user("operator"))
    page.goto(f"{live_server}/corsi/lavoro-di-rete/chi-coordina")
    expect(page.get_by_role("heading", name="Chi coordina la rete", level=1)).to_be_visible()
    expect(page.get_by_text("La rete LGNet è coordinata dal Ministero")).to_be_visible()
    response = page.goto(f"{live_server}/editor/corsi/lavoro-di-rete/moduli/chi-coordina")
    assert response.status == 403
    assert dialogs == []


def test_editor_works_without_javascript(browser, live_server, make_user):
    trainer = make_user("trainer")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server}/accesso")
        page.get_by_label("Email").fill(trainer["email"])
        page.get_by_label("Password").fill(trainer["password"])
        page.get_by_role("button", name="Accedi").last.click()
        page.wait_for_url(f"{live_server}/")
        page.goto(f"{live_server}/editor/nuovo-corso")
        page.get_by_label("Titolo").fill("Corso senza script")
        page.get_by_label("Slug (nome nell'indirizzo)").fill("senza-script")
        page.get_by_label("Ore certificate").fill("2")
        page.get_by_role("button", name="Crea il corso").click()
        page.get_by_label("Titolo").fill("Primo modulo")
        page.get_by_label("Slug (nome nell'indirizzo)").fill("primo")
        page.get_by_role("button", name="Aggiungi il modulo").click()

        source = page.get_by_label("Testo del modulo (Markdown)")
        source.fill(QUIZ_WITHOUT_CORRECT)
        page.get_by_role("button", name="Anteprima").click()  # a full round trip
        expect(page.locator("#editor-problems")).to_contain_text(MISSING_CORRECT)
        expect(page.locator("#editor-preview")).to_contain_text("coordinata dal Ministero")
        expect(source).to_have_value(QUIZ_WITHOUT_CORRECT)
        source.fill(QUIZ_FIXED)
        page.get_by_role("button", name="Salva").click()
        expect(page.get_by_text("Modulo salvato (versione 2)")).to_be_visible()
        expect(page.locator("#editor-preview")).to_contain_text("(corretta)")
    finally:
        context.close()
