"""The reports' running tallies: moved by every event, equal to a recount, rebuilt on demand.

(Every test of the suite also ends by checking the tallies against a recount: see the
``app`` fixture.)
"""

from __future__ import annotations

import importlib.util
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text, update

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, CourseCompletion, ReportTally
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.reporting import figures as figures_service
from lgnetforma.services.reporting import live, tallies
from lgnetforma.services.reporting.facts import rome_month
from tests.factories.courses import CORRECT, WRONG, import_courses, write_course
from tests.helpers import csrf_token, login
from tests.test_bulk_enrolment import _confirm, _upload

MIGRATION = (
    Path(__file__).resolve().parent.parent / "lgnetforma/migrations/versions/0005_report_tallies.py"
)


@pytest.fixture
def two_courses(app, tmp_path):
    root = tmp_path / "courses"
    write_course(root, "corso-uno")
    write_course(root, "corso-due")
    import_courses(app, root)


def _ids(app) -> tuple[int, int, int, int]:
    """(cycle, comune of Roma, course one, course two)."""
    with app.app_context():
        courses = dict(db.session.execute(select(Course.slug, Course.id)).all())
        roma = db.session.scalar(select(Comune.id).filter_by(istat_code="058091"))
        return current_cycle().id, roma, courses["corso-uno"], courses["corso-due"]


def _stored(app) -> dict:
    with app.app_context():
        return tallies.stored()


