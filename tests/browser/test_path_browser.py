"""The learner's path on a phone (issue 13): home → "Continua" → module → quiz → result →
next module → certificate, led by the pages at every step."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories.courses import QUIZ_MD, READING_MD, import_courses, write_course

CONCLUSION_MD = """---
title: Conclusione e saluti
duration: 30
---

# Conclusione e saluti

L'ultimo modulo: riassume il corso.
"""
COURSE_TITLE = "Corso di prova sull'accoglienza"


def _three_modules(app, tmp_path) -> None:  # noqa: ANN001
    """The test course with a reading module after the quiz (60 + 150 + 30 minutes)."""
    folder = write_course(tmp_path / "courses")
    (folder / "01-lettura.md").write_text(
        READING_MD.replace("duration: 90", "duration: 60"), encoding="utf-8"
    )
    (folder / "02-questionario.md").write_text(QUIZ_MD.format(attempts=3), encoding="utf-8")
    (folder / "03-conclusione.md").write_text(CONCLUSION_MD, encoding="utf-8")
    import_courses(app, folder.parent)


def test_home_continue_module_quiz_result_next_module_certificate(
    page, live_server, app, tmp_path, make_user, browser_login, axe
):
    _three_modules(app, tmp_path)
    browser_login(make_user("operator", name="Sara Galli"))
    page.set_viewport_size({"width": 390, "height": 844})

    # Nothing chosen yet: the home page leads to the catalogue, the course page to enrolment.
    expect(page.get_by_text("Non hai ancora scelto un corso.")).to_be_visible()
    page.get_by_role("link", name="Scegli dal catalogo").click()
    page.get_by_role("link", name=COURSE_TITLE).click()
    page.get_by_role("button", name="Iscriviti al corso").click()
    expect(page.get_by_text("Iscrizione confermata")).to_be_visible()
    expect(page.get_by_text("Da iniziare")).to_have_count(3)
    page.get_by_role("link", name="Inizia", exact=True).click()
    expect(page.get_by_role("heading", name="Lettura introduttiva", level=1)).to_be_visible()
    # Printed for offline reading: the text stays, the header, menu and buttons go.
    page.emulate_media(media="print")
    expect(page.locator("article.module-body")).to_be_visible()
    for chrome in ("header", "footer", ".breadcrumb-container", ".module-nav"):
        expect(page.locator(chrome).first).to_be_hidden()
    page.emulate_media(media="screen")

    # Home: progress and "Continua" to the next module to do.
    page.goto(f"{live_server}/")
    card = page.locator(".course-progress")
    expect(card.get_by_text("1 modulo completato su 3")).to_be_visible()
    expect(card.get_by_text("Prossimo modulo: Il modulo con il questionario")).to_be_visible()
    axe(page)
    card.get_by_role("link", name=f"Continua – {COURSE_TITLE}").click()
    expect(page).to_have_url(f"{live_server}/corsi/corso-prova/questionario")
    expect(page.get_by_text("Ti restano 3 tentativi.")).to_be_visible()

    # The quiz, sent empty: every missing answer is named and leads to its question.
    page.get_by_role("link", name="Compila il questionario").click()
    expect(page.get_by_text("Tentativi a disposizione, compreso questo: 3.")).to_be_visible()
    page.get_by_role("button", name="Invia le risposte").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_text("Mancano le risposte a 3 domande:")).to_be_visible()
    expect(page).to_have_title("Errore: Questionario – Il modulo con il questionario – LGNetforma")
    axe(page)
    summary.get_by_role("link", name="Domanda 3: manca la risposta").click()
    expect(page).to_have_url(f"{live_server}/tentativi/" + page.url.split("/tentativi/")[1])
    question = page.get_by_role("group", name="Domanda 3")
    expect(question.get_by_role("textbox")).to_have_attribute("aria-invalid", "true")
    expect(question.get_by_role("textbox")).to_have_accessible_description(
        "Manca la risposta a questa domanda. "
        "Una risposta breve, scritta nel campo: maiuscole e accenti non contano."
    )
    page.get_by_role("group", name="Domanda 1").locator("label", has_text="Il Ministero").click()
    for label in ("Pronta assistenza", "Supporto abitativo"):
        page.get_by_role("group", name="Domanda 2").locator("label", has_text=label).click()
    question.get_by_role("textbox").fill("duemilaventicinque")
    page.get_by_role("button", name="Invia le risposte").click()

    # The result leads to the next module; reading it completes the course.
    expect(page.get_by_text("Superato", exact=True)).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Vai al prossimo modulo: Conclusione e saluti").click()
    expect(page.get_by_role("heading", name="Conclusione e saluti", level=1)).to_be_visible()

    # Home again: the course is complete and the certificate is one tap away.
    page.goto(f"{live_server}/")
    card = page.locator(".course-progress")
    expect(card.get_by_text("3 moduli completati su 3")).to_be_visible()
    with page.expect_download() as download:
        card.get_by_role("link", name=f"attestato PDF – {COURSE_TITLE}").click()
    assert download.value.suggested_filename.endswith(".pdf")
    page.goto(f"{live_server}/corsi")
    expect(page.locator("article", has_text=COURSE_TITLE).get_by_text("Completato")).to_be_visible()
