"""Trust, second pass (SECURITY.md): links from PUBLIC_BASE_URL only, and the probes of the
independent review — each test here failed before its fix."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import AuditEvent
from tests.helpers import csrf_token, login, sql_statements

PUBLIC = "https://formazione.example.gov.it"


def _request_reset(client, email: str, host: str):
    base = f"http://{host}"
    token = csrf_token(client, f"{base}/password/recupero")
    return client.post(f"{base}/password/recupero", data={"email": email, "csrf_token": token})


def test_a_forged_host_never_reaches_a_reset_link_in_development(app, client, make_user, mailbox):
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    user = make_user("operator")
    response = _request_reset(client, user["email"], "attacker.example")
    assert response.status_code == 200
    body = mailbox.last_body(user["email"])
    links = re.findall(r"https?://\S+", body)
    assert links and all(link.startswith(f"{PUBLIC}/password/nuova/") for link in links), links
    assert "attacker.example" not in body


def test_production_refuses_a_forged_host_and_mails_links_on_the_public_address(
    production_app, make_user, mailbox
):
    user = make_user("operator")
    client = production_app.test_client()
    assert client.get("/password/recupero", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("http://attacker.example/").status_code == 400
    assert not mailbox.to(user["email"])

    response = _request_reset(client, user["email"], "localhost")
    assert response.status_code == 200
    assert mailbox.last_link(user["email"]).startswith("https://localhost/password/nuova/")


# --- 2. no account oracle: a reset request does the same thing for any address -------------


def test_a_reset_request_never_waits_for_a_mail_server(app, client, make_user, mailbox):
    """Known or unknown, the request does the same thing: one row in the outbox with the
    address as typed, no lookup, no SMTP. The worker resolves the row: a reset link to the
    account, or nothing (cancelled)."""
    from lgnetforma.models import MailStatus, OutboundMail
    from lgnetforma.services.people.password_reset import RESET_REQUEST

    user = make_user("operator")
    mailbox.clear()
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = 9  # nothing listens: a request that tried SMTP would wait or fail
    statements = {}
    for email in ("nessuno@example.it", user["email"]):
        token = csrf_token(client, "/password/recupero")
        counted = sql_statements(
            app,
            lambda email=email, token=token: client.post(
                "/password/recupero", data={"email": email, "csrf_token": token}
            ),
        )
        statements[email] = [s.split("(")[0].split(" WHERE")[0] for s in counted]
    assert statements["nessuno@example.it"] == statements[user["email"]]
    assert mailbox.received == []  # nothing left during the requests
    with app.app_context():
        rows = db.session.scalars(select(OutboundMail).order_by(OutboundMail.id)).all()
        assert [(r.recipient, r.kind) for r in rows] == [
            ("nessuno@example.it", RESET_REQUEST),
            (user["email"], RESET_REQUEST),
        ]
    app.config["SMTP_PORT"] = port
    assert "/password/nuova/" in mailbox.last_body(user["email"])  # the worker ran
    assert mailbox.to("nessuno@example.it") == []
    with app.app_context():
        rows = db.session.execute(select(OutboundMail.recipient, OutboundMail.status)).all()
        statuses = {recipient: status for recipient, status in rows}
        assert statuses == {
            "nessuno@example.it": MailStatus.CANCELLED,
            user["email"]: MailStatus.SENT,
        }


# --- 3. control characters: one rule, every entry point ---------------------------------

HIDDEN = ["Esc\x1b[31m", "a\u202eb", "a\u2066b", "zero\u200bwidth", "c1\x85c2", "riga\nnuova"]


@given(st.text(max_size=30))
def test_the_plain_text_rule_refuses_exactly_the_hidden_characters(value):
    from lgnetforma.services.platform.errors import ServiceError
    from lgnetforma.services.platform.text import is_control, plain_text

    hidden = any(is_control(ch) for ch in value.strip())
    try:
        assert plain_text(value, "name") == value.strip()
        assert not hidden
    except ServiceError as error:
        assert hidden and error.field == "name"


@pytest.mark.parametrize("name", HIDDEN)
def test_every_entry_point_refuses_hidden_characters_in_names(app, make_user, name):
    from lgnetforma.models import User
    from lgnetforma.services.people.tokens import create_token
    from lgnetforma.services.people.users import update_user
    from lgnetforma.services.platform.errors import ServiceError

    admin = make_user("admin")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "nuovo@example.it", "--name", name, "--role",
              "trainer", "--password", "una frase lunga e sicura per entrare"]
    )  # fmt: skip
    assert result.exit_code != 0 and "caratteri di controllo" in result.output, result.output
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email=admin["email"]))
        with pytest.raises(ServiceError, match="caratteri di controllo"):
            create_token(user, name)
        with pytest.raises(ServiceError, match="caratteri di controllo"):
            update_user(user, full_name=name, role="admin", active=True, scope_region=None,
                        scope_comune=None, acting_user=user)  # fmt: skip
        db.session.rollback()
        assert db.session.scalar(select(User).filter_by(email="nuovo@example.it")) is None


def test_users_create_validates_the_email_as_the_forms_do(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--email", "non-un-indirizzo", "--name", "Mario Rossi",
              "--role", "trainer", "--password", "una frase lunga e sicura per entrare"]
    )  # fmt: skip
    assert result.exit_code != 0
    assert "Inserisci un indirizzo email valido" in result.output


def test_bulk_enrolment_refuses_hidden_characters_with_the_line(app, make_user):
    from lgnetforma.models import User
    from lgnetforma.services.coordination.bulk_check import preview
    from lgnetforma.services.coordination.scope import Scope
    from lgnetforma.services.platform.cycles import current_cycle

    text = "nome;email;comune;corsi\nEsc\x1b[31m;esc@example.it;058091;x\n"
    with app.app_context():
        result = preview(text, scope=Scope("national"), cycle=current_cycle())
        assert [row.line for row in result.bad] == [2]
        assert "caratteri di controllo" in result.bad[0].reason
        assert db.session.scalar(select(User).filter_by(email="esc@example.it")) is None


# --- 5. malformed input is a 404, never a database error ---------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/verifica/%00",
        "/corsi/%00",
        "/corsi/x/media/%00.png",
        "/admin/utenti/99999999999999999999",
        "/attestati/9223372036854775808.pdf",
    ],
)
def test_nul_bytes_and_huge_ids_in_paths_are_404(client, login_as, path):
    login_as("admin")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/admin/utenti?page=99999999999999999999",
        "/admin/registro?page=99999999999999999999",
        "/coordinamento/copertura?page=99999999999999999999",
        "/admin/utenti?page=-5",
    ],
)
def test_page_numbers_beyond_any_range_are_clamped(client, login_as, path):
    login_as("admin")
    assert client.get(path).status_code == 200


# --- 6. a login that cannot be recorded issues no session ---------------------------------


def test_a_login_whose_write_fails_is_a_503_without_a_cookie(app, client, make_user):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    user = make_user("operator")
    token = csrf_token(client, "/accesso")
    with app.app_context():
        engine = db.engine

    def disk_full(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            raise OperationalError(statement, {}, Exception("disk full"))

    event.listen(engine, "before_cursor_execute", disk_full)
    try:
        response = client.post(
            "/accesso",
            data={"email": user["email"], "password": user["password"], "csrf_token": token,
                  "remember": "y"},
        )  # fmt: skip
    finally:
        event.remove(engine, "before_cursor_execute", disk_full)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    set_cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert "remember_token" not in set_cookies
    assert client.get("/profilo").status_code == 302  # not signed in

    login(client, user)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).filter_by(action="login")).all()
        assert len(events) == 1  # the successful one, and only it


# --- 8. personal pages are never cached ---------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("operator", "/profilo"),
        ("operator", "/i-miei-corsi"),
        ("admin", "/admin/utenti"),
        ("admin", "/admin/registro"),
        ("coordinator", "/coordinamento/registro?page=99999999999999999999"),
        ("coordinator", "/coordinamento/"),
        ("coordinator", "/coordinamento/iscrizioni-massive"),
    ],
)
def test_personal_pages_are_private_and_not_stored(client, login_as, role, path):
    login_as(role)
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == "private, no-store"


def test_public_assets_stay_cacheable(client):
    response = client.get("/static/css/app.css?v=1")
    assert "no-store" not in response.headers.get("Cache-Control", "")


# --- 9. search boxes match % and _ literally ---------------------------------------------


def test_a_percent_in_the_user_search_is_a_character(client, login_as, make_user):
    login_as("admin")
    make_user("trainer", name="Cento % Sicuro")
    make_user("trainer", name="Altro Nome")
    body = client.get("/admin/utenti?q=%25").get_data(as_text=True)
    assert "Cento % Sicuro" in body and "Altro Nome" not in body
    body = client.get("/admin/utenti?q=_").get_data(as_text=True)
    assert "Altro Nome" not in body


# --- 11. the registry holds clean names --------------------------------------------------


def test_the_shipped_registry_has_the_right_names_and_import_corrects_old_ones(app, runner):
    from lgnetforma.models import Comune

    with app.app_context():
        names = dict(db.session.execute(select(Comune.istat_code, Comune.name)).all())
        assert names["031019"] == "San Floriano del Collio-Števerjan"
        assert names["032001"] == "Duino Aurisina-Devin Nabrežina"
        db.session.get(Comune, db.session.scalar(
            select(Comune.id).filter_by(istat_code="031019"))).name = "San Floriano del Collio-\x8ateverjan"  # fmt: skip
        db.session.commit()
    assert runner.invoke(args=["comuni", "import"]).exit_code == 0
    with app.app_context():
        fixed = db.session.scalar(select(Comune.name).filter_by(istat_code="031019"))
        assert fixed == "San Floriano del Collio-Števerjan"


def test_a_registry_file_with_control_characters_is_refused_at_its_line(app, runner, tmp_path):
    from lgnetforma.services.coordination.registry import DEFAULT_COMUNI_FILE

    lines = DEFAULT_COMUNI_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ",Nome\x9e,", 1).replace(",Nome\x9e,", "\x9e,", 1)
    path = tmp_path / "comuni.csv"
    path.write_text("".join(lines), encoding="utf-8")
    result = runner.invoke(args=["comuni", "import", str(path)])
    assert result.exit_code == 1
    assert "riga 6:" in result.output and "caratteri di controllo" in result.output


# --- 12. liveness, readiness, logout -------------------------------------------------------


def test_readyz_answers_503_with_retry_after_when_the_database_is_down(app_config):
    from lgnetforma import create_app

    down = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:9/x"}
    )
    client = down.test_client()
    assert client.get("/healthz").status_code == 200  # liveness needs no database
    response = client.get("/readyz")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0


def test_readyz_answers_200_when_the_database_answers(client):
    assert client.get("/readyz").status_code == 200


def test_logout_deletes_the_remember_cookie(client, make_user):
    user = make_user("operator")
    login(client, user, remember=True)
    assert client.get_cookie("remember_token") is not None
    client.post("/esci", data={"csrf_token": csrf_token(client, "/profilo")})
    assert client.get_cookie("remember_token") is None
