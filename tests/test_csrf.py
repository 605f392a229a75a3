"""CSRF: every state-changing request to every route of the app, as a user allowed there,
is refused (400) without a token, with a forged one and with another session's valid one,
as a form and as JSON, and changes nothing in any table. The bearer-token API is exempt
because it never reads the cookie: a logged-in browser gets 401 there."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import MethodNotAllowed

from lgnetforma.extensions import db
from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token, login
from tests.test_access import ACCESS, CSRF_EXEMPT, LOGGED_IN, PUBLIC, TOKEN, _url

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
FORGED = "IjFhMmIzYzRkNWU2ZjdhOGI5YzBkMWUyZjNhNGI1YzZkN2U4ZjlhMGIxYzJkIg.aBcDeF.forged-signature"


def _counts(app: Any) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def _role_for(access: str | set[str]) -> str | None:
    """A role allowed on the route (None: anonymous)."""
    if access == PUBLIC:
        return None
    if access == LOGGED_IN:
        return "operator"
    return sorted(access)[0]


def _accepts(app: Any, url: str, method: str) -> bool:
    """Whether some route takes ``method`` at ``url`` (a GET page may share its URL with a
    POST action of another endpoint)."""
    try:
        app.url_map.bind("localhost").match(url, method=method)
    except MethodNotAllowed:
        return False
    return True


@pytest.fixture
def courses(app, tmp_path):
    import_courses(app, write_course(tmp_path / "courses").parent)


def test_every_state_changing_request_needs_this_sessions_token(app, make_user, courses):
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if ACCESS[rule.endpoint] != TOKEN and rule.endpoint not in CSRF_EXEMPT
    ]
    state_changing = [r for r in rules if set(r.methods or ()) & set(STATE_CHANGING)]
    assert len(state_changing) >= 25, "the walk should find the forms of every area"

    clients: dict[str | None, Any] = {}
    for role in (None, "operator", "trainer", "coordinator", "admin"):
        client = app.test_client()
        if role:
            login(client, make_user(role))
        csrf_token(client)  # the session has a token of its own
        clients[role] = client
    # A valid token, but of another session (another user's browser).
    stranger = app.test_client()
    login(stranger, make_user("admin"))
    foreign = csrf_token(stranger)

    before = _counts(app)
    checked = 0
    for rule in rules:
        client = clients[_role_for(ACCESS[rule.endpoint])]
        url = _url(app, rule)
        for method in STATE_CHANGING:
            attempts: dict[str, dict[str, Any]] = {
                "no token": {"data": {"x": "1"}},
                "forged token": {"data": {"csrf_token": FORGED}},
                "another session's token": {"data": {"csrf_token": foreign}},
                "JSON, no token": {"json": {"x": 1}},
                "JSON, forged header": {"json": {"x": 1}, "headers": {"X-CSRFToken": FORGED}},
                "JSON, another session's header": {
                    "json": {"x": 1},
                    "headers": {"X-CSRFToken": foreign},
                },
            }
            for label, kwargs in attempts.items():
                response = client.open(url, method=method, **kwargs)
                where = f"{method} {url} ({rule.endpoint}) {label}"
                if _accepts(app, url, method):
                    assert response.status_code == 400, where
                    checked += 1
                else:
                    assert response.status_code == 405, where  # no such action at all
        assert _counts(app) == before, f"{url} ({rule.endpoint}) changed something"
    assert checked >= len(state_changing) * 6
    # Still logged in: no refused request logged anybody out.
    assert clients["admin"].get("/admin/utenti").status_code == 200


def test_a_refused_form_says_why_in_italian(client):
    response = client.post("/accesso", data={"email": "a@example.it", "password": "x"})
    assert response.status_code == 400
    assert "La sessione del modulo è scaduta o non è valida" in response.get_data(as_text=True)


def test_the_token_api_ignores_the_session_cookie(app, make_user):
    """No CSRF token there: a cookie-authenticated request is simply not authenticated."""
    client = app.test_client()
    login(client, make_user("admin"))
    api_rules = [r for r in app.url_map.iter_rules() if ACCESS[r.endpoint] == TOKEN]
    assert api_rules
    for rule in api_rules:
        url = _url(app, rule)
        response = client.get(url)
        assert response.status_code == 401 and response.is_json, url
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), url
        # Nor does the API accept any state-changing method.
        for method in STATE_CHANGING:
            response = client.open(url, method=method, json={"x": 1})
            assert response.status_code in (401, 405), (method, url)
