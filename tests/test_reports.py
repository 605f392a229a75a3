"""Report figures against independent SQL, scope everywhere, exports, constant query counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import Region
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import figures as figures_service
from tests.factories.courses import import_courses, write_course
from tests.helpers import sql_statements

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
LAZIO = "12"


def _courses(app, tmp_path, count: int = 3) -> None:
    root = tmp_path / "courses"
    for n in range(count):
        write_course(root, f"corso-{n}", attempts=3)
    import_courses(app, root)


@pytest.fixture
def national(app, tmp_path):
    """20,000 synthetic operators over three courses."""
    _courses(app, tmp_path)
    with app.app_context():
        report = seed_synthetic(20_000, seed=7, cycle=current_cycle(), now=NOW)
        assert report.operators == 20_000
    return report


def _sql(query: str, **params) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text(query), params)]


def test_dashboard_figures_equal_independent_sql_counts(app, national):
    with app.app_context():
        cycle = current_cycle()
        c = {"cycle": cycle.id}
        summary = figures_service.summary(cycle, Scope("national"), now=NOW)
        assert (
            summary.enrolled
            == 20_000
            == _sql("SELECT COUNT(DISTINCT user_id) FROM enrolment WHERE cycle_id = :cycle", **c)[
                0
            ][0]
        )
        assert (
            summary.enrolments
            == _sql("SELECT COUNT(*) FROM enrolment WHERE cycle_id = :cycle", **c)[0][0]
        )
        assert (
            summary.completions
            == national.course_completions
            == _sql("SELECT COUNT(*) FROM course_completion WHERE cycle_id = :cycle", **c)[0][0]
        )
        attempts, passed = _sql(
            "SELECT COUNT(*), SUM(CASE WHEN passed THEN 1 ELSE 0 END) FROM quiz_attempt "
            "WHERE cycle_id = :cycle AND submitted_at IS NOT NULL",
            **c,
        )[0]
        assert (summary.attempts, summary.passed_attempts) == (attempts, passed)
        cutoff = datetime(2026, 10, 23, 12, tzinfo=UTC)
        assert (
            summary.active
            == _sql(
                "SELECT COUNT(DISTINCT user_id) FROM enrolment "
                "WHERE cycle_id = :cycle AND last_activity_at >= :cutoff",
                cutoff=cutoff,
                **c,
            )[0][0]
        )
        assert summary.active > 0

        by_region = {
            row.key: (row.figures.enrolled, row.figures.completions)
            for row in figures_service.completion_report(
                cycle, Scope("national"), "region", now=NOW
            )
        }
        expected_enrolled = dict(
            _sql(
                "SELECT r.code, COUNT(DISTINCT e.user_id) FROM enrolment e "
                "JOIN user_account u ON u.id = e.user_id JOIN comune c ON c.id = u.comune_id "
                "JOIN region r ON r.id = c.region_id WHERE e.cycle_id = :cycle GROUP BY r.code",
                **c,
            )
        )
        expected_completions = dict(
            _sql(
                "SELECT r.code, COUNT(*) FROM course_completion cc "
                "JOIN comune c ON c.id = cc.comune_id JOIN region r ON r.id = c.region_id "
                "WHERE cc.cycle_id = :cycle GROUP BY r.code",
                **c,
            )
        )
        assert len(by_region) == 20
        for code, (enrolled, completions) in by_region.items():
            assert enrolled == expected_enrolled.get(code, 0), code
            assert completions == expected_completions.get(code, 0), code

        by_course = figures_service.completion_report(cycle, Scope("national"), "course", now=NOW)
        assert sum(r.figures.enrolments for r in by_course) == summary.enrolments

        months = figures_service.completions_by_month(cycle, Scope("national"))
        assert len(months) == 24 and sum(m.completions for m in months) == summary.completions

        coverage = coverage_service.coverage(cycle, Scope("national"))
        eligible, reached, completed = _sql(
            "SELECT COUNT(*), "
            "SUM(CASE WHEN id IN (SELECT u.comune_id FROM enrolment e JOIN user_account u "
            "  ON u.id = e.user_id WHERE e.cycle_id = :cycle) THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN id IN (SELECT comune_id FROM course_completion "
            "  WHERE cycle_id = :cycle) THEN 1 ELSE 0 END) "
            "FROM comune WHERE population > 5000",
            **c,
        )[0]
        assert (coverage.eligible, coverage.reached, coverage.completed) == (
            2366,
            reached,
            completed,
        )
        assert eligible == 2366

        # A regional scope counts only its region.
        lazio = db.session.scalar(select(Region).filter_by(code=LAZIO))
        scope = Scope("region", region_id=lazio.id)
        summary = figures_service.summary(cycle, scope, now=NOW)
        assert (
            summary.enrolled
            == _sql(
                "SELECT COUNT(DISTINCT e.user_id) FROM enrolment e "
                "JOIN user_account u ON u.id = e.user_id JOIN comune c ON c.id = u.comune_id "
                "WHERE e.cycle_id = :cycle AND c.region_id = :region",
                cycle=cycle.id,
                region=lazio.id,
            )[0][0]
        )
        provinces = figures_service.completion_report(cycle, scope, "region", now=NOW)
        assert [row.key for row in provinces] == [LAZIO]
        assert (
            coverage_service.coverage(cycle, scope).eligible
            == _sql(
                "SELECT COUNT(*) FROM comune WHERE population > 5000 AND region_id = :r", r=lazio.id
            )[0][0]
        )


def _statements(app, client, path: str) -> int:
    def get() -> None:
        assert client.get(path).status_code == 200

    return len(sql_statements(app, get))


def test_query_counts_do_not_grow_with_data(app, client, login_as, tmp_path):
    _courses(app, tmp_path)
    login_as("admin")
    pages = ["/coordinamento/monitoraggio", "/coordinamento/copertura", "/i-miei-corsi"]
    pages = pages[:2]
    with app.app_context():
        seed_synthetic(50, seed=1, cycle=current_cycle(), now=NOW)
    small = [_statements(app, client, page) for page in pages]
    with app.app_context():
        seed_synthetic(2_000, seed=2, cycle=current_cycle(), now=NOW)
    large = [_statements(app, client, page) for page in pages]
    assert small == large
    assert all(count < 40 for count in large), large


def test_csv_export_is_for_italian_excel_and_neutralises_formulas(
    app, client, login_as, make_user, tmp_path
):
    _courses(app, tmp_path, count=1)
    attacker = make_user("operator", name='=HYPERLINK("http://x","clic")', comune="058091")
    make_user("operator", name="+39 Maria", comune="058091")
    from tests.helpers import csrf_token, login

    for user in (attacker,):
        other = app.test_client()
        login(other, user)
        other.post("/corsi/corso-0/iscrizione", data={"csrf_token": csrf_token(other)})
    login_as("admin")
    response = client.get("/coordinamento/esporta/operatori.csv")
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeffNome;Email;Comune;Provincia;Regione;Corso")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[1][0] == '\'=HYPERLINK("http://x","clic")'
    assert rows[1][2:5] == ["Roma", "RM", "Lazio"]

    xlsx = client.get("/coordinamento/esporta/operatori.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["A1"].value == "Nome"
    assert sheet["A2"].value == '\'=HYPERLINK("http://x","clic")'


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_prefix_is_neutralised(value):
    from lgnetforma.services.reporting.exports import neutralise

    assert neutralise(value) == "'" + value
    assert neutralise("Roma") == "Roma" and neutralise(3) == 3


def test_large_csv_export_streams_every_row(app, client, login_as, tmp_path):
    _courses(app, tmp_path)
    with app.app_context():
        seed_synthetic(21_000, seed=3, cycle=current_cycle(), now=NOW)
        enrolments = _sql("SELECT COUNT(*) FROM enrolment")[0][0]
    assert enrolments > 45_000
    login_as("admin")
    response = client.get("/coordinamento/esporta/operatori.csv")
    assert response.is_streamed
    lines = 0
    for chunk in response.response:
        lines += chunk.count("\r\n") if isinstance(chunk, str) else chunk.count(b"\r\n")
    assert lines == enrolments + 1


def test_export_links_say_which_table_they_take(client, login_as):
    """Issue 13, keyboard and screen readers: "CSV" under every table is told apart, and a
    filtered dashboard lands the focus on its figures."""
    login_as("admin")
    html = client.get("/coordinamento/monitoraggio?regione=12").get_data(as_text=True)
    for what in ("la tabella per territorio", "la tabella per corso", "la tabella per mese"):
        assert f'CSV<span class="visually-hidden">: {what}</span>' in html
        assert f'Excel (XLSX)<span class="visually-hidden">: {what}</span>' in html
    assert '<h2 tabindex="-1" data-results>' in html
