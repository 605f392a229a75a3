"""Learning through HTTP: enrolment, reading, quiz attempts, completion, certificates."""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile

import pytest
from sqlalchemy import func, select

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import (
    Certificate,
    CourseCompletion,
    Enrolment,
    ModuleCompletion,
    QuizAttempt,
    User,
)
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import CORRECT, WRONG, import_courses, write_course
from tests.helpers import csrf_token, login, sql_statements

COURSE = "/corsi/corso-prova"
READING = f"{COURSE}/lettura"
QUIZ_PAGE = f"{COURSE}/questionario"
QUIZ = f"{QUIZ_PAGE}/questionario"


@pytest.fixture
def course(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)
    return "corso-prova"


def _enrol(client) -> None:
    response = client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302


def _open_quiz(client) -> tuple[str, str]:
    """Open the quiz page; return (html, attempt public id)."""
    response = client.get(QUIZ)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    match = re.search(r'action="/tentativi/([^"]+)"', html)
    assert match, html
    return html, match.group(1)


def _submit(client, public_id: str, answers: dict, follow: bool = False):
    return client.post(
        f"/tentativi/{public_id}",
        data={**answers, "csrf_token": csrf_token(client)},
        follow_redirects=follow,
    )


def _count(app, model, **filters) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in filters.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def test_course_page_shows_the_date_of_the_last_review(app, client, course):
    page = client.get(COURSE).get_data(as_text=True)
    assert "Ultima revisione dei contenuti: 20 novembre 2026" in page
    response = client.post(
        "/lingua", data={"lang": "en", "next": COURSE, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    assert "Contents last reviewed: November 20, 2026" in client.get(COURSE).get_data(as_text=True)


def test_operator_enrols_once_and_sees_progress(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    response = client.post(
        f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)}, follow_redirects=True
    )
    assert "Iscrizione a questo corso già presente" in response.get_data(as_text=True)
    assert _count(app, Enrolment) == 1
    html = client.get("/i-miei-corsi").get_data(as_text=True)
    assert "Corso di prova sull&#39;accoglienza" in html
    assert "0 moduli completati su 2" in html
    assert "Questionari superati: 0 su 1" in html


def test_drafts_are_invisible_to_operators(app, client, login_as, tmp_path):
    import_courses(app, write_course(tmp_path / "c", status="draft").parent)
    login_as("operator")
    assert "corso-prova" not in client.get("/corsi").get_data(as_text=True)
    assert client.get(COURSE).status_code == 404
    assert client.get(READING).status_code == 404
    response = client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 404


def test_reading_a_module_without_quiz_completes_it(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    html = client.get(READING).get_data(as_text=True)
    assert "Un modulo senza questionario" in html
    assert _count(app, ModuleCompletion) == 1
    assert "1 modulo completato su 2" in client.get("/i-miei-corsi").get_data(as_text=True)


def test_quiz_pages_never_reveal_the_correct_answers(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    for html in (
        client.get(f"{COURSE}/questionario").get_data(as_text=True),
        _open_quiz(client)[0],
    ):
        assert "checked" not in html
        assert "duemilaventicinque" not in html.lower()
        assert "coordina la rete." not in html  # the feedback
        assert "correct" not in html.lower()
    # Option keys are there, their correctness is not.
    assert 'value="2"' in html


def test_fail_retry_pass_completes_the_course_and_issues_a_certificate(
    app, client, login_as, course
):
    user = login_as("operator")
    _enrol(client)
    client.get(READING)
    client.get(f"{COURSE}/questionario")  # open the module
    _, first = _open_quiz(client)
    html = _submit(client, first, WRONG, follow=True).get_data(as_text=True)
    assert "Non superato" in html and "Punteggio: 0%" in html
    assert "Interno coordina la rete." in html  # the feedback, after submission
    assert "Riprova" in html

    _, second = _open_quiz(client)
    assert second != first
    html = _submit(client, second, CORRECT, follow=True).get_data(as_text=True)
    assert "Superato" in html and "Punteggio: 100%" in html
    assert "Hai completato il corso" in html

    with app.app_context():
        completion = db.session.scalar(select(CourseCompletion))
        assert completion.user_id == user["id"] and completion.hours == 4
        assert len(completion.module_versions) == 2
        certificate = db.session.scalar(select(Certificate))
        completion_id, code = completion.id, certificate.code
    pdf = client.get(f"/attestati/{completion_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert code.encode() in pdf.data  # the code is printed (invariant, uncompressed text)
    assert b"/Lang (it-IT)" in pdf.data  # its language, for screen readers (issue 13)
    again = client.get(f"/attestati/{completion_id}.pdf")
    assert again.data == pdf.data  # same certificate, same code, same bytes

    anonymous = app.test_client()
    page = anonymous.get(f"/verifica/{code}").get_data(as_text=True)
    assert "è autentico" in page and "Corso di prova" in page and user["email"] not in page
    missing = anonymous.get("/verifica/LGN-AAAA-BBBB-CCCC")
    assert missing.status_code == 404 and "Attestato non trovato" in missing.get_data(as_text=True)


def test_the_attempt_limit_is_enforced_with_a_clear_message(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    for _ in range(2):
        _, public_id = _open_quiz(client)
        _submit(client, public_id, WRONG)
    response = client.get(QUIZ, follow_redirects=True)
    assert "Hai esaurito i 2 tentativi" in response.get_data(as_text=True)
    assert _count(app, QuizAttempt) == 2


def test_the_learner_always_sees_the_attempts_left(app, client, login_as, make_user, course):
    login_as("operator")
    make_user("coordinator", region="12", name="Gialli Paola")
    make_user("coordinator", region="03", name="Altra Regione")
    _enrol(client)
    client.get(f"{COURSE}/questionario")  # open the module
    assert "Ti restano 2 tentativi." in client.get(f"{COURSE}/questionario").get_data(as_text=True)
    html, first = _open_quiz(client)
    assert "Tentativi a disposizione, compreso questo: 2." in html
    assert "Serve almeno il 100% di risposte corrette." in html
    html = _submit(client, first, WRONG, follow=True).get_data(as_text=True)
    assert "Ti resta 1 tentativo." in html and "Riprova" in html
    html, second = _open_quiz(client)
    assert "Questo è l'ultimo tentativo a disposizione." in html
    html = _submit(client, second, WRONG, follow=True).get_data(as_text=True)
    assert "Non ti restano tentativi per questo questionario." in html
    assert (
        "Può concederti altri tentativi il coordinatore del tuo territorio: Gialli Paola." in html
    )
    assert "Altra Regione" not in html
    assert "Riprova" not in html
    module = client.get(f"{COURSE}/questionario").get_data(as_text=True)
    assert "Non ti restano tentativi" in module and "Riprova il questionario" not in module
    # The old review page of the first attempt offers no retry either.
    assert "Riprova" not in client.get(f"/tentativi/{first}").get_data(as_text=True)


def test_submitting_twice_records_one_attempt_with_the_same_result(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    _, public_id = _open_quiz(client)
    first = _submit(client, public_id, WRONG)
    second = _submit(client, public_id, CORRECT, follow=True)  # back button, changed answers
    assert first.status_code == 303
    html = second.get_data(as_text=True)
    assert "era già stato inviato" in html and "Non superato" in html
    with app.app_context():
        attempts = db.session.scalars(select(QuizAttempt)).all()
        assert len(attempts) == 1 and attempts[0].passed is False


def test_reloading_the_quiz_reuses_the_open_attempt(app, client, login_as, course):
    login_as("operator")
    _enrol(client)
    assert _open_quiz(client)[1] == _open_quiz(client)[1]
    assert _count(app, QuizAttempt) == 1


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"q1": "2", "q2": ["1", "2"]}, '<a href="#question-3">Domanda 3: manca la risposta</a>'),
        ({**CORRECT, "q1": "9"}, "l&#39;opzione &#39;9&#39; non appartiene alla domanda 1"),
        ({**CORRECT, "q2": ["1", "99"]}, "non appartiene alla domanda 2"),
    ],
)
def test_bad_answers_get_a_clear_error_and_record_nothing(
    app, client, login_as, course, answers, message
):
    login_as("operator")
    _enrol(client)
    _, public_id = _open_quiz(client)
    response = _submit(client, public_id, answers)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert 'value="2" checked' in html or "q1" not in answers  # what was typed is kept
    with app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        assert attempt.submitted_at is None and attempt.answers is None


def test_an_empty_submission_names_every_missing_answer(app, client, login_as, course):
    """Issue 13: each missing answer is listed and linked to its question, which is marked
    invalid and described inline; what was answered is kept."""
    login_as("operator")
    _enrol(client)
    _, public_id = _open_quiz(client)
    response = _submit(client, public_id, {"q2": ["1"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>Errore: Questionario" in html
    assert "Mancano le risposte a 2 domande:" in html
    for number in (1, 3):
        assert f'<a href="#question-{number}">Domanda {number}: manca la risposta</a>' in html
        assert f'id="question-{number}" aria-describedby="q{number}-error' in html
        assert f'id="q{number}-error">Manca la risposta a questa domanda.</p>' in html
    assert 'href="#question-2"' not in html and 'id="q2-error"' not in html
    assert html.count('aria-invalid="true"') == 3 + 1  # the options of question 1, the text
    assert 'value="1" checked' in html
    with app.app_context():
        assert db.session.scalar(select(QuizAttempt)).submitted_at is None


def test_tampered_or_foreign_attempt_ids_are_not_found(app, client, login_as, make_user, course):
    login_as("operator")
    _enrol(client)
    _, public_id = _open_quiz(client)
    assert _submit(client, public_id + "x", CORRECT).status_code == 404

    other = app.test_client()
    login(other, make_user("operator"))
    assert _submit(other, public_id, CORRECT).status_code == 404
    assert other.get(f"/tentativi/{public_id}").status_code == 404
    assert _count(app, QuizAttempt, passed=True) == 0


def test_completion_survives_later_content_changes(app, client, login_as, course, tmp_path):
    login_as("operator")
    _enrol(client)
    client.get(READING)
    client.get(f"{COURSE}/questionario")
    _, public_id = _open_quiz(client)
    _submit(client, public_id, CORRECT)
    folder = write_course(tmp_path / "again")
    (folder / "02-questionario.md").write_text(
        (folder / "02-questionario.md").read_text().replace("Testo.", "Testo cambiato."),
        encoding="utf-8",
    )
    import_courses(app, folder.parent)
    assert _count(app, CourseCompletion) == 1
    html = client.get("/i-miei-corsi").get_data(as_text=True)
    assert "Completato il" in html


def test_personal_data_export_and_account_deletion(app, client, login_as, course):
    user = login_as("operator")
    _enrol(client)
    client.get(READING)
    client.get(f"{COURSE}/questionario")
    _, public_id = _open_quiz(client)
    _submit(client, public_id, CORRECT)

    response = client.get("/profilo/dati.json")
    data = json.loads(response.data)
    assert data["account"]["email"] == user["email"]
    assert data["quiz_attempts"][0]["answers"]["3"] == ["Duemilaventicinque"]
    assert data["course_completions"][0]["course"] == "corso-prova"
    assert len(data["module_completions"]) == 2 and len(data["certificates"]) == 1

    token = csrf_token(client, "/profilo")
    response = client.post(
        "/profilo/elimina",
        data={"delete-password": "sbagliata", "delete-confirm": "y", "csrf_token": token},
    )
    assert response.status_code == 400
    completions_before = _count(app, CourseCompletion)
    response = client.post(
        "/profilo/elimina",
        data={"delete-password": user["password"], "delete-confirm": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    assert client.get("/profilo").status_code == 302  # logged out
    assert "non corretti" in client.post(
        "/accesso",
        data={
            "email": user["email"],
            "password": user["password"],
            "csrf_token": csrf_token(client),
        },
    ).get_data(as_text=True)
    assert _count(app, CourseCompletion) == completions_before == 1
    with app.app_context():
        deleted = db.session.get(User, user["id"])
        assert deleted.email != user["email"] and deleted.full_name == "Account eliminato"
        certificate = db.session.scalar(select(Certificate))
        assert certificate.revoked_at is not None and certificate.holder_name == ""
        code = certificate.code
    assert "non è più valido" in client.get(f"/verifica/{code}").get_data(as_text=True)


def test_coordinator_enrols_operators_of_their_territory_only(
    app, client, make_user, login_as, course
):
    roma = make_user("operator", email="roma@example.it", comune="058091")
    milano = make_user("operator", email="milano@example.it", comune="015146")
    login_as("coordinator", region="12")  # Lazio
    token = csrf_token(client, "/coordinamento/")
    ok = client.post(
        "/coordinamento/iscrizioni",
        data={"email": roma["email"], "course": "corso-prova", "csrf_token": token},
    )
    assert ok.status_code == 302
    refused = client.post(
        "/coordinamento/iscrizioni",
        data={"email": milano["email"], "course": "corso-prova", "csrf_token": token},
    )
    assert refused.status_code == 400
    assert "Nessun operatore con questa email nel tuo territorio" in refused.get_data(as_text=True)
    with app.app_context():
        enrolments = db.session.scalars(select(Enrolment)).all()
        assert [e.user_id for e in enrolments] == [roma["id"]]
        assert enrolments[0].enrolled_by_id is not None


def _complete_course(app, user: dict) -> None:
    client = app.test_client()
    login(client, user)
    _enrol(client)
    client.get(READING)
    client.get(f"{COURSE}/questionario")
    _, public_id = _open_quiz(client)
    _submit(client, public_id, CORRECT)


def test_certificates_zip_holds_only_the_scope(app, client, make_user, login_as, course):
    _complete_course(app, make_user("operator", comune="058091"))  # Roma, Lazio
    _complete_course(app, make_user("operator", comune="015146"))  # Milano, Lombardia
    login_as("coordinator", region="12")
    response = client.get("/coordinamento/attestati.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert len(archive.namelist()) == 1
    with app.app_context():
        roma_code = db.session.scalar(
            select(Certificate.code).where(Certificate.comune_name == "Roma")
        )
    assert archive.namelist() == [f"attestato-{roma_code}.pdf"]


def test_twenty_concurrent_submissions_record_exactly_one(app, backend, make_user, course):
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; this race is checked on PostgreSQL")
    user = make_user("operator")
    client = app.test_client()
    login(client, user)
    _enrol(client)
    client.get(f"{COURSE}/questionario")  # open the module
    _, public_id = _open_quiz(client)
    token = csrf_token(client)
    cookie = client.get_cookie("session")

    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        own = app.test_client()  # its own request, session and database connection
        own.set_cookie("session", cookie.value)
        barrier.wait()
        response = own.post(
            f"/tentativi/{public_id}",
            data={**CORRECT, "csrf_token": token},
            follow_redirects=True,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(statuses) == 20
    assert all(200 <= status < 500 for status in statuses), statuses
    with app.app_context():
        attempts = db.session.scalars(select(QuizAttempt)).all()
        assert len(attempts) == 1 and attempts[0].submitted_at is not None
        assert db.session.scalar(select(func.count()).select_from(ModuleCompletion)) == 1


def test_reading_and_submitting_cost_the_same_queries_whatever_the_data(
    app, client, make_user, tmp_path
):
    import_courses(app, write_course(tmp_path / "courses", attempts=5).parent)
    login(client, make_user("operator"))
    _enrol(client)
    client.get(QUIZ_PAGE)  # the first view records it

    def read() -> None:
        assert client.get(QUIZ_PAGE).status_code == 200

    def submit_wrong() -> None:
        _, public_id = _open_quiz(client)
        token = csrf_token(client, "/privacy")  # a page without the operator's progress
        assert _submit_with(client, public_id, WRONG, token).status_code == 303

    small_read = sql_statements(app, read)
    small_submit = sql_statements(app, submit_wrong)
    # A repeated view writes nothing.
    assert not [s for s in small_read if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    with app.app_context():
        seed_synthetic(500, seed=3, cycle=current_cycle())
    assert len(sql_statements(app, read)) == len(small_read) <= 10
    # Opening the quiz (a new attempt, checked against the attempts left and showing them:
    # the allowance query twice) and submitting it.
    counted = sql_statements(app, submit_wrong)
    # (PostgreSQL adds the shared advisory lock of the open cycle, taken twice: 33.)
    assert len(counted) == len(small_submit) <= 34, "\n".join(
        s.split("\n")[0][:120] for s in counted
    )


def _submit_with(client, public_id: str, answers: dict, token: str):  # noqa: ANN001, ANN202
    return client.post(f"/tentativi/{public_id}", data={**answers, "csrf_token": token})
