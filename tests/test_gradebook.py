"""The gradebook, attempt grants, and one drill-down selection for every figure.

Operators in Roma (058091) and Viterbo (056059), as in issue 12's acceptance list.
"""

from __future__ import annotations

import csv
import io
import re
import threading

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import AttemptGrant, AuditEvent, Certificate, Module, User
from lgnetforma.services.learning import allowances
from lgnetforma.services.people.tokens import create_token
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import CORRECT, WRONG, import_courses, write_course
from tests.helpers import csrf_token, login

ROMA, VITERBO, MILANO = "058091", "056059", "015146"
COURSE = "/corsi/corso-prova"
QUIZ = f"{COURSE}/questionario/questionario"


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)
    return "corso-prova"


def _operator(app, make_user, name: str, comune: str):  # noqa: ANN202
    user = make_user("operator", name=name, comune=comune)
    client = app.test_client()
    login(client, user)
    response = client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    client.get(f"{COURSE}/lettura")
    client.get(f"{COURSE}/questionario")
    return user, client


def _attempt(client, answers: dict):  # noqa: ANN202
    response = client.get(QUIZ, follow_redirects=True)
    html = response.get_data(as_text=True)
    match = re.search(r'action="/tentativi/([^"]+)"', html)
    assert match, html[:3000]
    return client.post(
        f"/tentativi/{match.group(1)}",
        data={**answers, "csrf_token": csrf_token(client)},
        follow_redirects=True,
    ).get_data(as_text=True)


@pytest.fixture
def lazio(app, make_user, course):
    """Roma: one operator who completed the course, one enrolled. Viterbo: one who used up
    both attempts. Milano: one who completed (outside Lazio)."""
    people = {}
    people["roma_done"], c = _operator(app, make_user, "Rossi Anna", ROMA)
    _attempt(c, CORRECT)
    people["roma_new"], _c = _operator(app, make_user, "Bianchi_Luca", ROMA)
    people["viterbo"], people["viterbo_client"] = _operator(app, make_user, "Verdi Carla", VITERBO)
    _attempt(people["viterbo_client"], WRONG)
    _attempt(people["viterbo_client"], WRONG)
    people["milano"], c = _operator(app, make_user, "Neri Marco", MILANO)
    _attempt(c, CORRECT)
    return people


def _csv(client, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def _token(app, user: dict) -> str:
    with app.app_context():
        _row, plaintext = create_token(db.session.get(User, user["id"]), "prova")
        db.session.commit()
        return plaintext


def test_viterbo_drill_down_shows_only_viterbo_everywhere(app, client, make_user, lazio):
    coordinator = make_user("coordinator", region="12")
    login(client, coordinator)
    page = client.get("/coordinamento/monitoraggio?provincia=056")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    html = page.get_data(as_text=True)
    cards = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<a [^>]+>)?([^<]+)", html))
    assert cards["Operatori iscritti"] == "1"
    assert cards["Corsi completati"] == "0"
    assert cards["Tasso di completamento"].startswith("0,0")
    assert "Rossi" not in html and "Roma</a>" not in html
    # The comune row links to the comune's level.
    assert f"comune={VITERBO}" in html

    args = "ciclo=2025-2026&provincia=056"
    territory = _csv(client, f"/coordinamento/esporta/territori.csv?{args}")
    assert [row[0] for row in territory[1:]] == ["Viterbo"]
    assert territory[0][6] == "Tasso di completamento (%)"
    assert territory[1][2:8] == ["1", "1", "1", "0", "0,0", "2"]
    courses = _csv(client, f"/coordinamento/esporta/corsi.csv?{args}")
    assert courses[1][2:6] == ["1", "1", "1", "0"]
    months = _csv(client, f"/coordinamento/esporta/mesi.csv?{args}")
    assert sum(int(row[1]) for row in months[1:]) == 0
    assert months[1][0] == "gen 2025"
    operators = _csv(client, f"/coordinamento/esporta/operatori.csv?{args}")
    assert [row[0] for row in operators[1:]] == ["Verdi Carla"]

    token = _token(app, coordinator)
    api = client.get(
        "/api/v1/reports/completion",
        query_string={"group_by": "comune", "province": "056"},
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    assert api["province"] == "056"
    assert api["summary"]["enrolled"] == 1 and api["summary"]["completions"] == 0
    assert api["summary"]["attempts"] == 2
    assert [row["name"] for row in api["rows"]] == ["Viterbo"]
    assert api["rows"][0]["enrolments"] == int(territory[1][4])

    # The comune level has the same cards.
    comune = client.get(f"/coordinamento/monitoraggio?comune={VITERBO}").get_data(as_text=True)
    assert (
        dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<a [^>]+>)?([^<]+)", comune))["Operatori iscritti"]
        == "1"
    )
    # Outside the scope: not found.
    assert client.get(f"/coordinamento/monitoraggio?comune={MILANO}").status_code == 404
    assert client.get("/coordinamento/monitoraggio?comune=999999").status_code == 404


