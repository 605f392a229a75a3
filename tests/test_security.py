"""HTTP and sessions: security headers, cookie flags, a new session at login, sessions and
remember-me cookies that end at logout, password change and deactivation, input that can
never reach the database (NUL bytes, control characters in names)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import User
from tests.helpers import PASSWORD, csrf_token, login

PAGES = ["/", "/accesso", "/registrazione", "/corsi", "/privacy", "/pagina-che-non-esiste"]


def _csp(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


def test_every_page_sends_a_strict_policy_and_the_security_headers(client):
    for path in [*PAGES, "/api/v1/openapi.json", "/api/v1/courses"]:
        response = client.get(path)
        csp = _csp(response)
        assert csp["default-src"] == "'self'", path
        assert csp["script-src"] == "'self'", path
        assert csp["style-src"] == "'self'", path
        assert csp["object-src"] == "'none'", path
        assert csp["base-uri"] == "'none'", path
        assert csp["frame-ancestors"] == "'none'", path
        assert csp["form-action"] == "'self'", path
        policy = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "Strict-Transport-Security" not in response.headers, path  # not over http


def _set_cookies(response: Any) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_cookies_are_httponly_and_samesite(client, make_user):
    user = make_user("operator")
    token = csrf_token(client)
    response = client.post(
        "/accesso",
        data={"email": user["email"], "password": PASSWORD, "remember": "y", "csrf_token": token},
    )
    cookies = _set_cookies(response)
    for name in ("session", "remember_token", "lgnetforma_device"):
        assert "HttpOnly" in cookies[name], cookies[name]
        assert "SameSite=Lax" in cookies[name], cookies[name]
        assert "Secure" not in cookies[name]  # development, plain http


def test_production_sends_hsts_and_only_secure_cookies(production_app, make_user):
    user = make_user("operator")
    client = production_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    response = client.get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    data = {
        "email": user["email"],
        "password": PASSWORD,
        "remember": "y",
        "csrf_token": csrf_token(client),
    }
    # Over HTTPS the CSRF check also wants a same-origin Referer (Flask-WTF's strict mode).
    assert client.post("/accesso", data=data).status_code == 400
    response = client.post("/accesso", data=data, headers={"Referer": "https://localhost/"})
    assert response.status_code == 302
    cookies = _set_cookies(response)
    for name in ("session", "remember_token", "lgnetforma_device"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name], cookies[name]


def test_login_starts_a_new_session(client, make_user):
    user = make_user("operator")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    token_before = csrf_token(client)
    login(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "csrf_token" not in session  # a new one comes with the next form
    assert csrf_token(client, "/profilo") != token_before
    # The token of the session before login no longer works.
    response = client.post("/esci", data={"csrf_token": token_before})
    assert response.status_code == 400


def _saved_cookies(client: Any) -> dict[str, str]:
    return {c.key: c.value for c in client._cookies.values()}  # noqa: SLF001


def _replay(app: Any, cookies: dict[str, str], only: str | None = None) -> Any:
    replay = app.test_client()
    for key, value in cookies.items():
        if only is None or key == only:
            replay.set_cookie(key, value)
    return replay


def test_deactivation_by_an_admin_ends_the_victims_sessions_and_remember_cookie(app, make_user):
    victim = make_user("coordinator", region="12")
    victim_client = app.test_client()
    login(victim_client, victim, remember=True)
    assert victim_client.get("/coordinamento/").status_code == 200
    saved = _saved_cookies(victim_client)
    assert "remember_token" in saved
    # The remember-me cookie alone logs in, before the deactivation.
    assert _replay(app, saved, only="remember_token").get("/coordinamento/").status_code == 200

    admin_client = app.test_client()
    login(admin_client, make_user("admin"))
    path = f"/admin/utenti/{victim['id']}"
    response = admin_client.post(
        path,
        data={
            "full_name": "Coordinatrice",
            "role": "coordinator",
            "scope_region": "12",
            "scope_comune": "",
            "csrf_token": csrf_token(admin_client, path),
        },  # "active" unticked
    )
    assert response.status_code == 302
    assert victim_client.get("/coordinamento/").status_code == 302  # to the login page
    assert _replay(app, saved).get("/coordinamento/").status_code == 302
    assert _replay(app, saved, only="remember_token").get("/coordinamento/").status_code == 302
    # And the password no longer opens a session.
    retry = app.test_client()
    response = retry.post(
        "/accesso",
        data={"email": victim["email"], "password": PASSWORD, "csrf_token": csrf_token(retry)},
    )
    assert "Email o password non corretti" in response.get_data(as_text=True)


def test_a_role_change_ends_the_sessions_too(app, make_user):
    victim = make_user("coordinator", region="12")
    victim_client = app.test_client()
    login(victim_client, victim)
    admin_client = app.test_client()
    login(admin_client, make_user("admin"))
    path = f"/admin/utenti/{victim['id']}"
    admin_client.post(
        path,
        data={
            "full_name": "Ora formatrice",
            "role": "trainer",
            "active": "y",
            "scope_region": "",
            "scope_comune": "",
            "csrf_token": csrf_token(admin_client, path),
        },
    )
    assert victim_client.get("/profilo").status_code == 302


def test_an_admin_cannot_demote_or_deactivate_themself(app, make_user):
    admin = make_user("admin")
    client = app.test_client()
    login(client, admin)
    path = f"/admin/utenti/{admin['id']}"
    for data in ({"role": "coordinator", "active": "y"}, {"role": "admin"}):
        html = client.post(
            path,
            data={
                "full_name": "Admin",
                "scope_region": "",
                "scope_comune": "",
                "csrf_token": csrf_token(client, path),
                **data,
            },
        ).get_data(as_text=True)
        assert "Non puoi cambiare il tuo ruolo né disattivare il tuo account" in html
    with app.app_context():
        user = db.session.get(User, admin["id"])
        assert user.role == "admin" and user.is_active_account
    assert client.get("/admin/utenti").status_code == 200


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(app, make_user):
    user = make_user("operator")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user)
    login(elsewhere, user, remember=True)
    saved = _saved_cookies(elsewhere)
    token = csrf_token(here, "/profilo")
    refused = here.post(
        "/profilo",
        data={
            "current_password": "sbagliata",
            "password": "nuova frase lunga",
            "csrf_token": token,
        },
    )
    assert "La password attuale non è corretta" in refused.get_data(as_text=True)
    assert elsewhere.get("/profilo").status_code == 200
    response = here.post(
        "/profilo",
        data={
            "current_password": PASSWORD,
            "password": "una nuova frase davvero lunga",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert here.get("/profilo").status_code == 200  # this browser stays in
    assert elsewhere.get("/profilo").status_code == 302
    assert _replay(app, saved, only="remember_token").get("/profilo").status_code == 302


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time the session checks and the login stamp see."""
    import lgnetforma.models.people
    import lgnetforma.security

    fake = Clock()
    monkeypatch.setattr(lgnetforma.security, "time", fake)
    monkeypatch.setattr(lgnetforma.models.people, "time", fake)
    return fake


