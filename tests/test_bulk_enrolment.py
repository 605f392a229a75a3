"""Bulk enrolment: a CSV checked in a preview, then applied in one transaction."""

from __future__ import annotations

import html
import io
import re
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from lgnetforma.extensions import db
from lgnetforma.models import BulkUpload, Enrolment, OutboundMail, Role, User
from lgnetforma.services.coordination import bulk_apply, bulk_check
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform import mail
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token, run_worker_once

UPLOAD = "/coordinamento/iscrizioni-massive"
CONFIRM = "/coordinamento/iscrizioni-massive/conferma"
# Eligible comuni of Lazio (region 12), written the ways people write them.
LAZIO = ["058091", "Latina", "56059", "Rieti", "Frosinone (FR)", "Fiumicino (RM) – 058120"]
HEADER = "nome;email;comune;corsi"
NOT_YOURS = "l'email appartiene a un account che questo caricamento non può modificare"


@pytest.fixture
def courses(app, tmp_path):
    root = tmp_path / "courses"
    write_course(root, "corso-prova")
    write_course(root, "corso-due")
    write_course(root, "corso-bozza", status="draft")
    import_courses(app, root)


def _count(app, model, **filters) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in filters.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def _totals(app) -> tuple[int, int, int, int]:
    return (
        _count(app, User),
        _count(app, Enrolment),
        _count(app, BulkUpload),
        _count(app, OutboundMail),
    )


def _upload(client, content: str | bytes, filename: str = "iscrizioni.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        UPLOAD,
        data={"csrf_token": csrf_token(client, UPLOAD), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def _bad_rows(page: str) -> dict[int, tuple[str, str]]:
    """line -> (email, reason) from the preview's table of bad rows."""
    table = re.search(r'<table class="table" id="bad-rows".*?</table>', page, re.S)
    if table is None:
        return {}
    return {
        int(line): (html.unescape(email), html.unescape(reason))
        for line, email, reason in re.findall(
            r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(0), re.S
        )
    }


def _summary(page: str) -> dict[str, str]:
    block = re.search(r'<dl class="course-facts mb-4" id="bulk-summary">(.*?)</dl>', page, re.S)
    assert block, page[:3000]
    return dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block.group(1)))


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    assert match, f"no hidden {name}"
    return html.unescape(match.group(1))


def _confirm(client, page: str):
    return client.post(
        CONFIRM,
        data={
            "csrf_token": csrf_token(client, UPLOAD),
            "csv_text": _hidden(page, "csv_text"),
            "filename": _hidden(page, "filename"),
        },
        follow_redirects=True,
    )


def _service_preview(app, text: str, *, user_id: int):
    with app.test_request_context():
        actor = db.session.get(User, user_id)
        return bulk_check.preview(text, scope=Scope.of(actor), cycle=current_cycle())


def _service_confirm(app, text: str, *, user_id: int, filename: str = "iscrizioni.csv"):
    with app.test_request_context():
        actor = db.session.get(User, user_id)
        return bulk_apply.confirm(
            text, scope=Scope.of(actor), cycle=current_cycle(), actor=actor, filename=filename
        )