def test_national_operator_export_honours_the_region(client, login_as, lazio):
    login_as("admin")
    rows = _csv(client, "/coordinamento/esporta/operatori.csv?regione=12")
    assert sorted(row[0] for row in rows[1:]) == ["Bianchi_Luca", "Rossi Anna", "Verdi Carla"]
    assert {row[4] for row in rows[1:]} == {"Lazio"}
    everyone = _csv(client, "/coordinamento/esporta/operatori.csv")
    assert "Neri Marco" in {row[0] for row in everyone[1:]}
    lombardia = _csv(client, "/coordinamento/esporta/operatori.csv?regione=03")
    assert [row[0] for row in lombardia[1:]] == ["Neri Marco"]


def test_xlsx_exports_are_typed_and_usable(client, login_as, lazio):
    login_as("admin")
    response = client.get("/coordinamento/esporta/territori.xlsx?regione=12")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:I{sheet.max_row}"
    assert sheet.column_dimensions["A"].width >= 10
    rates = [row for row in sheet.iter_rows(min_row=2) if row[6].value is not None]
    assert rates and all(row[6].number_format == "0.0%" for row in rates)
    detail = load_workbook(
        io.BytesIO(client.get("/coordinamento/esporta/operatori.xlsx?regione=12").data)
    ).active
    assert detail.cell(1, 9).value == "Data di completamento (ora di Roma)"
    done = [row for row in detail.iter_rows(min_row=2) if row[8].value is not None]
    assert len(done) == 1 and done[0][8].is_date
    assert done[0][7].value == 1 and done[0][7].number_format == "0.0%"
    months = load_workbook(io.BytesIO(client.get("/coordinamento/esporta/mesi.xlsx").data)).active
    assert months.cell(2, 1).is_date and months.cell(2, 1).number_format == "mmm yyyy"


def test_gradebook_lists_filters_and_opens_an_operator(app, client, make_user, lazio):
    login(client, make_user("coordinator", region="12"))
    page = client.get("/coordinamento/operatori")
    assert page.headers["Cache-Control"] == "private, no-store"
    html = page.get_data(as_text=True)
    assert "3 operatori" in html
    assert "Neri Marco" not in html
    for status, expected in (
        ("completato", ["Rossi Anna"]),
        ("tentativi-esauriti", ["Verdi Carla"]),
        ("non-iniziato", []),
        ("in-corso", ["Bianchi_Luca"]),
    ):
        html = client.get(f"/coordinamento/operatori?stato={status}").get_data(as_text=True)
        names = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html)
        assert names == expected, status
    # Search: % and _ are letters, not wildcards.
    html = client.get("/coordinamento/operatori?q=i_l").get_data(as_text=True)
    assert re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html) == ["Bianchi_Luca"]
    html = client.get("/coordinamento/operatori?q=%25").get_data(as_text=True)
    assert "Nessun operatore" in html
    html = client.get(f"/coordinamento/operatori?comune={VITERBO}").get_data(as_text=True)
    assert re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html) == ["Verdi Carla"]
    html = client.get("/coordinamento/operatori?ordine=completions").get_data(as_text=True)
    assert re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html)[0] == "Rossi Anna"

    viterbo = lazio["viterbo"]["id"]
    record = client.get(f"/coordinamento/operatori/{viterbo}")
    assert record.headers["Cache-Control"] == "private, no-store"
    html = record.get_data(as_text=True)
    assert "Tentativo 1" in html and "Tentativo 2" in html and "versione 1" in html
    assert "tentativi esauriti" in html
    # Another region's operator is not found.
    assert client.get(f"/coordinamento/operatori/{lazio['milano']['id']}").status_code == 404