def test_a_session_idle_for_30_minutes_ends_with_its_remember_cookie(app, make_user, clock):
    user = make_user("operator")
    client = app.test_client()
    login(client, user, remember=True)
    for _ in range(4):  # active every 29 minutes: still in after almost two hours
        clock.now += 29 * 60
        assert client.get("/profilo").status_code == 200
    saved = _saved_cookies(client)
    clock.now += 31 * 60
    response = client.get("/profilo")
    assert response.status_code == 302 and "/accesso" in response.headers["Location"]
    assert "remember_token=;" in " ".join(response.headers.getlist("Set-Cookie"))
    assert "La sessione è scaduta" in client.get("/accesso").get_data(as_text=True)
    # The stolen session cookie, replayed, is just as idle.
    assert _replay(app, saved, only="session").get("/profilo").status_code == 302


def test_no_session_or_remember_cookie_outlives_12_hours(app, make_user, clock):
    user = make_user("operator")
    client = app.test_client()
    login(client, user, remember=True)
    saved = _saved_cookies(client)
    statuses = []
    for _ in range(26):  # busy all day: a request every 29 minutes, for 12.5 hours
        clock.now += 29 * 60
        statuses.append(client.get("/profilo").status_code)
    assert statuses == [200] * 24 + [302] * 2  # 11.6 hours in, then past 12
    assert _replay(app, saved, only="remember_token").get("/profilo").status_code == 302
    login(client, user)
    assert client.get("/profilo").status_code == 200