@contextmanager
def _queries(app):
    """Count the SQL statements run inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- the acceptance file ---------------------------------------------------------------


def _big_file() -> tuple[str, dict[int, str], int]:
    """1,000 rows, 50 of them bad (five of each kind). Returns the text, the expected
    bad lines with a fragment of their reason, and the expected number of enrolments."""
    slug_forms = ["corso-prova", "corso-prova|corso-due", "corso-due, corso-prova", "corso-due"]
    bad_kinds = [
        ("Nome Email", "senza-chiocciola.example.it", "058091", "corso-prova", "email non valid"),
        ("Nome Comune", "{e}", "Atlantide", "corso-prova", "comune sconosciuto"),
        ("Nome Piccolo", "{e}", "056002", "corso-prova", "5.000 abitanti"),
        ("Nome Corso", "{e}", "058091", "corso-inesistente", "corso sconosciuto"),
        ("Nome Bozza", "{e}", "Latina", "corso-prova corso-bozza", "corso-bozza"),
        ("Nome Doppio", "dup", "058091", "corso-prova", "email ripetuta nel file"),
        ("Nome Milano", "{e}", "015146", "corso-prova", "comune fuori dal tuo territorio"),
        ("Nome Altrove", "altrove{n}@example.it", "058091", "corso-prova", "non può modificare"),
        ("Nome Ruolo", "formatore{n}@example.it", "058091", "corso-prova", "non può modificare"),
        ("", "{e}", "058091", "corso-prova", "nome mancante"),
    ]
    lines = [HEADER]
    expected_bad: dict[int, str] = {}
    enrolments = 0
    good_emails: list[str] = []
    per_kind: dict[int, int] = {}
    for i in range(1000):
        line = i + 2
        if i % 20 == 7:  # 50 bad rows spread through the file
            kind = (i // 20) % len(bad_kinds)
            n = per_kind[kind] = per_kind.get(kind, 0) + 1
            name, email, comune, slugs, reason = bad_kinds[kind]
            if email == "dup":
                email = good_emails[-n]
            email = email.format(e=f"bad{i}@example.it", n=n)
            lines.append(f"{name};{email};{comune};{slugs}")
            expected_bad[line] = reason
            continue
        email = f"operatore.{i}@comune.example.it"
        good_emails.append(email)
        slugs = slug_forms[i % len(slug_forms)]
        enrolments += 2 if (" " in slugs or "," in slugs or "|" in slugs) else 1
        lines.append(f"Operatore Numero {i};{email};{LAZIO[i % len(LAZIO)]};{slugs}")
    return "\n".join(lines) + "\n", expected_bad, enrolments


def _existing_accounts(make_user) -> None:
    """The accounts the acceptance file collides with: operators of Latina, trainers."""
    for n in range(1, 6):
        make_user("operator", email=f"altrove{n}@example.it", comune="059011")
        make_user("trainer", email=f"formatore{n}@example.it")


def test_thousand_rows_with_fifty_bad_ones(app, client, login_as, make_user, courses, mailbox):
    _existing_accounts(make_user)
    coordinator = login_as("coordinator", region="12")
    text, expected_bad, expected_enrolments = _big_file()
    assert len(expected_bad) == 50
    users_before, enrolments_before, _, _ = _totals(app)

    started = time.perf_counter()
    response = _upload(client, text)
    preview_seconds = time.perf_counter() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:3000]

    bad = _bad_rows(page)
    assert sorted(bad) == sorted(expected_bad)
    for line, fragment in expected_bad.items():
        assert fragment in bad[line][1], (line, bad[line])
    summary = _summary(page)
    assert summary["Righe nel file"] == "1.000"
    assert summary["Righe con errori"] == "50"
    assert summary["Nuovi account"] == "950"
    assert summary["Nuove iscrizioni"] == f"{expected_enrolments:,}".replace(",", ".")
    assert _totals(app)[:2] == (users_before, enrolments_before), "the preview changed data"

    connections = []
    real_connection = mail._open_smtp

    def counting_connection():  # noqa: ANN202
        connections.append(1)
        return real_connection()

    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mail, "_open_smtp", counting_connection)
        response = _confirm(client, page)
        confirm_seconds = time.perf_counter() - started
        # The request only queued the invitations: however slow the mail server, it
        # never waits for it.
        assert connections == [], "the request talked to the mail server"
        assert _count(app, OutboundMail, status="queued", attempts=0) == 950
        assert "950 inviti per scegliere la password sono in coda" in response.get_data(
            as_text=True
        )
        # The worker sends them, all over one SMTP connection.
        assert run_worker_once(app).sent == 950
        assert connections == [1], "all the invitations go over one SMTP connection"
    page = response.get_data(as_text=True)
    assert "950 account creati" in page, page[:3000]
    print(f"\n1,000 rows: preview {preview_seconds:.2f}s, confirm {confirm_seconds:.2f}s")

    assert _count(app, User) == users_before + 950
    assert _count(app, Enrolment) == enrolments_before + expected_enrolments
    assert _count(app, User, role=Role.OPERATOR, is_confirmed=False) == 950
    assert _count(app, OutboundMail, sent_at=None) == 0
    assert len(mailbox.messages) == 950
    with app.app_context():
        upload = db.session.scalar(select(BulkUpload))
        assert (upload.rows_total, upload.rows_rejected) == (1000, 50)
        assert (upload.accounts_created, upload.enrolments_created) == (950, expected_enrolments)
        assert upload.uploaded_by_id == coordinator["id"]
        assert upload.filename == "iscrizioni.csv"

    # The invitation sets a password and confirms the account.
    body = mailbox.last_body("operatore.0@comune.example.it")
    assert "Corso di prova sull'accoglienza" in body and "Roma" in body
    link = mailbox.last_link("operatore.0@comune.example.it")
    assert client.get(link).status_code == 200

    # The same file again: nothing new, everything reported as already there.
    mailbox.clear()
    totals = _totals(app)
    response = _upload(client, text)
    page = response.get_data(as_text=True)
    summary = _summary(page)
    assert (summary["Nuovi account"], summary["Nuove iscrizioni"]) == ("0", "0")
    assert summary["Account già presenti"] == "950"
    assert summary["Iscrizioni già presenti"] == f"{expected_enrolments:,}".replace(",", ".")
    assert sorted(_bad_rows(page)) == sorted(expected_bad)
    assert "Conferma e iscrivi" not in page
    result = _service_confirm(app, text, user_id=coordinator["id"])
    assert (result.accounts_created, result.enrolments_created) == (0, 0)
    assert (result.accounts_existing, result.enrolments_existing) == (950, expected_enrolments)
    assert _totals(app)[:2] == totals[:2]
    assert mailbox.messages == []


def test_preview_and_confirm_run_a_few_queries_not_one_per_row(
    app, backend, make_user, courses, mailbox
):
    coordinator = make_user("coordinator", region="12")
    text, _, _ = _big_file()
    _existing_accounts(make_user)
    with _queries(app) as statements:
        _service_preview(app, text, user_id=coordinator["id"])
    assert len(statements) < 15, statements
    with _queries(app) as statements:
        _service_confirm(app, text, user_id=coordinator["id"])
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) < 20, selects
    if backend == "postgresql":
        # Inserts go in batches too. (SQLite cannot return the ids of a multi-row insert
        # in order, so there SQLAlchemy inserts row by row, in-process and fast.)
        assert len(statements) < 60, len(statements)


# --- row by row ------------------------------------------------------------------------


def test_each_kind_of_bad_row_has_its_reason(app, make_user, courses):
    coordinator = make_user("coordinator", region="12")
    make_user("operator", email="altrove@example.it", comune="059011")
    make_user("trainer", email="formatore@example.it")
    make_user("operator", email="lontano@example.it", comune="015146")
    text = "\n".join(
        [
            HEADER,
            "Anna Uno;anna@@example.it;058091;corso-prova",  # 2
            "Anna Due;;058091;corso-prova",  # 3
            "Anna Tre;anna3@example.it;Atlantide;corso-prova",  # 4
            "Anna Quattro;anna4@example.it;999999;corso-prova",  # 5
            "Anna Cinque;anna5@example.it;056002;corso-prova",  # 6
            "Anna Sei;anna6@example.it;015146;corso-prova",  # 7
            "Anna Sette;anna7@example.it;058091;corso-nuovo",  # 8
            "Anna Otto;anna8@example.it;058091;corso-bozza",  # 9
            "Anna Nove;anna9@example.it;058091;",  # 10
            "Anna Dieci;anna10@example.it;058091;corso-prova",  # 11
            "Anna Dieci bis;ANNA10@example.it;058091;corso-due",  # 12
            "Anna Undici;altrove@example.it;058091;corso-prova",  # 13
            "Anna Dodici;formatore@example.it;058091;corso-prova",  # 14
            "Anna Tredici;lontano@example.it;058091;corso-prova",  # 15
            ";anna14@example.it;058091;corso-prova",  # 16
            f"{'A' * 201};anna15@example.it;058091;corso-prova",  # 17
            "Anna Sedici;anna16@example.it;;corso-prova",  # 18
            "Anna Tutto;sbagliata;Atlantide;corso-nuovo",  # 19
        ]
    )
    preview = _service_preview(app, text, user_id=coordinator["id"])
    reasons = {row.line: row.reason for row in preview.bad}
    assert [row.line for row in preview.good] == [11]
    assert "indirizzo email non valido" in reasons[2]
    assert "email mancante" in reasons[3]
    assert "comune sconosciuto: Atlantide" in reasons[4]
    assert "codice ISTAT sconosciuto: 999999" in reasons[5]
    assert "Arlena di Castro ha 839 abitanti" in reasons[6]
    assert "comune fuori dal tuo territorio: Milano" in reasons[7]
    assert "corso sconosciuto o non pubblicato nel ciclo 2025-2026: corso-nuovo" in reasons[8]
    assert "corso-bozza" in reasons[9]
    assert "nessun corso indicato" in reasons[10]
    assert "email ripetuta nel file (già alla riga 11)" in reasons[12]
    # An account of another comune of the territory is named, one outside it is not.
    # Another comune (even one in scope), another role, another territory: one answer that
    # tells neither the comune nor the role (no account oracle).
    for n in (13, 14, 15):
        assert NOT_YOURS in reasons[n], reasons[n]
        assert "Latina" not in reasons[n] and "ruolo" not in reasons[n]
    assert "nome mancante" in reasons[16]
    assert "nome troppo lungo" in reasons[17]
    assert "comune mancante" in reasons[18]
    assert reasons[19].count(";") == 2  # every problem of the row, not just the first
    assert preview.rows_total == 18


def test_deactivated_account_is_a_bad_row(app, make_user, courses):
    coordinator = make_user("coordinator", region="12")
    user = make_user("operator", email="spento@example.it")
    with app.app_context():
        db.session.get(User, user["id"]).is_active_account = False
        db.session.commit()
    preview = _service_preview(
        app, f"{HEADER}\nSpento;spento@example.it;058091;corso-prova\n", user_id=coordinator["id"]
    )
    assert preview.bad[0].reason == NOT_YOURS


def test_lazio_coordinator_cannot_enrol_milano(app, client, login_as, courses):
    login_as("coordinator", region="12")
    text = f"{HEADER}\nMario Rossi;mario@example.it;015146;corso-prova\nAda Neri;ada@example.it;Milano;corso-prova\n"
    page = _upload(client, text).get_data(as_text=True)
    bad = _bad_rows(page)
    assert set(bad) == {2, 3}
    assert all("comune fuori dal tuo territorio" in reason for _, reason in bad.values())
    assert "Nessuna riga valida" in page
    users = _count(app, User)
    response = client.post(
        CONFIRM,
        data={"csrf_token": csrf_token(client, UPLOAD), "csv_text": text, "filename": "x.csv"},
    )
    assert response.status_code == 302
    assert _count(app, User) == users


def test_comune_coordinator_reaches_only_their_comune(app, make_user, courses):
    coordinator = make_user("coordinator", scope_comune="058091")
    text = f"{HEADER}\nA;a@example.it;Roma;corso-prova\nB;b@example.it;Latina;corso-prova\n"
    preview = _service_preview(app, text, user_id=coordinator["id"])
    assert [r.line for r in preview.good] == [2]
    assert "comune fuori dal tuo territorio: Latina" in preview.bad[0].reason


def test_existing_operator_of_the_same_comune_is_skipped_and_gets_new_courses(
    app, make_user, courses, mailbox
):
    coordinator = make_user("coordinator", region="12")
    operator = make_user("operator", email="gia@example.it", name="Già Presente")
    _service_confirm(
        app,
        f"{HEADER}\nGià Presente;gia@example.it;058091;corso-prova\n",
        user_id=coordinator["id"],
    )
    assert mailbox.messages == [], "an existing account gets no invitation"
    text = f"{HEADER}\nAltro Nome;GIA@example.it;Roma;corso-prova corso-due\n"
    preview = _service_preview(app, text, user_id=coordinator["id"])
    assert preview.bad == ()
    assert (preview.new_accounts, preview.existing_accounts) == (0, 1)
    assert (preview.new_enrolments, preview.existing_enrolments) == (1, 1)
    result = _service_confirm(app, text, user_id=coordinator["id"])
    assert result.enrolments_created == 1
    assert _count(app, Enrolment, user_id=operator["id"]) == 2
    with app.app_context():
        assert db.session.get(User, operator["id"]).full_name == "Già Presente"


def test_headers_separators_bom_and_slug_lists(app, make_user, courses):
    admin = make_user("admin")
    english = (
        "\ufeffName,Email,Comune,Courses\r\n"
        'Ada Neri,ada@example.it,Bolzano,"corso-prova, corso-due"\r\n'
        "Bea Blu,bea@example.it,Castro (LE),corso-prova|corso-due\r\n"
        "Cia Viola,cia@example.it,58091,Corso-Prova\r\n"
        "\r\n"
        "Dea Rosa,dea@example.it,Castro,corso-prova\r\n"
    )
    preview = _service_preview(app, english, user_id=admin["id"])
    by_line = {row.line: row for row in preview.good}
    assert [c.slug for c in by_line[2].courses] == ["corso-prova", "corso-due"]
    assert by_line[2].comune.name == "Bolzano/Bozen"
    # Castro (LE) has 2,391 inhabitants: found, then refused as not eligible.
    reasons = {row.line: row.reason for row in preview.bad}
    assert "Castro ha 2.391 abitanti" in reasons[3]
    assert by_line[4].comune.istat_code == "058091"
    assert "più comuni si chiamano «Castro»" in reasons[6]  # the blank line 5 still counts
    italian = "nome;email;comune;corsi\nAda Neri;ada@example.it;ROMA;corso-prova corso-due\n"
    preview = _service_preview(app, italian, user_id=admin["id"])
    assert preview.new_enrolments == 2 and preview.bad == ()


def test_quoted_fields_spanning_lines_keep_the_file_line_numbers(app, make_user, courses):
    admin = make_user("admin")
    text = f'{HEADER}\n"Ada\nNeri";ada@example.it;058091;corso-prova\nBea;x;058091;corso-prova\n'
    preview = _service_preview(app, text, user_id=admin["id"])
    assert preview.good[0].name == "Ada Neri"
    assert [row.line for row in preview.bad] == [4]


# --- the transaction -------------------------------------------------------------------


def test_a_failure_on_row_900_leaves_nothing_behind(app, make_user, courses, mailbox):
    coordinator = make_user("coordinator", region="12")
    text, _, _ = _big_file()
    _existing_accounts(make_user)
    before = _totals(app)
    calls = []
    real_enrol = bulk_apply.add_enrolment

    def failing_enrol(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 900:
            raise RuntimeError("il disco è pieno")
        return real_enrol(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk_apply, "add_enrolment", failing_enrol)
        with pytest.raises(RuntimeError):
            _service_confirm(app, text, user_id=coordinator["id"])
    assert len(calls) == 900
    assert _totals(app) == before
    assert mailbox.messages == []


def test_accounts_created_meanwhile_roll_everything_back(app, make_user, courses, mailbox):
    """Another app server created one of the accounts between the checks and the insert."""
    coordinator = make_user("coordinator", region="12")
    make_user("operator", email="gara@example.it")
    text = f"{HEADER}\nPrimo;primo@example.it;058091;corso-prova\nGara;gara@example.it;058091;corso-prova\n"
    before = _totals(app)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk_check, "_users_by_email", lambda emails: {})
        with pytest.raises(ServiceError, match="non è stato salvato niente"):
            _service_confirm(app, text, user_id=coordinator["id"])
    assert _totals(app) == before
    assert mailbox.messages == []


def test_mail_server_down_keeps_the_invitations_queued(app, make_user, courses, mailbox):
    coordinator = make_user("coordinator", region="12")
    app.config["SMTP_PORT"] = 1  # nothing listens there
    text = f"{HEADER}\nA;a@example.it;058091;corso-prova\nB;b@example.it;058091;corso-prova\n"
    result = _service_confirm(app, text, user_id=coordinator["id"])
    assert (result.accounts_created, result.mails_queued) == (2, 2)
    assert _count(app, OutboundMail, status="queued", attempts=0, kind="invitation") == 2
    # The server unreachable: one try, the pass ends, the other invitation waits its turn.
    assert run_worker_once(app).retried == 1
    assert _count(app, OutboundMail, status="queued", attempts=1) == 1
    assert _count(app, OutboundMail, status="queued", attempts=0) == 1
    # The next pass tries the other one (the first waits for its back-off).
    assert run_worker_once(app).retried == 1
    with app.app_context():
        mails = db.session.scalars(select(OutboundMail)).all()
        assert [m.attempts for m in mails] == [1, 1]
        assert all(m.last_error.startswith("ConnectionRefusedError") for m in mails)


# --- refused files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "vuoto.csv", "Il file è vuoto"),
        (b"\n\n  \n", "vuoto.csv", "Il file è vuoto"),
        (b"nome;email;comune;corsi\n", "intestazione.csv", "solo l&#39;intestazione"),
        (b"nome;email\nAda;ada@example.it\n", "colonne.csv", "Mancano le colonne: comune, corsi"),
        (b"PK\x03\x04\x14\x00\x06\x00", "foglio.csv", "è un foglio di calcolo"),
        (b"nome\x00email\x00", "binario.csv", "contiene dati binari"),
        (
            "nome;email;comune;corsi\nNicolò;n@example.it;Forlì;corso-prova\n".encode("latin-1"),
            "latin1.csv",
            "non è codificato in UTF-8",
        ),
        (b"nome;email;comune;corsi\n", "iscrizioni.xlsx", "deve essere un CSV"),
        (
            b'nome;email;comune;corsi\n"Ada;a@example.it;058091;' + b"x" * 200_000 + b"\n",
            "virgolette.csv",
            "non è un CSV leggibile",
        ),
    ],
)
def test_bad_files_are_refused_and_change_nothing(
    app, client, login_as, courses, content, filename, message
):
    login_as("coordinator", region="12")
    before = _totals(app)
    response = _upload(client, content, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _totals(app) == before


def test_too_many_rows_or_bytes_are_refused(app, client, login_as, courses):
    login_as("coordinator", region="12")
    before = _totals(app)
    rows = "".join(f"A;a{i}@example.it;058091;corso-prova\n" for i in range(5001))
    response = _upload(client, f"{HEADER}\n{rows}")
    assert response.status_code == 400
    assert "più di 5.000 righe" in response.get_data(as_text=True)
    padding = "x" * 1000
    rows = "".join(f"{padding};a{i}@example.it;058091;corso-prova\n" for i in range(2100))
    response = _upload(client, f"{HEADER}\n{rows}")
    assert response.status_code == 400
    assert "supera i 2 MB" in response.get_data(as_text=True)
    # The confirmation checks the size again: the hidden field is not trusted.
    response = client.post(
        CONFIRM,
        data={
            "csrf_token": csrf_token(client, UPLOAD),
            "csv_text": f"{HEADER}\n{rows}",
            "filename": "x.csv",
        },
    )
    assert response.status_code == 400
    assert "supera i 2 MB" in response.get_data(as_text=True)
    assert _totals(app) == before


def test_a_large_preview_can_be_confirmed(app, client, login_as, courses, mailbox):
    """The hidden field of a big file must not hit a form-size limit on confirmation."""
    login_as("coordinator", region="12")
    note = "n" * 100_000  # an extra column, ignored
    text = "nome;email;comune;corsi;note\n" + "".join(
        f"Op {i};op{i}@example.it;058091;corso-prova;{note}\n" for i in range(12)
    )
    assert len(text) > 1_000_000
    page = _upload(client, text).get_data(as_text=True)
    response = _confirm(client, page)
    assert response.status_code == 200
    assert "12 account creati" in response.get_data(as_text=True)


def test_upload_without_a_file_is_refused(app, client, login_as, courses):
    login_as("coordinator", region="12")
    response = client.post(UPLOAD, data={"csrf_token": csrf_token(client, UPLOAD)})
    assert response.status_code == 400
    assert "Scegli un file CSV da caricare" in response.get_data(as_text=True)


def test_confirm_without_a_file_is_refused(app, client, login_as, courses):
    login_as("coordinator", region="12")
    response = client.post(CONFIRM, data={"csrf_token": csrf_token(client, UPLOAD)})
    assert response.status_code == 400
    assert "Carica il file e controlla l&#39;anteprima" in response.get_data(as_text=True)


def test_example_file_uses_the_territory_and_the_published_courses(app, client, login_as, courses):
    login_as("coordinator", region="12")
    response = client.get("/coordinamento/iscrizioni-massive/esempio.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffnome;email;comune;corsi")
    assert "058091" in text and "corso-bozza" not in text
    with app.app_context():
        coordinator = db.session.scalar(select(User).where(User.role == Role.COORDINATOR))
        coordinator_id = coordinator.id
    preview = _service_preview(app, text, user_id=coordinator_id)
    assert preview.bad == () and preview.new_accounts == 2


def test_upload_page_lists_the_format_and_links_from_home(app, client, login_as, courses):
    login_as("coordinator", region="12")
    assert "/coordinamento/iscrizioni-massive" in client.get("/coordinamento/").get_data(
        as_text=True
    )
    page = client.get(UPLOAD).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert "<code>corso-prova</code>" in page and "corso-bozza" not in page
