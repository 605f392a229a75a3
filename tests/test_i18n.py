"""The English catalogue: complete, compilable, and used by the pages; Italian stays the default.

The catalogue checks look only at the entries the .po holds, so strings added to the code later
do not break them: `make translations-update` brings those in (see README, "Translations").
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from tests.helpers import csrf_token, login

TRANSLATIONS = Path(__file__).resolve().parent.parent / "lgnetforma" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# Strings that must never appear on an English page (markup unescaped first).
ITALIAN = ["Accedi", "Registrati", "Vai al contenuto principale", "Esci", "Profilo"]


def _catalog() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="en")


def _text(response) -> str:  # noqa: ANN001
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def _english(client) -> None:  # noqa: ANN001
    response = client.post(
        "/lingua", data={"lang": "en", "next": "/", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302


def _assert_english(page: str, *expected: str) -> None:
    assert '<html lang="en">' in page
    for text in ("Skip to main content", "Accessibility statement", *expected):
        assert text in page, f"missing English text: {text!r}"
    for text in ITALIAN:  # whole words: "Registration" contains "Registrati"
        assert not re.search(rf"\b{re.escape(text)}\b", page), f"Italian text: {text!r}"


# --- the catalogue ---------------------------------------------------------------------


def test_the_english_catalogue_is_complete_and_not_fuzzy():
    catalog = _catalog()
    assert not catalog.fuzzy, "the header of messages.po is marked fuzzy: remove the flag"
    assert catalog.num_plurals == 2
    messages = [m for m in catalog if m.id]
    assert len(messages) > 100
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not fuzzy, f"fuzzy entries to review in {PO.name}: {fuzzy}"
    untranslated = []
    for message in messages:
        forms = message.string if message.pluralizable else (message.string,)
        if message.pluralizable:
            assert len(forms) == catalog.num_plurals, message.id
        if not all(forms):
            untranslated.append(message.id)
    assert not untranslated, f"untranslated entries in {PO.name}: {untranslated}"


def test_the_english_catalogue_keeps_every_placeholder():
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _catalog().check() if errors]
    assert not problems


def test_the_english_catalogue_compiles(tmp_path):
    buffer = io.BytesIO()
    write_mo(buffer, _catalog())
    mo = tmp_path / "messages.mo"
    mo.write_bytes(buffer.getvalue())
    with mo.open("rb") as handle:
        translations = Translations(handle)
    assert translations.gettext("Accedi") == "Log in"
    assert translations.gettext("Vai al contenuto principale") == "Skip to main content"
    assert translations.ngettext("%(num)s errore", "%(num)s errori", 1) == "%(num)s error"
    assert translations.ngettext("%(num)s errore", "%(num)s errori", 2) == "%(num)s errors"


# --- the pages in English --------------------------------------------------------------


@pytest.fixture
def compiled() -> None:
    """The pages read the compiled catalogue that `make translations` writes next to the .po."""
    assert MO.exists(), f"{MO} is missing: run `make translations`"
    assert MO.stat().st_mtime >= PO.stat().st_mtime, (
        f"{MO} is older than the .po: run `make translations`"
    )


def test_public_pages_in_english(compiled, client):
    _english(client)
    _assert_english(
        _text(client.get("/")),
        "LGNetforma: training for municipal integration services",
        "Privacy notice",
        "Log in",
        "Register",
    )
    _assert_english(
        _text(client.get("/accesso")),
        "Log in to LGNetforma",
        "Forgotten your password?",
        "Remember me on this device",
    )
    _assert_english(
        _text(client.get("/registrazione")),
        "Register as a municipal operator",
        "Full name",
        "Municipality",
        "notice on the processing of personal data",
    )
    _assert_english(_text(client.get("/corsi")), "Course catalogue")


def test_profile_and_messages_in_english(compiled, client, make_user):
    user = make_user("operator", name="Giulia Rossi")
    _english(client)
    login(client, user)  # the chosen language survives the new session
    home = _text(client.get("/"))
    _assert_english(home, "Welcome, Giulia Rossi.", "Log out", "My courses")
    _assert_english(
        _text(client.get("/profilo")),
        "Your profile",
        "Change password",
        "Current password",
        "Operator",
        "Permanently delete my account",
    )


def test_form_errors_in_english(compiled, client):
    _english(client)
    page = _text(
        client.post(
            "/accesso", data={"email": "", "password": "", "csrf_token": csrf_token(client)}
        )
    )
    assert "The form contains errors" in page
    assert "This field is required." in page
    assert "Questo campo è obbligatorio." not in page


# --- Italian stays the default ---------------------------------------------------------


def test_italian_is_the_default(client):
    page = _text(client.get("/"))
    assert '<html lang="it">' in page
    for text in ("Vai al contenuto principale", "Accedi", "Registrati", "Informativa privacy"):
        assert text in page
    assert "Skip to main content" not in page
    login_page = _text(client.get("/accesso"))
    assert "Accedi a LGNetforma" in login_page
    assert "Log in to LGNetforma" not in login_page


def test_switching_back_to_italian(compiled, client):
    _english(client)
    assert '<html lang="en">' in _text(client.get("/"))
    client.post("/lingua", data={"lang": "it", "next": "/", "csrf_token": csrf_token(client)})
    page = _text(client.get("/registrazione"))
    assert '<html lang="it">' in page
    assert "Registrati come operatore comunale" in page
    assert "Register as a municipal operator" not in page


def test_percentages_take_the_italian_article(app):
    from lgnetforma.web.templating import share

    with app.test_request_context("/"):
        assert [share(n) for n in (70, 80, 8, 11, 1, 100, 18, 85)] == [
            "il 70%",
            "l'80%",
            "l'8%",
            "l'11%",
            "l'1%",
            "il 100%",
            "il 18%",
            "l'85%",
        ]


def test_the_coordination_home_has_no_space_before_the_full_stop(client, login_as):
    login_as("coordinator", region="12")
    html = client.get("/coordinamento/").get_data(as_text=True)
    assert "regione Lazio." in html and "Lazio ." not in html


def test_titles_say_error_and_page_number(client, login_as, make_user):
    """Issue 13: a form sent back with errors and each page of a long list have their own
    title."""
    from tests.helpers import csrf_token

    html = client.post(
        "/registrazione", data={"csrf_token": csrf_token(client, "/registrazione")}
    ).get_data(as_text=True)
    assert "<title>Errore: " in html
    assert "<title>Errore: " not in client.get("/registrazione").get_data(as_text=True)
    login_as("admin")
    for _ in range(60):
        make_user("operator")
    assert "Pagina 2 di 2 – LGNetforma</title>" in client.get("/admin/utenti?page=2").get_data(
        as_text=True
    )
    assert "Pagina 1 di 2 – LGNetforma</title>" in client.get("/admin/utenti").get_data(
        as_text=True
    )