def _grant(client, user_id: int, html: str, reason: str = "Connessione caduta"):  # noqa: ANN202
    form = dict(
        re.findall(r'name="(m\d+-(?:module|request_key|csrf_token))"[^>]*value="([^"]*)"', html)
    )
    prefix = next(iter(form)).split("-")[0]
    return client.post(
        f"/coordinamento/operatori/{user_id}/tentativi",
        data={**form, f"{prefix}-extra": "1", f"{prefix}-reason": reason},
    )


def test_a_granted_attempt_lets_the_operator_pass_and_is_audited(app, client, make_user, lazio):
    viterbo, learner = lazio["viterbo"], lazio["viterbo_client"]
    # The learner sees no attempts left, who can grant more, and no retry button.
    coordinator = make_user("coordinator", region="12", name="Gialli Paola")
    module = learner.get(f"{COURSE}/questionario").get_data(as_text=True)
    assert "Non ti restano tentativi" in module and "Gialli Paola" in module
    assert "Riprova il questionario" not in module
    assert "Hai esaurito i 2 tentativi" in learner.get(QUIZ, follow_redirects=True).get_data(
        as_text=True
    )

    login(client, coordinator)
    html = client.get(f"/coordinamento/operatori/{viterbo['id']}").get_data(as_text=True)
    response = _grant(client, viterbo["id"], html)
    assert response.status_code == 302
    again = _grant(client, viterbo["id"], html)  # the same form again: counted once
    assert again.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Connessione caduta" in html and "Gialli Paola" in html

    module = learner.get(f"{COURSE}/questionario").get_data(as_text=True)
    assert "Ti resta 1 tentativo." in module
    result = _attempt(learner, CORRECT)
    assert "Superato" in result and "Hai completato il corso" in result
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AttemptGrant)) == 1
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 3
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "attempts.granted")
        ).all()
        assert len(events) == 1
        assert events[0].actor_id == coordinator["id"]
        assert events[0].details["extra"] == 1
        assert events[0].object_id == str(db.session.scalar(select(AttemptGrant.id)))
        # The reason is free text about a person: kept with the grant (erasable), not in
        # the append-only trail.
        assert "Connessione caduta" not in str(events[0].details)
        assert events[0].details["operator"] == viterbo["id"]


def test_grant_needs_a_reason_and_the_scope(app, client, make_user, lazio):
    login(client, make_user("coordinator", region="12"))
    viterbo = lazio["viterbo"]["id"]
    html = client.get(f"/coordinamento/operatori/{viterbo}").get_data(as_text=True)
    response = _grant(client, viterbo, html, reason="   ")
    assert response.status_code == 400
    assert "Scrivi il motivo della concessione" in response.get_data(as_text=True)

    other = app.test_client()
    login(other, make_user("coordinator", region="03"))
    form = dict(re.findall(r'name="(m\d+-(?:module|request_key))"[^>]*value="([^"]*)"', html))
    token = csrf_token(other, "/coordinamento/")
    data = {**form, "csrf_token": token}
    assert other.post(f"/coordinamento/operatori/{viterbo}/tentativi", data=data).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AttemptGrant)) == 0


def test_trainers_grant_for_their_courses_only(app, make_user, lazio):
    trainer = make_user("trainer")
    with app.app_context():
        operator = db.session.get(User, lazio["viterbo"]["id"])
        module = db.session.scalar(select(Module).filter_by(slug="questionario"))
        actor = db.session.get(User, trainer["id"])
        assert not allowances.may_grant(actor, operator, module)
        module.current_version.created_by_id = actor.id
        db.session.commit()
        assert allowances.may_grant(actor, operator, module)
        granted = allowances.grant_attempts(
            actor, operator, module, current_cycle(), extra=2, reason="Prova", request_key="k1"
        )
        db.session.commit()
        assert granted.created
        allowance = allowances.attempt_allowance(operator, module, current_cycle())
        assert (allowance.allowed, allowance.left, allowance.used_up) == (4, 2, False)


