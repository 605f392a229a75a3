"""Closing a cycle freezes its figures; a new cycle has its own dates and threshold.

Acceptance: after closing 2025-2026, later activity, content edits and account deletions
leave every report of the cycle byte-identical (pages, CSV exports, JSON API); the figures
served from the snapshot equal the live ones of the closing moment, for every scope and
grouping; between two cycles no page fails; bad input is refused and changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    CourseVersion,
    Cycle,
    CycleSnapshot,
    Enrolment,
    ModuleView,
    Province,
    QuizAttempt,
    Region,
    User,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.cycles import (
    NoCurrentCycle,
    close_cycle,
    count_eligible_comuni,
    current_cycle,
    cycle_by_code,
    open_cycle,
)
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import facts as facts_service
from lgnetforma.services.reporting import figures as figures_service
from lgnetforma.services.reporting import tallies
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.helpers import csrf_token, login

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
CODE = "2025-2026"
LAZIO, ROMA, ROMA_PROVINCE = "12", "058091", "058"
CSRF_VALUE = re.compile(rb'(name="csrf_token"[^>]*?value=")[^"]*(")')


def _courses(app, tmp_path, count: int = 2):
    root = tmp_path / "courses"
    for n in range(count):
        write_course(root, f"corso-{n}", attempts=3)
    import_courses(app, root)
    return root


def _ids(code_region: str = LAZIO) -> dict[str, int]:
    return {
        "lazio": db.session.scalar(select(Region.id).filter_by(code=code_region)),
        "lombardia": db.session.scalar(select(Region.id).filter_by(code="03")),
        "rm": db.session.scalar(select(Province.id).filter_by(code=ROMA_PROVINCE)),
        "roma": db.session.scalar(select(Comune.id).filter_by(istat_code=ROMA)),
        # A small comune, not eligible, as a comune coordinator's scope.
        "small": db.session.scalar(
            select(Comune.id).where(Comune.population < 1000).order_by(Comune.istat_code).limit(1)
        ),
    }


def _every_figure(cycle: Cycle) -> dict:
    """Every report function, for every scope kind, grouping and drill-down."""
    ids = _ids()
    scopes = {
        "national": Scope("national"),
        "lazio": Scope("region", region_id=ids["lazio"]),
        "roma": Scope("comune", comune_id=ids["roma"]),
        "small": Scope("comune", comune_id=ids["small"]),
    }
    drills = [
        (None, None),
        (ids["lazio"], None),
        (ids["lazio"], ids["rm"]),
        (None, ids["rm"]),
        (ids["lombardia"], None),
    ]
    figures: dict = {}
    for name, scope in scopes.items():
        figures[name, "summary"] = figures_service.summary(cycle, scope, now=NOW)
        figures[name, "months"] = figures_service.completions_by_month(cycle, scope)
        for region_id, province_id in drills:
            where = {"region_id": region_id, "province_id": province_id}
            for group_by in facts_service.GROUP_BY:
                figures[name, group_by, region_id, province_id] = figures_service.completion_report(
                    cycle, scope, group_by, now=NOW, **where
                )
            figures[name, "coverage", region_id, province_id] = coverage_service.coverage(
                cycle, scope, **where
            )
            for sort in coverage_service.SORTS:
                query = coverage_service.unreached_query(cycle, scope, sort=sort, **where)
                figures[name, "unreached", sort, region_id, province_id] = [
                    comune.id for comune, _p, _r in db.session.execute(query)
                ]
    return figures


def test_snapshot_figures_equal_the_live_figures_of_the_closing_moment(app, tmp_path):
    _courses(app, tmp_path, count=3)
    with app.app_context():
        cycle = current_cycle()
        seed_synthetic(3_000, seed=11, cycle=cycle, now=NOW)
        live = _every_figure(cycle)
        assert live["national", "summary"].enrolled == 3_000
        assert live["national", "summary"].active > 0
        assert live["lazio", "summary"].completions > 0
        assert live["roma", "coverage", None, None].eligible == 1

        close_cycle(cycle, None, now=NOW)
        db.session.commit()

    with app.app_context():
        cycle = cycle_by_code(CODE)
        assert cycle.closed_at == NOW and not cycle.is_current
        # Drift the live tables: none of it may reach the closed cycle's reports.
        user = db.session.scalar(select(User).where(User.role == "operator").limit(1))
        enrolled = select(Enrolment.course_id).where(Enrolment.user_id == user.id)
        other = db.session.scalar(select(Course.id).where(Course.id.not_in(enrolled)).limit(1))
        if other is not None:
            db.session.add(Enrolment(user_id=user.id, course_id=other, cycle_id=cycle.id))
        db.session.execute(text("UPDATE enrolment SET last_activity_at = NULL"))
        db.session.execute(text("UPDATE comune SET population = 100 WHERE population > 100000"))
        tallies.rebuild()  # the live tallies drift with the facts
        db.session.commit()
        frozen = _every_figure(cycle)
    for key, value in live.items():
        if key[1] == "unreached":
            continue  # the rows are the registry's comuni, sorted by the registry (below)
        assert frozen[key] == value, key
    for key, value in live.items():
        if key[1] == "unreached":
            assert sorted(frozen[key]) == sorted(value), key


def test_closed_cycle_records_can_no_longer_change(app, tmp_path, make_user):
    _courses(app, tmp_path, count=1)
    operator = make_user("operator")
    with app.app_context():
        from lgnetforma.services.coordination import bulk_check
        from lgnetforma.services.coordination.enrolment import enrol_operator
        from lgnetforma.services.learning import attempts as attempts_service
        from lgnetforma.services.learning import enrolment as enrolment_service
        from lgnetforma.services.learning import views

        cycle = current_cycle()
        user = db.session.get(User, operator["id"])
        course = db.session.scalar(select(Course))
        enrolment = enrolment_service.enrol(user, course, cycle)
        quiz_module = next(m for m in course.active_modules if m.current_version.quiz)
        attempt = attempts_service.start_attempt(user, quiz_module, cycle)
        db.session.commit()
        admin = db.session.get(User, make_user("admin")["id"])
        close_cycle(cycle, admin, now=NOW)
        db.session.commit()
        snapshot = db.session.scalar(select(CycleSnapshot))
        assert snapshot.created_by_id == admin.id and snapshot.format_version == 1

        other = db.session.get(User, make_user("operator")["id"])
        for refused in (
            lambda: enrolment_service.enrol(other, course, cycle),
            lambda: attempts_service.start_attempt(user, quiz_module, cycle),
            lambda: attempts_service.submit_attempt(attempt, {1: "2", 2: ["1", "2"], 3: "2025"}),
            lambda: enrol_operator(
                email=other.email, course=course, cycle=cycle, scope=Scope("national"), actor=admin
            ),
            lambda: bulk_check.preview(
                "nome;email;comune;corsi\nA B;a@example.it;058091;corso-0\n",
                scope=Scope("national"),
                cycle=cycle,
            ),
        ):
            with pytest.raises(ServiceError, match="chiuso"):
                refused()
            db.session.rollback()
        reading = course.active_modules[0]
        views.record_view(user, reading, reading.current_version, cycle, enrolment)
        db.session.commit()
        assert db.session.scalar(select(func.count(ModuleView.id))) == 0
        assert db.session.scalar(select(func.count(Enrolment.id))) == 1
        assert db.session.get(QuizAttempt, attempt.id).submitted_at is None
        with pytest.raises(ServiceError, match="già chiuso"):
            close_cycle(cycle, admin)


def _mask(body: bytes) -> bytes:
    return CSRF_VALUE.sub(rb"\1\2", body) if b"<html" in body else body


def _capture(clients: dict, paths: list[str], api: dict, api_paths: list[str]) -> dict:
    captured = {}
    for who, client in clients.items():
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (who, path, response.status_code)
            captured[who, path] = _mask(response.get_data())
    for who, (client, token) in api.items():
        for path in api_paths:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, (who, path, response.get_data(as_text=True))
            captured[who, path] = response.get_data()
    return captured


def test_reports_of_a_closed_cycle_stay_byte_identical(app, client, make_user, runner, tmp_path):
    root = _courses(app, tmp_path)
    with app.app_context():
        seed_synthetic(400, seed=5, cycle=current_cycle(), now=NOW)

    # Two operators of Roma through HTTP: one completes the course (and will delete their
    # account), the other leaves a quiz attempt open (and will try to submit it).
    completer, waiting = make_user("operator"), make_user("operator")
    operators = {}
    for user in (completer, waiting):
        operators[user["id"]] = app.test_client()
        login(operators[user["id"]], user)
        browser = operators[user["id"]]
        token = csrf_token(browser)
        assert browser.post("/corsi/corso-0/iscrizione", data={"csrf_token": token}).status_code
        assert browser.get("/corsi/corso-0/lettura").status_code == 200
        html = browser.get("/corsi/corso-0/questionario/questionario").get_data(as_text=True)
        public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
        if user is completer:
            browser.post(f"/tentativi/{public_id}", data={**CORRECT, "csrf_token": token})
        else:
            open_attempt = public_id

    admin, coordinator = make_user("admin"), make_user("coordinator", region=LAZIO)
    clients = {"admin": client, "lazio": app.test_client()}
    for who, user in (("admin", admin), ("lazio", coordinator)):
        login(clients[who], user)
        clients[who].get("/")  # shows (and so consumes) the welcome message
    api = {}
    from lgnetforma.services.people.tokens import create_token

    with app.app_context():
        for who, user in (("admin", admin), ("lazio", coordinator)):
            _token, plaintext = create_token(db.session.get(User, user["id"]), "test")
            api[who] = (app.test_client(), plaintext)
        db.session.commit()

    result = runner.invoke(args=["cycles", "close", CODE])
    assert result.exit_code == 0, result.output
    assert f"Ciclo {CODE} chiuso" in result.output

    query = f"?ciclo={CODE}"
    paths = [
        f"/coordinamento/monitoraggio{query}",
        f"/coordinamento/monitoraggio{query}&regione={LAZIO}",
        f"/coordinamento/monitoraggio{query}&provincia={ROMA_PROVINCE}",
        f"/coordinamento/copertura{query}",
        f"/coordinamento/copertura{query}&ordine=name&page=2",
        *(f"/coordinamento/esporta/{name}.csv{query}" for name in ("territori", "corsi", "mesi")),
        f"/coordinamento/esporta/copertura.csv{query}",
        f"/coordinamento/esporta/territori.csv{query}&regione={LAZIO}",
    ]
    api_paths = [
        *(
            f"/api/v1/reports/completion?cycle={CODE}&group_by={g}"
            for g in ("region", "province", "comune", "course")
        ),
        f"/api/v1/reports/completion?cycle={CODE}&group_by=comune&region={LAZIO}",
        f"/api/v1/reports/coverage?cycle={CODE}",
    ]
    before = _capture(clients, paths, api, api_paths)
    courses_csv = f"/coordinamento/esporta/corsi.csv{query}"
    assert "corso-0" in before["admin", courses_csv].decode("utf-8-sig")

    # New activity: refused.
    late = make_user("operator")
    browser = app.test_client()
    login(browser, late)
    response = browser.post(
        "/corsi/corso-1/iscrizione",
        data={"csrf_token": csrf_token(browser)},
        follow_redirects=True,
    )
    assert "Nessun ciclo formativo è aperto" in response.get_data(as_text=True)
    browser = operators[waiting["id"]]
    response = browser.post(
        f"/tentativi/{open_attempt}", data={**CORRECT, "csrf_token": csrf_token(browser)}
    )
    assert response.status_code == 400
    assert f"Il ciclo formativo {CODE} è chiuso" in response.get_data(as_text=True)
    # Content edits: a new version of the course with another title.
    course_md = root / "corso-0" / "course.md"
    course_md.write_text(
        course_md.read_text().replace("Corso di prova sull'accoglienza", "Titolo nuovo"),
        encoding="utf-8",
    )
    import_courses(app, root)
    # Account deletions, and drift written behind the application's back.
    from lgnetforma.services.people.personal_data import delete_account

    with app.app_context():
        assert db.session.scalar(select(func.count(CourseVersion.id))) == 3
        assert (
            db.session.scalar(
                select(CourseVersion.title)
                .join(Course, Course.current_version_id == CourseVersion.id)
                .where(Course.slug == "corso-0")
            )
            == "Titolo nuovo"
        )
        delete_account(db.session.get(User, completer["id"]))
        for user in db.session.scalars(select(User).where(User.role == "operator").limit(50)):
            delete_account(user)
        db.session.execute(text("UPDATE enrolment SET last_activity_at = NULL"))
        db.session.execute(text("UPDATE user_account SET comune_id = NULL WHERE id % 3 = 0"))
        tallies.rebuild()  # the live tallies drift with the facts
        db.session.commit()

    after = _capture(clients, paths, api, api_paths)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key
    assert "Titolo nuovo" not in after["admin", courses_csv].decode("utf-8-sig")


def test_opening_a_new_cycle_with_its_own_threshold(app, client, runner, make_user):
    with app.app_context():
        close_cycle(current_cycle(), None)
        db.session.commit()
    result = runner.invoke(
        args=[
            "cycles",
            "open",
            "2027-2028",
            "--start",
            "2027-01-01",
            "--end",
            "2028-12-31",
            "--threshold",
            "10000",
            "--current",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        cycle = current_cycle()
        expected = db.session.scalar(
            select(func.count(Comune.id)).where(Comune.population > 10_000)
        )
        assert cycle.code == "2027-2028" and cycle.population_threshold == 10_000
        assert 0 < count_eligible_comuni(cycle) == expected < 2366
        assert coverage_service.coverage(cycle, Scope("national")).eligible == expected
        assert coverage_service.coverage(cycle_by_code(CODE), Scope("national")).eligible == 2366
        middle = db.session.scalar(
            select(Comune).where(Comune.population.between(6_000, 9_000)).limit(1)
        )
        from lgnetforma.services.people.accounts import check_comune_eligible

        with pytest.raises(ServiceError, match="più di 10.000 abitanti"):
            check_comune_eligible(middle, cycle)
        check_comune_eligible(middle, cycle_by_code(CODE))
    assert f"{expected:,}".replace(",", ".") in result.output or str(expected) in result.output
    home = client.get("/").get_data(as_text=True)
    assert "Il ciclo 2027-2028" in home and "più di 10.000 abitanti" in home
    assert "10.000" in client.get("/registrazione").get_data(as_text=True)

    listing = runner.invoke(args=["cycles", "list"]).output
    assert "2025-2026" in listing and "chiuso, dati congelati il" in listing
    assert "2027-2028" in listing and "aperto, corrente" in listing


def _cycles_state() -> list[tuple]:
    rows = db.session.execute(select(Cycle).order_by(Cycle.id)).scalars()
    state = [
        (c.code, c.start_date, c.end_date, c.population_threshold, c.is_current, c.closed_at)
        for c in rows
    ]
    return [*state, db.session.scalar(select(func.count(CycleSnapshot.id)))]


OPEN = ["cycles", "open"]
BAD_COMMANDS = [
    (["cycles", "close", "2030-2031"], "nessun ciclo '2030-2031'"),
    (
        [*OPEN, "2027/2028", "--start", "2027-01-01", "--end", "2028-12-31", "--threshold", "5"],
        "forma AAAA-AAAA",
    ),
    (
        [*OPEN, "2028-2027", "--start", "2027-01-01", "--end", "2028-12-31", "--threshold", "5"],
        "il secondo anno deve seguire il primo",
    ),
    (
        [*OPEN, "2025-2026", "--start", "2025-01-01", "--end", "2026-12-31", "--threshold", "5"],
        "Esiste già un ciclo 2025-2026",
    ),
    ([*OPEN, "2027-2028", "--end", "2028-12-31", "--threshold", "5"], "--start: indica la data"),
    (
        [*OPEN, "2027-2028", "--start", "2027-13-01", "--end", "2028-12-31", "--threshold", "5"],
        "--start: '2027-13-01' non è una data valida",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2027-01-01", "--end", "ieri", "--threshold", "5"],
        "--end: 'ieri' non è una data valida",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2028-12-31", "--end", "2028-01-01", "--threshold", "5"],
        "--end: La data di fine deve essere successiva",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2026-06-01", "--end", "2028-12-31", "--threshold", "5"],
        "--start: Il ciclo 2027-2028 deve iniziare nel 2027",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2027-01-01", "--end", "2029-01-31", "--threshold", "5"],
        "--end: Il ciclo 2027-2028 deve finire nel 2028",
    ),
    (
        [*OPEN, "2026-2027", "--start", "2026-06-01", "--end", "2027-12-31", "--threshold", "5"],
        "si sovrappongono al ciclo 2025-2026",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2027-01-01", "--end", "2028-12-31", "--threshold", "-5"],
        "--threshold: indica un numero intero",
    ),
    (
        [
            *OPEN,
            "2027-2028",
            "--start",
            "2027-01-01",
            "--end",
            "2028-12-31",
            "--threshold",
            "molti",
        ],
        "--threshold: indica un numero intero",
    ),
    (
        [*OPEN, "2027-2028", "--start", "2027-01-01", "--end", "2028-12-31"],
        "--threshold: indica un numero intero",
    ),
]


def test_bad_commands_are_refused_and_change_nothing(app, runner):
    with app.app_context():
        before = _cycles_state()
    for args, message in BAD_COMMANDS:
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "Errore: " in result.output and message in result.output, (args, result.output)
        with app.app_context():
            assert _cycles_state() == before, args
    assert runner.invoke(args=["cycles", "close", CODE]).exit_code == 0
    with app.app_context():
        before = _cycles_state()
    result = runner.invoke(args=["cycles", "close", CODE])
    assert result.exit_code == 1 and f"Il ciclo {CODE} è già chiuso" in result.output
    with app.app_context():
        assert _cycles_state() == before


def test_open_cycle_validates_the_threshold(app):
    with app.app_context():
        for threshold in (-1, 2.5, True, None):
            with pytest.raises(ServiceError, match="numero intero") as raised:
                open_cycle("2027-2028", date(2027, 1, 1), date(2028, 12, 31), threshold)
            assert raised.value.field == "threshold"
        cycle = open_cycle("2027-2028", date(2027, 1, 1), date(2028, 12, 31), 0)
        assert not cycle.is_current and current_cycle().code == CODE


def test_admin_pages_close_and_open_cycles(app, client, login_as):
    admin = login_as("admin")
    page = client.get("/admin/cicli").get_data(as_text=True)
    assert CODE in page and "Aperto, corrente" in page and "Apri un nuovo ciclo" in page
    token = csrf_token(client, "/admin/cicli")

    response = client.post(f"/admin/cicli/{CODE}/chiudi", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Spunta la casella per confermare la chiusura." in response.get_data(as_text=True)
    with app.app_context():
        assert cycle_by_code(CODE).closed_at is None
    assert (
        client.post("/admin/cicli/1999-2000/chiudi", data={"csrf_token": token}).status_code == 404
    )

    confirm = {"csrf_token": token, f"chiudi-{CODE}-confirm": "y"}
    response = client.post(f"/admin/cicli/{CODE}/chiudi", data=confirm, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and f"Ciclo {CODE} chiuso" in html
    assert "Nessun ciclo è corrente" in html and "Chiuso" in html
    with app.app_context():
        snapshot = db.session.scalar(select(CycleSnapshot))
        assert snapshot.created_by_id == admin["id"]
        assert cycle_by_code(CODE).closed_at is not None
    response = client.post(f"/admin/cicli/{CODE}/chiudi", data=confirm, follow_redirects=True)
    assert f"Il ciclo {CODE} è già chiuso" in response.get_data(as_text=True)

    good = {
        "csrf_token": token,
        "code": "2027-2028",
        "start_date": "2027-01-01",
        "end_date": "2028-12-31",
        "threshold": "10000",
        "make_current": "y",
    }
    bad_forms = [
        ({"code": "2027"}, "forma AAAA-AAAA"),
        ({"code": ""}, "Questo campo è obbligatorio."),
        ({"end_date": ""}, "Ultimo giorno: Questo campo è obbligatorio."),
        ({"end_date": "2028-02-30"}, "Ultimo giorno: Scrivi una data esistente"),
        ({"start_date": "01/01/2027"}, "Primo giorno: Scrivi una data esistente nella forma"),
        ({"end_date": "2026-12-31", "start_date": "2027-06-01"}, "successiva alla data di inizio"),
        (
            {"code": "2026-2027", "start_date": "2026-06-01", "end_date": "2027-12-31"},
            "si sovrappongono al ciclo 2025-2026",
        ),
        ({"threshold": "-1"}, "maggiore o uguale a zero"),
        ({"threshold": "diecimila"}, "Scrivi un numero intero, senza punti"),
        ({"code": CODE, "start_date": "2025-01-01", "end_date": "2026-12-31"}, "Esiste già"),
    ]
    with app.app_context():
        before = _cycles_state()
    for change, message in bad_forms:
        response = client.post("/admin/cicli/nuovo", data={**good, **change})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, change
        assert "Il modulo contiene errori" in html and message in html, (change, html[-3000:])
        with app.app_context():
            assert _cycles_state() == before, change
    response = client.post("/admin/cicli/nuovo", data=good)
    assert response.status_code == 302
    with app.app_context():
        assert current_cycle().code == "2027-2028"
    assert "Aperto, corrente" in client.get("/admin/cicli").get_data(as_text=True)


def test_between_two_cycles_every_page_answers(app, make_user):
    """With no current cycle, no route fails: a clear message instead of an error."""
    from tests.test_access import ACCESS, ROLES, _url

    with app.app_context():
        close_cycle(current_cycle(), None)
        db.session.commit()
        with pytest.raises(NoCurrentCycle):
            current_cycle()

    anonymous = app.test_client()
    home = anonymous.get("/")
    assert home.status_code == 200
    assert "Nessun ciclo formativo è aperto in questo momento" in home.get_data(as_text=True)
    for path in ("/corsi", "/registrazione"):
        response = anonymous.get(path)
        assert response.status_code == 503, path
        assert "Nessun ciclo formativo è aperto" in response.get_data(as_text=True)

    for role in (None, *ROLES):
        client = app.test_client()
        if role:
            login(client, make_user(role))
        token = csrf_token(client)
        for rule in app.url_map.iter_rules():
            url = _url(app, rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if rule.endpoint == "auth.logout" and method == "POST":
                    continue
                data = {"csrf_token": token} if method == "POST" else None
                response = client.open(url, method=method, data=data)
                assert response.status_code < 500 or response.status_code == 503, (
                    method,
                    url,
                    role,
                )
                assert rule.endpoint in ACCESS

    coordinator = app.test_client()
    login(coordinator, make_user("coordinator"))
    with app.app_context():  # a later cycle, opened but not current yet
        open_cycle("2027-2028", date(2027, 1, 1), date(2028, 12, 31), 5000)
        db.session.commit()
    page = coordinator.get("/coordinamento/monitoraggio")
    assert page.status_code == 200  # the cycle closed last
    assert f"Monitoraggio del ciclo {CODE}" in page.get_data(as_text=True)

    from lgnetforma.services.people.tokens import create_token

    with app.app_context():
        user = db.session.get(User, make_user("admin")["id"])
        _token, plaintext = create_token(user, "test")
        db.session.commit()
    response = app.test_client().get(
        "/api/v1/courses", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert response.status_code == 503 and response.is_json
    assert "Nessun ciclo formativo è aperto" in response.get_json()["error"]["message"]


def test_closing_waits_for_changes_in_flight_and_then_refuses_them(
    app, backend, make_user, tmp_path
):
    """On PostgreSQL a change holds the cycle's lock shared until it commits; closing takes
    it exclusive: the snapshot sees the change, and later changes see the cycle closed."""
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; this race is checked on PostgreSQL")
    import threading

    from lgnetforma.services.learning import enrolment as enrolment_service

    _courses(app, tmp_path, count=1)
    first, second = make_user("operator"), make_user("operator")
    enrolled, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def enrol_slowly() -> None:
        with app.app_context():
            user, course = db.session.get(User, first["id"]), db.session.scalar(select(Course))
            enrolment_service.enrol(user, course, current_cycle())
            enrolled.set()
            release.wait(10)  # the transaction is still open: the lock is held
            db.session.commit()

    def close() -> None:
        with app.app_context():
            close_cycle(current_cycle(), None)
            db.session.commit()
            outcome["closed"] = True

    writer = threading.Thread(target=enrol_slowly)
    writer.start()
    assert enrolled.wait(10)
    closer = threading.Thread(target=close)
    closer.start()
    closer.join(1.0)
    assert closer.is_alive() and "closed" not in outcome  # waiting for the enrolment
    release.set()
    writer.join(10)
    closer.join(10)
    assert outcome == {"closed": True}
    with app.app_context():
        cycle = cycle_by_code(CODE)
        assert figures_service.summary(cycle, Scope("national")).enrolments == 1
        with pytest.raises(ServiceError, match="chiuso"):
            enrolment_service.enrol(
                db.session.get(User, second["id"]), db.session.scalar(select(Course)), cycle
            )
