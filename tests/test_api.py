"""The JSON API: tokens, every endpoint, every kind of error, scope, the same figures as the
reports, and the token lifecycle through the profile pages and the CLI."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import ApiToken, Comune, Province, Region, User
from lgnetforma.services.catalogue.listing import active_modules, catalogue, course_by_slug
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning.enrolment import enrol
from lgnetforma.services.learning.progress import my_courses
from lgnetforma.services.learning.views import record_view
from lgnetforma.services.people.personal_data import delete_account
from lgnetforma.services.people.tokens import authenticate_token, create_token, tokens_of
from lgnetforma.services.platform.cycles import (
    count_eligible_comuni,
    current_cycle,
    eligible_condition,
)
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import figures as figures_service
from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token

ROMA, FIUMICINO, MILANO = "058091", "058120", "015146"
LAZIO = "12"
TOKEN_RE = re.compile(r"lgf_[A-Za-z0-9_-]{43}")
SECURED = (
    "/courses",
    "/comuni",
    "/reports/completion",
    "/reports/coverage",
    "/operators/1/progress",
)


# --- helpers ---------------------------------------------------------------------------


def _token(app, user: dict, name: str = "prova") -> str:
    with app.app_context():
        _row, plaintext = create_token(db.session.get(User, user["id"]), name)
        db.session.commit()
        return plaintext


def _get(client, path: str, token: str | None = None, headers: dict | None = None, **params):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(f"/api/v1{path}", query_string=params, headers=headers)


def _error(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["status"] == status, body
    return body["error"]["message"]


def _user(user: dict) -> User:
    return db.session.get(User, user["id"])


@pytest.fixture
def course(app, tmp_path) -> str:
    import_courses(app, write_course(tmp_path / "courses", "corso-api", attempts=3).parent)
    return "corso-api"


@pytest.fixture
def dataset(app, course):
    """A course and 300 synthetic operators all over Italy."""
    with app.app_context():
        seed_synthetic(300, seed=3, cycle=current_cycle())
    return course


def _learn(app, operator: dict, slug: str, *, read: bool = True) -> None:
    """Enrol an operator and open the reading module (which completes it)."""
    with app.app_context():
        user, cycle = _user(operator), current_cycle()
        course = course_by_slug(slug)
        enrolment = enrol(user, course, cycle)
        if read:
            module = active_modules(course)[0]
            record_view(user, module, module.current_version, cycle, enrolment)
        db.session.commit()


# --- tokens ----------------------------------------------------------------------------


def test_tokens_are_stored_as_sha256_only(app, make_user):
    user = make_user("operator")
    plaintext = _token(app, user, "script")
    assert TOKEN_RE.fullmatch(plaintext)
    with app.app_context():
        (row,) = tokens_of(_user(user))
        assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert row.prefix == plaintext[:12] and row.name == "script"
        assert plaintext not in (row.token_hash, row.prefix, row.name)
        assert authenticate_token(plaintext).id == user["id"]
        assert authenticate_token(plaintext[:-1] + "A") is None or plaintext.endswith("A")
        assert authenticate_token("") is None and authenticate_token("lgf_x" * 50) is None


def test_last_used_is_written_at_most_once_a_minute(app, make_user):
    user = make_user("operator")
    plaintext = _token(app, user)
    with app.app_context():
        assert authenticate_token(plaintext) is not None
        db.session.commit()
        first = tokens_of(_user(user))[0].last_used_at
        assert first is not None
        authenticate_token(plaintext)
        assert not db.session.dirty  # a second use within the minute writes nothing
        token = tokens_of(_user(user))[0]
        token.last_used_at = first - timedelta(minutes=2)
        db.session.commit()
        authenticate_token(plaintext)
        db.session.commit()
        assert tokens_of(_user(user))[0].last_used_at > first - timedelta(seconds=1)


def test_every_missing_or_bad_credential_is_a_401_json_with_a_bearer_challenge(
    app, client, make_user
):
    user = make_user("admin")
    good = _token(app, user)
    revoked = _token(app, user, "revocato")
    with app.app_context():
        row = next(t for t in tokens_of(_user(user)) if t.name == "revocato")
        row.revoked_at = row.created_at
        db.session.commit()
    for path in SECURED:
        message = _error(_get(client, path), 401)
        assert "Authorization: Bearer" in message
        response = _get(client, path, headers={"Authorization": f"Basic {good}"})
        assert "Authorization" in _error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for bad in ("lgf_nonesiste", good + "x", revoked, "Bearer"):
            response = _get(client, path, token=bad)
            assert "non valido o revocato" in _error(response, 401), (path, bad)
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert _get(client, path, token=good).status_code in (200, 404), path


def test_closed_accounts_lose_api_access(app, client, make_user):
    deactivated, deleted = make_user("operator"), make_user("operator")
    tokens = {"deactivated": _token(app, deactivated), "deleted": _token(app, deleted)}
    for token in tokens.values():
        assert _get(client, "/courses", token=token).status_code == 200
    with app.app_context():
        _user(deactivated).is_active_account = False
        delete_account(_user(deleted))
        db.session.commit()
    for token in tokens.values():
        _error(_get(client, "/courses", token=token), 401)


def test_a_logged_in_browser_without_a_token_gets_401(client, login_as):
    login_as("admin")
    assert client.get("/profilo").status_code == 200
    for path in SECURED:
        _error(_get(client, path), 401)


def test_api_answers_set_no_cookie_and_are_not_cached(app, client, make_user):
    token = _token(app, make_user("operator"))
    response = _get(client, "/courses", token=token)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "no-store" in response.headers["Cache-Control"]


# --- documents and routing errors ------------------------------------------------------


def test_openapi_document_is_public_and_lists_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    document = response.get_json()
    documented = set(document["paths"])
    routes = {
        re.sub(r"<(?:[^>]*:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    assert routes == documented
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert document["paths"]["/openapi.json"]["get"]["security"] == []


def test_unknown_routes_and_methods_answer_json(app, client, make_user):
    token = _token(app, make_user("operator"))
    assert "openapi.json" in _error(_get(client, "/nessuna-risorsa", token=token), 404)
    _error(client.get("/api/v1/operators/abc/progress"), 404)
    _error(client.get("/api/v1/operators/99999999999999/progress"), 404)  # beyond an int4
    response = client.post("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert "Metodo non consentito" in _error(response, 405)
    assert "GET" in response.headers["Allow"]
    _error(client.delete("/api/v1/reports/completion"), 405)


def test_between_two_cycles_the_api_says_so_in_json(app, client, make_user):
    token = _token(app, make_user("admin"))
    with app.app_context():
        current_cycle().is_current = False
        db.session.commit()
    for path in ("/courses", "/comuni", "/reports/completion", "/reports/coverage"):
        assert "Nessun ciclo formativo" in _error(_get(client, path, token=token), 503)
    assert _get(client, "/comuni", token=token, cycle="2025-2026").status_code == 200


# --- catalogue -------------------------------------------------------------------------


def test_courses_lists_the_published_courses_of_the_current_cycle(app, client, make_user, course):
    token = _token(app, make_user("trainer"))
    body = _get(client, "/courses", token=token).get_json()
    with app.app_context():
        cycle = current_cycle()
        expected = catalogue(cycle)
    assert body["cycle"] == cycle.code
    assert [c["slug"] for c in body["courses"]] == [e.course.slug for e in expected] == [course]
    (item,) = body["courses"]
    assert item == {
        "slug": "corso-api",
        "title": "Corso di prova sull'accoglienza",
        "summary": "Un corso breve per i test.",
        "area": "Servizi per l'integrazione",
        "hours": 4,
        "modules": 2,
        "minutes": 240,
    }
    assert "parametro sconosciuto" in _error(_get(client, "/courses", token=token, x="1"), 400)


def test_comuni_filters_and_pages(app, client, make_user):
    token = _token(app, make_user("operator"))
    with app.app_context():
        eligible = count_eligible_comuni(current_cycle())
        total = db.session.scalar(select(func.count(Comune.id)))
    body = _get(client, "/comuni", token=token, eligible="true", per_page=1).get_json()
    assert body["total"] == eligible == 2366
    assert _get(client, "/comuni", token=token, eligible="false").get_json()["total"] == (
        total - eligible
    )
    assert _get(client, "/comuni", token=token).get_json()["total"] == total

    lazio = _get(client, "/comuni", token=token, region=LAZIO, per_page=500).get_json()
    assert lazio["total"] > 300 and len(lazio["items"]) == min(lazio["total"], 500)
    assert {c["region"]["code"] for c in lazio["items"]} == {LAZIO}

    by_code = _get(client, "/comuni", token=token, province="058").get_json()
    by_abbreviation = _get(client, "/comuni", token=token, province="rm").get_json()
    assert by_code == by_abbreviation and by_code["total"] > 100
    assert {c["province"]["abbreviation"] for c in by_code["items"]} == {"RM"}

    roma = _get(client, "/comuni", token=token, q="roma", province="RM").get_json()
    assert roma["items"][0] == {
        "istat_code": ROMA,
        "name": "Roma",
        "province": {"code": "058", "abbreviation": "RM", "name": "Roma"},
        "region": {"code": LAZIO, "name": "Lazio"},
        "population": 2748109,
        "eligible": True,
    }
    assert _get(client, "/comuni", token=token, q="%").get_json()["total"] == 0  # literal

    page1 = _get(client, "/comuni", token=token, region=LAZIO, per_page=10).get_json()
    page2 = _get(client, "/comuni", token=token, region=LAZIO, per_page=10, page=2).get_json()
    assert (page1["page"], page2["page"], page2["per_page"]) == (1, 2, 10)
    assert len(page2["items"]) == 10
    assert not {c["istat_code"] for c in page1["items"]} & {c["istat_code"] for c in page2["items"]}
    far = _get(client, "/comuni", token=token, page=100000).get_json()
    assert far["items"] == [] and far["total"] == total


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"per_page": "501"}, "per_page: deve essere al massimo 500"),
        ({"per_page": "0"}, "per_page: deve essere almeno 1"),
        ({"page": "-1"}, "page: '-1' non è un numero intero positivo"),
        ({"page": "1.5"}, "page: '1.5' non è un numero intero positivo"),
        ({"eligible": "yes"}, "eligible: valore non ammesso 'yes' (ammessi: true, false)"),
        ({"region": "lazio"}, "region: formato non valido 'lazio'"),
        ({"province": "R"}, "province: formato non valido 'R'"),
        ({"q": "x" * 101}, "q: al massimo 100 caratteri"),
        ({"q": "Ro\x00ma"}, "q: formato non valido 'Ro\\x00ma'"),
        ({"region": ""}, "region: valore vuoto"),
        ({"cycle": "2025"}, "cycle: formato non valido '2025'"),
        ({"regione": "12"}, "regione: parametro sconosciuto"),
    ],
)
def test_comuni_bad_parameters_are_400_naming_the_parameter(
    app, client, make_user, params, expected
):
    token = _token(app, make_user("operator"))
    assert expected in _error(_get(client, "/comuni", token=token, **params), 400)


def test_repeated_parameters_and_unknown_territories(app, client, make_user):
    token = _token(app, make_user("operator"))
    response = client.get(
        "/api/v1/comuni?page=1&page=2", headers={"Authorization": f"Bearer {token}"}
    )
    assert "page: indicato più di una volta" in _error(response, 400)
    assert "nessuna regione" in _error(_get(client, "/comuni", token=token, region="99"), 404)
    assert "nessuna provincia" in _error(_get(client, "/comuni", token=token, province="ZZ"), 404)
    message = _error(_get(client, "/comuni", token=token, region="03", province="RM"), 404)
    assert message == "province: la provincia RM non è nella regione 03."
    assert "nessun ciclo" in _error(_get(client, "/comuni", token=token, cycle="2030-2031"), 404)


# --- reports ---------------------------------------------------------------------------


@pytest.mark.parametrize("group_by", ["region", "province", "comune", "course"])
def test_completion_report_is_exactly_the_report_function(
    app, client, make_user, dataset, group_by
):
    admin = make_user("admin")
    token = _token(app, admin)
    body = _get(client, "/reports/completion", token=token, group_by=group_by).get_json()
    with app.app_context():
        cycle, scope = current_cycle(), Scope.of(_user(admin))
        rows = [r.as_dict() for r in figures_service.completion_report(cycle, scope, group_by)]
        summary = figures_service.summary(cycle, scope).as_dict()
    assert body["rows"] == rows and rows
    assert body["summary"] == summary and summary["enrolled"] == 300
    assert body["cycle"] == "2025-2026" and body["group_by"] == group_by
    assert body["scope"] == {"kind": "national", "region": None, "comune": None}
    assert (body["region"], body["province"]) == (None, None)


def test_completion_report_drill_down_matches_the_report_function(app, client, make_user, dataset):
    admin = make_user("admin")
    token = _token(app, admin)
    with app.app_context():
        cycle, scope = current_cycle(), Scope.of(_user(admin))
        lazio = db.session.scalar(select(Region).filter_by(code=LAZIO))
        rm = db.session.scalar(select(Province).filter_by(abbreviation="RM"))
        provinces = figures_service.completion_report(cycle, scope, "province", region_id=lazio.id)
        comuni = figures_service.completion_report(
            cycle, scope, "comune", region_id=lazio.id, province_id=rm.id
        )
        courses = figures_service.completion_report(cycle, scope, "course", region_id=lazio.id)
        region_row = next(
            r for r in figures_service.completion_report(cycle, scope, "region") if r.key == LAZIO
        )
    get = lambda **p: _get(client, "/reports/completion", token=token, **p).get_json()  # noqa: E731
    assert get(group_by="province", region=LAZIO)["rows"] == [r.as_dict() for r in provinces]
    assert get(group_by="comune", province="058")["rows"] == [r.as_dict() for r in comuni]
    assert get(group_by="course", region=LAZIO)["rows"] == [r.as_dict() for r in courses]
    # Grouping by region inside a region: that region's row, not 19 misleading zero rows.
    assert get(group_by="region", region=LAZIO)["rows"] == [region_row.as_dict()]
    body = get(group_by="province", province="RM")
    assert [r["key"] for r in body["rows"]] == ["RM"] and body["province"] == "058"


def test_report_parameter_errors(app, client, make_user):
    token = _token(app, make_user("admin"))
    message = _error(_get(client, "/reports/completion", token=token, group_by="x"), 400)
    assert message == "group_by: valore non ammesso 'x' (ammessi: region, province, comune, course)"
    message = _error(_get(client, "/reports/coverage", token=token, cycle="2030-2031"), 404)
    assert message == "cycle: nessun ciclo formativo 2030-2031."
    _error(_get(client, "/reports/completion", token=token, cycle="2030-2031"), 404)
    _error(_get(client, "/reports/coverage", token=token, cycle="ieri"), 400)
    _error(_get(client, "/reports/coverage", token=token, group_by="region"), 400)


@pytest.mark.parametrize("role", ["operator", "trainer"])
def test_reports_are_for_coordinators_and_admins_only(app, client, make_user, role):
    token = _token(app, make_user(role))
    for path in ("/reports/completion", "/reports/coverage"):
        message = _error(_get(client, path, token=token), 403)
        assert "coordinatori" in message


def test_coverage_is_exactly_the_report_function(app, client, make_user, dataset):
    admin = make_user("admin")
    token = _token(app, admin)
    with app.app_context():
        cycle, scope = current_cycle(), Scope.of(_user(admin))
        national = coverage_service.coverage(cycle, scope).as_dict()
        lazio = db.session.scalar(select(Region).filter_by(code=LAZIO))
        regional = coverage_service.coverage(cycle, scope, region_id=lazio.id).as_dict()
    body = _get(client, "/reports/coverage", token=token).get_json()
    assert body["coverage"] == national and national["eligible_comuni"] == 2366
    body = _get(client, "/reports/coverage", token=token, region=LAZIO).get_json()
    assert body["coverage"] == regional and body["region"] == LAZIO


# --- scope -----------------------------------------------------------------------------


def test_a_lazio_coordinator_sees_nothing_of_other_regions(app, client, make_user, dataset):
    coordinator = make_user("coordinator", region=LAZIO)
    token = _token(app, coordinator)
    milanese, roman = make_user("operator", comune=MILANO), make_user("operator", comune=ROMA)
    _learn(app, milanese, dataset)
    _learn(app, roman, dataset)
    with app.app_context():
        cycle, scope = current_cycle(), Scope.of(_user(coordinator))
        lazio_provinces = set(
            db.session.scalars(
                select(Province.abbreviation).join(Region).where(Region.code == LAZIO)
            )
        )
        lazio_comuni = set(
            db.session.scalars(select(Comune.istat_code).join(Region).where(Region.code == LAZIO))
        )
        lazio_eligible = db.session.scalar(
            select(func.count(Comune.id))
            .join(Region)
            .where(Region.code == LAZIO, eligible_condition(cycle))
        )
        expected = {
            g: [r.as_dict() for r in figures_service.completion_report(cycle, scope, g)]
            for g in ("region", "province", "comune", "course")
        }
        summary = figures_service.summary(cycle, scope).as_dict()
        national = figures_service.summary(cycle, Scope("national")).as_dict()

    def rows(group_by: str) -> list[dict]:
        body = _get(client, "/reports/completion", token=token, group_by=group_by).get_json()
        assert body["scope"] == {"kind": "region", "region": LAZIO, "comune": None}
        assert body["summary"] == summary
        assert body["rows"] == expected[group_by]
        return body["rows"]

    assert [r["key"] for r in rows("region")] == [LAZIO]
    assert {r["key"] for r in rows("province")} == lazio_provinces
    comuni_rows = rows("comune")
    assert comuni_rows and {r["key"] for r in comuni_rows} <= lazio_comuni
    assert sum(r["enrolments"] for r in rows("course")) == summary["enrolments"]
    assert 0 < summary["enrolled"] < national["enrolled"]

    coverage = _get(client, "/reports/coverage", token=token).get_json()["coverage"]
    assert coverage["eligible_comuni"] == lazio_eligible < 2366
    for params in ({"region": "03"}, {"province": "MI"}, {"province": "015"}):
        for path in ("/reports/completion", "/reports/coverage", "/comuni"):
            assert "ambito" in _error(_get(client, path, token=token, **params), 404)

    listed = _get(client, "/comuni", token=token, per_page=500).get_json()
    assert listed["total"] == len(lazio_comuni)
    assert {c["region"]["code"] for c in listed["items"]} == {LAZIO}
    assert _get(client, "/comuni", token=token, q="Milano").get_json()["total"] == 0

    _error(_get(client, f"/operators/{milanese['id']}/progress", token=token), 404)
    progress = _get(client, f"/operators/{roman['id']}/progress", token=token)
    assert progress.status_code == 200


def test_a_roma_referent_sees_only_roma(app, client, make_user, dataset):
    referent = make_user("coordinator", scope_comune=ROMA)
    token = _token(app, referent)
    roman = make_user("operator", comune=ROMA)
    neighbour = make_user("operator", comune=FIUMICINO)
    _learn(app, roman, dataset)
    _learn(app, neighbour, dataset)
    with app.app_context():
        cycle, scope = current_cycle(), Scope.of(_user(referent))
        expected = {
            g: [r.as_dict() for r in figures_service.completion_report(cycle, scope, g)]
            for g in ("region", "province", "comune", "course")
        }
        summary = figures_service.summary(cycle, scope).as_dict()
    for group_by, rows in expected.items():
        body = _get(client, "/reports/completion", token=token, group_by=group_by).get_json()
        assert body["rows"] == rows and body["summary"] == summary
        assert body["scope"] == {"kind": "comune", "region": LAZIO, "comune": ROMA}
    assert [r["key"] for r in expected["comune"]] == [ROMA]
    assert [r["key"] for r in expected["province"]] == ["RM"]
    roma_row = expected["comune"][0]
    assert expected["province"][0] == {**roma_row, "key": "RM", "name": "Roma"}

    coverage = _get(client, "/reports/coverage", token=token).get_json()["coverage"]
    assert coverage["eligible_comuni"] == 1 and coverage["reached_comuni"] == 1

    listed = _get(client, "/comuni", token=token).get_json()
    assert [c["istat_code"] for c in listed["items"]] == [ROMA] and listed["total"] == 1
    assert _get(client, "/comuni", token=token, q="Fiumicino").get_json()["total"] == 0

    assert _get(client, f"/operators/{roman['id']}/progress", token=token).status_code == 200
    _error(_get(client, f"/operators/{neighbour['id']}/progress", token=token), 404)


# --- one operator's progress -----------------------------------------------------------


def test_operator_progress_access_rules_and_figures(app, client, make_user, course):
    operator = make_user("operator", comune=ROMA)
    colleague = make_user("operator", comune=ROMA)
    _learn(app, operator, course)
    path = f"/operators/{operator['id']}/progress"

    body = _get(client, path, token=_token(app, operator)).get_json()
    with app.app_context():
        (expected,) = my_courses(_user(operator), current_cycle())
    assert body["user"] == {
        "id": operator["id"],
        "full_name": "Operator 1",
        "comune": {"istat_code": ROMA, "name": "Roma"},
    }
    assert body["cycle"] == "2025-2026"
    assert body["courses"] == [
        {
            "slug": course,
            "title": "Corso di prova sull'accoglienza",
            "modules_done": expected.modules_done,
            "modules_total": expected.modules_total,
            "quizzes_passed": expected.quizzes_passed,
            "quizzes_total": expected.quizzes_total,
            "hours": 4,
            "completed_at": None,
        }
    ]
    assert (expected.modules_done, expected.modules_total, expected.quizzes_total) == (1, 2, 1)

    # Who may see it: themself, admins, coordinators covering Roma; nobody else.
    allowed = [make_user("admin"), make_user("coordinator"), make_user("coordinator", region="12")]
    refused = [
        colleague,
        make_user("trainer"),
        make_user("coordinator", region="03"),
        make_user("coordinator", scope_comune=FIUMICINO),
    ]
    for viewer in allowed:
        assert _get(client, path, token=_token(app, viewer)).get_json() == body, viewer
    for viewer in refused:
        _error(_get(client, path, token=_token(app, viewer)), 404)

    admin_token = _token(app, allowed[0])
    _error(_get(client, f"/operators/{allowed[1]['id']}/progress", token=admin_token), 404)
    _error(_get(client, "/operators/999999/progress", token=admin_token), 404)
    _error(_get(client, path, token=admin_token, cycle="2030-2031"), 404)
    _error(_get(client, path, token=admin_token, cycle="x"), 400)
    with app.app_context():
        delete_account(_user(operator))
        db.session.commit()
    _error(_get(client, path, token=admin_token), 404)


# --- the profile page ------------------------------------------------------------------


def test_token_lifecycle_through_the_profile(app, client, login_as, make_user):
    user = login_as("coordinator", region=LAZIO)
    html = client.get("/profilo").get_data(as_text=True)
    assert "Non hai ancora creato token." in html and "<caption>" in html
    assert 'for="token-name"' in html and 'id="token-name"' in html

    response = client.post(
        "/profilo/token", data={"token-name": "", "token-csrf_token": csrf_token(client)}
    )
    assert response.status_code == 400
    assert "Questo campo è obbligatorio" in response.get_data(as_text=True)

    response = client.post(
        "/profilo/token",
        data={"token-name": "Foglio di monitoraggio", "token-csrf_token": csrf_token(client)},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    (plaintext,) = set(TOKEN_RE.findall(html))
    assert "Copia adesso il nuovo token" in html
    assert 'value="Foglio di monitoraggio"' not in html  # the name field starts empty again
    assert 'action="/profilo"' in html  # the password form still posts to the profile

    html = client.get("/profilo").get_data(as_text=True)
    assert plaintext not in html  # shown once only
    assert plaintext[:12] in html and "Foglio di monitoraggio" in html and "mai" in html

    assert _get(client, "/reports/coverage", token=plaintext).status_code == 200
    html = client.get("/profilo").get_data(as_text=True)
    assert "mai" not in html.split("Foglio di monitoraggio")[1].split("</tr>")[0]

    with app.app_context():
        (row,) = tokens_of(_user(user))
        token_id = row.id
    other = make_user("operator")
    other_token = _token(app, other)
    with app.app_context():
        other_id = tokens_of(_user(other))[0].id
    response = client.post(
        f"/profilo/token/{other_id}/revoca", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 404
    assert _get(client, "/courses", token=other_token).status_code == 200

    response = client.post(
        f"/profilo/token/{token_id}/revoca",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "revocato" in html and "Revocato il" in html
    _error(_get(client, "/reports/coverage", token=plaintext), 401)
    response = client.post(
        f"/profilo/token/{token_id}/revoca",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert "era già revocato" in response.get_data(as_text=True)

    response = client.post(f"/profilo/token/{token_id}/revoca")  # no CSRF token
    assert response.status_code == 400


def test_profile_refuses_more_than_twenty_active_tokens(app, client, login_as):
    user = login_as("operator")
    for n in range(20):
        _token(app, user, f"t{n}")
    response = client.post(
        "/profilo/token",
        data={"token-name": "uno di troppo", "token-csrf_token": csrf_token(client)},
    )
    assert response.status_code == 400
    assert "20 token attivi" in response.get_data(as_text=True)


# --- the command line ------------------------------------------------------------------


def test_token_lifecycle_through_the_cli(app, client, runner, make_user):
    user = make_user("admin")
    result = runner.invoke(args=["tokens", "create", "--email", user["email"], "--name", "cron"])
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert TOKEN_RE.fullmatch(plaintext), result.stdout
    assert "non sarà più mostrato" in result.output
    assert _get(client, "/reports/completion", token=plaintext).status_code == 200
    with app.app_context():
        (row,) = tokens_of(_user(user))
        assert row.name == "cron"

    result = runner.invoke(args=["tokens", "create", "--email", "nessuno@example.it"])
    assert result.exit_code == 1 and "nessun account" in result.output

    short = runner.invoke(args=["tokens", "revoke", "--email", user["email"], "--prefix", "lgf_"])
    assert short.exit_code == 1 and "almeno 4 caratteri" in short.output
    wrong = runner.invoke(
        args=["tokens", "revoke", "--email", user["email"], "--prefix", "lgf_nonesiste"]
    )
    assert wrong.exit_code == 1 and "nessun token attivo" in wrong.output

    result = runner.invoke(
        args=["tokens", "revoke", "--email", user["email"], "--prefix", plaintext[:12] + "…"]
    )
    assert result.exit_code == 0, result.output
    assert "revocato" in result.output
    _error(_get(client, "/reports/completion", token=plaintext), 401)
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None