def test_concurrent_grants_of_one_form_count_once(app, backend, make_user, lazio):
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; this race is checked on PostgreSQL")
    coordinator = make_user("coordinator", region="12")
    client = app.test_client()
    login(client, coordinator)
    viterbo = lazio["viterbo"]["id"]
    html = client.get(f"/coordinamento/operatori/{viterbo}").get_data(as_text=True)
    cookie = client.get_cookie("session")
    form = dict(
        re.findall(r'name="(m\d+-(?:module|request_key|csrf_token))"[^>]*value="([^"]*)"', html)
    )
    prefix = next(iter(form)).split("-")[0]
    data = {**form, f"{prefix}-extra": "1", f"{prefix}-reason": "Rete assente"}
    barrier = threading.Barrier(10)
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        own = app.test_client()
        own.set_cookie("session", cookie.value)
        barrier.wait()
        response = own.post(f"/coordinamento/operatori/{viterbo}/tentativi", data=data)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [302] * 10
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AttemptGrant)) == 1
        audited = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "attempts.granted")
        )
        assert audited == 1
        operator = db.session.get(User, viterbo)
        module = db.session.scalar(select(Module).filter_by(slug="questionario"))
        assert allowances.attempt_allowance(operator, module, current_cycle()).left == 1


def test_a_trainer_grants_from_the_editor_for_their_courses(app, client, make_user, lazio):
    trainer = make_user("trainer", name="Marco Formatore")
    login(client, trainer)
    page = client.get("/editor/tentativi").get_data(as_text=True)
    assert "Nessun questionario dei tuoi corsi" in page
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(slug="questionario"))
        module.current_version.created_by_id = trainer["id"]
        db.session.commit()
        module_id = module.id
        viterbo_email = db.session.get(User, lazio["viterbo"]["id"]).email
    page = client.get("/editor/tentativi").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": csrf_token(client, "/editor/tentativi"),
        "request_key": key,
        "email": viterbo_email,
        "module": str(module_id),
        "extra": "2",
        "reason": "Recupero",
    }
    response = client.post("/editor/tentativi", data=data, follow_redirects=True)
    assert "Concessi a Verdi Carla 2 tentativi in più." in response.get_data(as_text=True)
    unknown = client.post("/editor/tentativi", data={**data, "email": "nessuno@example.it"})
    assert unknown.status_code == 400
    assert "Nessun operatore iscritto" in unknown.get_data(as_text=True)
    with app.app_context():
        grant = db.session.scalar(select(AttemptGrant))
        assert (grant.extra, grant.granted_by_id) == (2, trainer["id"])
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "attempts.granted")
            )
            == 1
        )


def test_grants_are_in_the_personal_data_and_their_reason_goes_with_the_account(
    app, make_user, lazio
):
    from lgnetforma.services.people.personal_data import DELETED_REASON, delete_account, export_data

    coordinator = make_user("coordinator", region="12")
    with app.app_context():
        operator = db.session.get(User, lazio["viterbo"]["id"])
        module = db.session.scalar(select(Module).filter_by(slug="questionario"))
        allowances.grant_attempts(
            db.session.get(User, coordinator["id"]),
            operator,
            module,
            current_cycle(),
            extra=1,
            reason="Connessione caduta",
            request_key="k-export",
        )
        db.session.commit()
        exported = export_data(operator)["attempt_grants"]
        assert exported == [
            {
                "course": "corso-prova",
                "module": "questionario",
                "cycle": current_cycle().code,
                "extra_attempts": 1,
                "reason": "Connessione caduta",
                "granted_at": exported[0]["granted_at"],
            }
        ]
        delete_account(operator)
        db.session.commit()
        grant = db.session.scalar(select(AttemptGrant))
        assert (grant.reason, grant.extra) == (DELETED_REASON, 1)