def _enrol(client, slug: str) -> None:
    response = client.post(f"/corsi/{slug}/iscrizione", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302


def _take_quiz(client, slug: str, answers: dict) -> None:
    html = client.get(f"/corsi/{slug}/questionario/questionario").get_data(as_text=True)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    response = client.post(
        f"/tentativi/{public_id}", data={**answers, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303


def test_a_learning_journey_moves_the_tallies(app, client, make_user, two_courses):
    cycle, roma, one, two = _ids(app)
    login(client, make_user("operator", comune="058091"))

    _enrol(client, "corso-uno")
    _enrol(client, "corso-due")
    by_course = _stored(app)[tallies.BY_COURSE]
    # The operator counts once, on the course of the first enrolment.
    assert by_course[(cycle, roma, one)] == {
        "enrolled": 1,
        "enrolments": 1,
        "attempts": 0,
        "passed_attempts": 0,
        "completions": 0,
    }
    assert by_course[(cycle, roma, two)]["enrolled"] == 0
    assert by_course[(cycle, roma, two)]["enrolments"] == 1

    client.get("/corsi/corso-uno/lettura")
    client.get("/corsi/corso-uno/questionario")
    _take_quiz(client, "corso-uno", WRONG)
    _take_quiz(client, "corso-uno", CORRECT)  # the second attempt passes: course complete
    stored = _stored(app)
    counts = stored[tallies.BY_COURSE][(cycle, roma, one)]
    assert (counts["attempts"], counts["passed_attempts"], counts["completions"]) == (2, 1, 1)
    year, month = rome_month(datetime.now(UTC))
    assert stored[tallies.BY_MONTH] == {(cycle, roma, one, year, month): {"completions": 1}}

    # Reading the same page again writes nothing and counts nothing.
    client.get("/corsi/corso-uno/questionario")
    assert _stored(app) == stored
    with app.app_context():
        assert tallies.differences() == []
        summary = figures_service.summary(current_cycle(), Scope("national"))
        assert (summary.enrolled, summary.enrolments, summary.completions) == (1, 2, 1)
        assert (summary.attempts, summary.passed_attempts, summary.active) == (2, 1, 1)


def test_bulk_enrolment_counts_each_operator_once(app, client, login_as, two_courses):
    cycle, roma, one, two = _ids(app)
    login_as("coordinator")
    rows = "nome;email;comune;corsi\nAda Rossi;ada@example.it;058091;corso-uno corso-due\n"
    page = _upload(client, rows).get_data(as_text=True)
    response = _confirm(client, page)
    assert response.status_code == 200
    by_course = _stored(app)[tallies.BY_COURSE]
    assert by_course[(cycle, roma, one)]["enrolments"] == 1
    assert by_course[(cycle, roma, two)]["enrolments"] == 1
    enrolled = [by_course[(cycle, roma, c)]["enrolled"] for c in (one, two)]
    assert sorted(enrolled) == [0, 1]


def test_concurrent_first_enrolments_count_the_operator_once(app, backend, make_user, two_courses):
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; this race is checked on PostgreSQL")
    user = make_user("operator")
    client = app.test_client()
    login(client, user)
    token = csrf_token(client)
    cookie = client.get_cookie("session")
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def enrol(slug: str) -> None:
        own = app.test_client()  # its own request, session and database connection
        own.set_cookie("session", cookie.value)
        barrier.wait()
        response = own.post(f"/corsi/{slug}/iscrizione", data={"csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=enrol, args=(s,)) for s in ("corso-uno", "corso-due")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [302, 302]
    by_course = _stored(app)[tallies.BY_COURSE]
    assert sum(c["enrolled"] for c in by_course.values()) == 1
    assert sum(c["enrolments"] for c in by_course.values()) == 2


def _load_migration(path=MIGRATION):  # noqa: ANN001
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_fills_the_tallies_as_a_recount_would(app, two_courses):
    """An existing database upgraded gets the tallies of its past facts: per course by
    0005's SQL, per course and Rome month by 0009's refill."""
    migration = _load_migration()
    months = _load_migration(MIGRATION.parent / "0009_month_by_course.py")
    with app.app_context():
        seed_synthetic(300, seed=5, cycle=current_cycle())
        expected = tallies.recount()
        assert expected[tallies.BY_COURSE] and expected[tallies.BY_MONTH]
        db.session.execute(text("DELETE FROM report_tally"))
        db.session.execute(text("DELETE FROM report_month_tally"))
        db.session.execute(text(migration.FILL))
        with Operations.context(MigrationContext.configure(db.session.connection())):
            months._fill(months._table(with_course=True), with_course=True, zone=months.ROME)
        db.session.commit()
        assert tallies.stored() == expected


def test_cli_finds_and_repairs_drifted_tallies(app, runner, two_courses):
    with app.app_context():
        seed_synthetic(50, seed=9, cycle=current_cycle())
    assert runner.invoke(args=["reports", "check-tallies"]).exit_code == 0
    with app.app_context():
        db.session.execute(update(ReportTally).values(attempts=ReportTally.attempts + 7))
        db.session.execute(update(CourseCompletion).values(comune_id=None))  # drift the facts
        db.session.commit()
    result = runner.invoke(args=["reports", "check-tallies"])
    assert result.exit_code == 1
    assert "attempts" in result.output and "rebuild-tallies" in result.output
    result = runner.invoke(args=["reports", "rebuild-tallies"])
    assert result.exit_code == 0 and "Totali ricostruiti" in result.output
    assert runner.invoke(args=["reports", "check-tallies"]).exit_code == 0
    with app.app_context():
        assert figures_service.summary(current_cycle(), Scope("national")).completions == 0


def test_live_figures_are_reused_for_report_cache_seconds(
    app, client, make_user, two_courses, monkeypatch
):
    app.config["REPORT_CACHE_SECONDS"] = 1
    clock = [1000.0]  # a fake clock: the test does not depend on how fast the machine is
    monkeypatch.setattr(live, "_clock", lambda: clock[0])
    coordinator = app.test_client()
    login(coordinator, make_user("admin"))

    def enrolled_on_screen() -> str:
        html = coordinator.get("/coordinamento/monitoraggio").get_data(as_text=True)
        assert "si aggiornano ogni 1 secondi" in html
        return re.search(r"<dt>Operatori iscritti</dt><dd>(?:<a [^>]+>)?([^<]*)<", html).group(1)

    assert enrolled_on_screen() == "0"
    login(client, make_user("operator"))
    _enrol(client, "corso-uno")
    assert enrolled_on_screen() == "0"  # within the second: the figures computed before
    with app.app_context():  # a measurement at a given time is never reused
        national = Scope("national")
        assert (
            figures_service.summary(current_cycle(), national, now=datetime.now(UTC)).enrolled == 1
        )
    clock[0] += 1.1
    assert enrolled_on_screen() == "1"


def test_months_are_rome_months():
    """A course completed at 00:30 on 1 March in Rome (23:30 UTC on 28 February) is March's;
    in summer Rome is two hours ahead."""
    assert rome_month(datetime(2026, 2, 28, 23, 30, tzinfo=UTC)) == (2026, 3)
    assert rome_month(datetime(2026, 2, 28, 22, 59, tzinfo=UTC)) == (2026, 2)
    assert rome_month(datetime(2026, 7, 31, 22, 30, tzinfo=UTC)) == (2026, 8)
    assert rome_month(datetime(2026, 7, 31, 21, 59)) == (2026, 7)  # naive values are UTC