def test_the_email_cannot_be_changed_from_the_profile(client, login_as):
    """There is no "change email" feature: the profile has no such field and no route
    takes one (an admin would recreate the account). See SECURITY.md."""
    login_as("operator")
    html = client.get("/profilo").get_data(as_text=True)
    assert 'name="email"' not in html


# --- input that never reaches the database ---------------------------------------------


def _register(client: Any, **overrides: str) -> Any:
    data = {
        "full_name": "Maria Esposito",
        "email": "maria@example.it",
        "password": "la mia frase segreta per la formazione",
        "comune": "058091",
        "csrf_token": csrf_token(client, "/registrazione"),
    }
    return client.post("/registrazione", data={**data, **overrides})


def _users(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def test_nul_bytes_are_refused_at_the_door(app, client):
    before = _users(app)
    response = _register(client, full_name="Maria\x00Esposito")
    assert response.status_code == 400
    assert "Richiesta non valida" in response.get_data(as_text=True)
    assert client.get("/corsi?q=a\x00b").status_code == 400
    assert _users(app) == before


@pytest.mark.parametrize("name", ["Maria\r\nEsposito", "Maria\tEsposito", "Maria \u202eotisopsE"])
def test_names_with_control_characters_are_refused(app, client, name, mailbox):
    html = _register(client, full_name=name).get_data(as_text=True)
    assert "senza caratteri di controllo" in html
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="maria@example.it")) is None


def test_static_assets_have_content_versioned_urls_cached_for_a_year(client):
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=([0-9a-f]{12}))"', html)
    assert css, "the stylesheet URL carries its content hash"
    content = (Path(__file__).resolve().parent.parent / "static/css/app.css").read_bytes()
    assert css.group(2) == hashlib.sha256(content).hexdigest()[:12]
    response = client.get(css.group(1))
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache
    plain = client.get("/static/css/app.css")
    assert "max-age=3600" in plain.headers["Cache-Control"]
    assert "immutable" not in plain.headers["Cache-Control"]


def test_pages_and_text_assets_leave_compressed(client):
    """Issue 13: HTML and CSS travel compressed to a browser that accepts it, and a
    browser that does not gets them as they are."""
    page = client.get("/accessibilita", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in page.headers["Vary"]
    import brotli

    assert b"<html" in brotli.decompress(page.get_data())
    older = client.get("/accessibilita", headers={"Accept-Encoding": "gzip"})
    assert older.headers["Content-Encoding"] == "gzip"
    for path in (
        "/static/css/app.css",
        "/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css",
    ):
        asset = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        plain = client.get(path)
        assert plain.headers.get("Content-Encoding") is None
        assert asset.headers.get("Content-Encoding") == "br", path
        assert len(asset.get_data()) < len(plain.get_data()) / 2, path


def test_every_icon_the_templates_use_is_in_the_small_sprite():
    """static/img/icons.svg holds only the icons in use (make icons): a new icon in a
    template without regenerating it would show nothing."""
    import re

    from lgnetforma import PROJECT_ROOT

    used = set()
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        used |= set(re.findall(r"#(it-[a-z0-9-]+)", template.read_text(encoding="utf-8")))
    sprite = (PROJECT_ROOT / "static" / "img" / "icons.svg").read_text(encoding="utf-8")
    assert used and used == set(re.findall(r'<symbol id="([^"]+)"', sprite))
