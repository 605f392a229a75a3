"""Accounts through HTTP: registration, confirmation, login, logout, password reset."""

from __future__ import annotations

from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import User
from tests.helpers import CSRF_RE, PASSWORD, csrf_token, login


def _register(client, **overrides) -> str:
    data = {
        "full_name": "Maria Esposito",
        "email": "maria.esposito@comune.roma.it",
        "password": "la mia frase segreta per la formazione",
        "comune": "Roma (RM) – 058091",
        "csrf_token": csrf_token(client, "/registrazione"),
    }
    data.update(overrides)
    return client.post("/registrazione", data=data).get_data(as_text=True)


def _user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).filter_by(email=email))


def test_registration_sends_a_confirmation_that_enables_login(app, client, mailbox):
    html = _register(client)
    # Nothing has been sent yet: the page says the message is queued, never "sent".
    assert "Controlla la posta" in html and "è in coda" in html and "inviato" not in html
    user = _user(app, "maria.esposito@comune.roma.it")
    assert user is not None and not user.is_confirmed and user.role == "operator"
    assert user.password_hash.startswith("scrypt:")

    # Before confirming, login is refused, pointing to a new link.
    response = client.post(
        "/accesso",
        data={
            "email": "maria.esposito@comune.roma.it",
            "password": "la mia frase segreta per la formazione",
            "csrf_token": csrf_token(client),
        },
    )
    assert "Devi ancora confermare" in response.get_data(as_text=True)

    link = mailbox.last_link("maria.esposito@comune.roma.it")
    assert "/conferma/" in link
    response = client.get(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert response.status_code == 302
    assert _user(app, "maria.esposito@comune.roma.it").is_confirmed

    response = client.post(
        "/accesso",
        data={
            "email": "MARIA.Esposito@comune.roma.it ",
            "password": "la mia frase segreta per la formazione",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Maria Esposito" in html and "Operatore" in html and "Esci" in html


def test_registration_accepts_the_istat_code_alone(app, client, mailbox):
    _register(client, comune="058091")
    user = _user(app, "maria.esposito@comune.roma.it")
    with app.app_context():
        assert db.session.get(User, user.id).comune.name == "Roma"


def test_ineligible_comune_is_refused_with_population_and_threshold(app, client, mailbox):
    html = _register(client, comune="Tremezzina")
    assert "Tremezzina ha 4.993 abitanti" in html
    assert "più di 5.000 abitanti" in html
    assert _user(app, "maria.esposito@comune.roma.it") is None
    assert mailbox.messages == []


def test_ambiguous_and_unknown_comuni_are_explained(client):
    assert "indica anche la provincia" in _register(client, comune="Castro")
    assert "Nessun comune trovato per «Atlantide»" in _register(client, comune="Atlantide")


def _page_text(html: str, email: str) -> str:
    """The page without what legitimately differs: the CSRF token and the typed email."""
    return CSRF_RE.sub("", html).replace(email, "X")


def test_registration_with_a_used_email_looks_the_same_and_mails_the_owner(
    app, client, make_user, mailbox
):
    """No account oracle (issue 11, item 2): the same page as a new registration; the
    owner, not the visitor, learns about it, and nothing of their account changes."""
    owner = make_user("operator", email="giulia@example.it", name="Giulia Neri")
    taken = _register(client, email="GIULIA@Example.IT")
    new = app.test_client()
    fresh = _register(new, email="NUOVA@Example.IT")
    assert _page_text(taken, "giulia@example.it") == _page_text(fresh, "nuova@example.it")
    assert "Esiste già" not in taken

    body = mailbox.last_body("giulia@example.it")
    assert "qualcuno ha provato a registrarsi" in body
    assert "/accesso" in body and "/password/recupero" in body
    assert "/conferma/" not in body
    with app.app_context():
        user = db.session.get(User, owner["id"])
        assert user.full_name == "Giulia Neri" and user.is_confirmed
        assert db.session.scalar(select(db.func.count()).select_from(User)) == 2
    login(client, owner)  # the owner's password still works


def test_a_pending_operator_gets_a_new_confirmation_link_from_the_login_page(app, client, mailbox):
    _register(client)
    mailbox.clear()
    assert "/conferma/nuovo-link" in client.get("/accesso").get_data(as_text=True)
    answers = []
    for email in ("maria.esposito@comune.roma.it", "nessuno@example.it"):
        html = client.post(
            "/conferma/nuovo-link",
            data={"email": email, "csrf_token": csrf_token(client, "/conferma/nuovo-link")},
        ).get_data(as_text=True)
        answers.append(_page_text(html, email))
    assert answers[0] == answers[1] and "è in coda" in answers[0]
    assert [str(m["To"]) for m in mailbox.messages] == ["maria.esposito@comune.roma.it"]
    link = mailbox.last_link("maria.esposito@comune.roma.it")
    assert client.get("/" + link.split("/", 3)[3]).status_code == 302
    assert _user(app, "maria.esposito@comune.roma.it").is_confirmed


def test_weak_passwords_are_refused_naming_the_rule(client):
    assert "almeno 12 caratteri" in _register(client, password="corta")
    assert "più comuni" in _register(client, password="password1234")
    html = _register(client, password="maria.esposito@comune.roma.it!!")
    assert "non deve contenere il tuo indirizzo email" in html


def test_long_unicode_passwords_with_spaces_are_accepted(app, client, mailbox):
    password = "Città di mare ☀️ e montagne 山 " * 2  # 62 characters
    _register(client, password=password)
    assert _user(app, "maria.esposito@comune.roma.it") is not None


def test_form_errors_are_listed_in_a_summary_tied_to_the_fields(client):
    html = _register(client, full_name="", email="non-una-mail")
    assert 'id="error-summary"' in html
    assert 'href="#full_name"' in html and 'href="#email"' in html
    assert 'aria-describedby="email-help email-error"' in html
    assert 'aria-invalid="true"' in html


def test_login_failure_does_not_reveal_whether_the_email_exists(client, make_user):
    user = make_user("operator")
    token = csrf_token(client)
    wrong = client.post(
        "/accesso", data={"email": user["email"], "password": "sbagliata!!", "csrf_token": token}
    ).get_data(as_text=True)
    unknown = client.post(
        "/accesso",
        data={"email": "nessuno@example.it", "password": "sbagliata!!", "csrf_token": token},
    ).get_data(as_text=True)
    assert "Email o password non corretti" in wrong
    # CSRF tokens carry a timestamp: the two pages may straddle a second.
    assert CSRF_RE.sub("", wrong.replace(user["email"], "X")) == CSRF_RE.sub(
        "", unknown.replace("nessuno@example.it", "X")
    )


def test_logout_ends_the_session_and_old_cookies_stop_working(app, client, make_user):
    user = make_user("admin")
    login(client, user, remember=True)
    assert client.get("/admin/utenti").status_code == 200
    saved = {c.key: c.value for c in client._cookies.values()}  # noqa: SLF001
    client.post("/esci", data={"csrf_token": csrf_token(client)})
    assert client.get("/admin/utenti").status_code == 302

    replay = app.test_client()
    for key, value in saved.items():
        replay.set_cookie(key, value)
    assert replay.get("/admin/utenti").status_code == 302


def test_password_reset_by_mail(app, client, make_user, mailbox):
    user = make_user("operator")
    response = client.post(
        "/password/recupero", data={"email": user["email"], "csrf_token": csrf_token(client)}
    )
    assert "Controlla la posta" in response.get_data(as_text=True)
    path = "/" + mailbox.last_link(user["email"]).split("/", 3)[3]
    new_password = "una nuova frase per entrare"
    response = client.post(path, data={"password": new_password, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    # The link works once only, and the old password no longer does.
    assert client.get(path).status_code == 302
    assert "non corretti" in client.post(
        "/accesso",
        data={"email": user["email"], "password": PASSWORD, "csrf_token": csrf_token(client)},
    ).get_data(as_text=True)
    login(client, {**user, "password": new_password})


def test_password_reset_answers_the_same_for_unknown_addresses(client, mailbox):
    response = client.post(
        "/password/recupero",
        data={"email": "nessuno@example.it", "csrf_token": csrf_token(client)},
    )
    assert "Controlla la posta" in response.get_data(as_text=True)
    assert mailbox.messages == []


def test_a_tampered_confirmation_link_is_refused(client):
    response = client.get("/conferma/abc.def.ghi", follow_redirects=True)
    assert "non è valido" in response.get_data(as_text=True)


def test_open_redirects_after_login_are_ignored(client, make_user):
    user = make_user("operator")
    response = client.post(
        "/accesso?next=https://evil.example/",
        data={"email": user["email"], "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/"


def test_no_request_talks_to_smtp_and_the_worker_retries(app_config, mailbox):
    """Registration with the mail server down: the request only queues; the worker's
    first try fails and is scheduled again with a back-off; once the server answers, the
    next run delivers it."""
    from lgnetforma import create_app
    from lgnetforma.models import OutboundMail
    from tests.helpers import run_worker_once

    app = create_app({**app_config, "SMTP_PORT": 1, "MAIL_RETRY_BASE_SECONDS": 0})
    client = app.test_client()
    html = _register(client)
    assert "è in coda" in html
    with app.app_context():
        mail = db.session.scalar(select(OutboundMail))
        assert (mail.status, mail.attempts, mail.kind) == ("queued", 0, "confirm")
    assert run_worker_once(app).retried == 1
    with app.app_context():
        mail = db.session.scalar(select(OutboundMail))
        assert mail.status == "queued" and mail.attempts == 1
        assert "ConnectionRefusedError" in mail.last_error and mail.next_attempt_at
    app.config["SMTP_PORT"] = app_config["SMTP_PORT"]
    assert run_worker_once(app).sent == 1
    assert mailbox.received and mailbox.to("maria.esposito@comune.roma.it")
