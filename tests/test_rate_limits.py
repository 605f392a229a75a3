"""Brute force: failed logins, registration, password reset and API tokens are limited per
account and per address; limits lift by themselves; answers never tell whether an email
exists; X-Forwarded-For counts only behind a declared proxy; Redis shares the counts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import limits.storage.memory
import limits.strategies
import pytest
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import AuditEvent, User
from tests.helpers import CSRF_RE, PASSWORD, csrf_token
from tests.services import REDIS_URL, redis_reachable, require

WRONG = "non è la password giusta"


class Clock:
    """The time the limits library sees: moved forward by the tests."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(limits.strategies, "time", fake)
    return fake


@pytest.fixture
def limited(app, app_config, clock) -> Iterator[Any]:  # noqa: ARG001 - `app` first: see below
    """Apps with rate limits on, in memory, on the test's database.

    The Limiter object is shared by every app of the process, so the test's plain ``app``
    (limits off) must be created before these, not after.
    """
    from lgnetforma import create_app

    made = []

    def make(**overrides: Any) -> Any:
        config = {
            **app_config,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            **overrides,
        }
        new = create_app(config)
        made.append(new)
        return new

    yield make
    for each in made:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


def _client(app: Any, ip: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _login(client: Any, email: str, password: str = WRONG, token: str | None = None, **kw: Any):
    return client.post(
        "/accesso",
        data={"email": email, "password": password, "csrf_token": token or csrf_token(client)},
        **kw,
    )


def _is_wrong_password(response: Any) -> bool:
    return response.status_code == 200 and "Email o password non corretti" in response.get_data(
        as_text=True
    )


def _is_limited(response: Any) -> bool:
    html = response.get_data(as_text=True)
    return (
        response.status_code == 429
        and "Troppi tentativi" in html
        and int(response.headers["Retry-After"]) >= 1
    )


def _events(app: Any, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- login -----------------------------------------------------------------------------


def test_101st_wrong_password_in_an_hour_is_refused_and_the_lock_lifts(limited, make_user, clock):
    """A guesser spread over 101 addresses: the per-account ceiling (100/hour) stops it."""
    app = limited()
    owner = make_user("operator")
    for n in range(100):
        client = _client(app, f"10.0.{n // 250}.{n % 250 + 1}")
        assert _is_wrong_password(_login(client, owner["email"])), n
        clock.advance(30)  # 100 attempts spread over 50 minutes
    attacker = _client(app, "10.1.0.1")
    # The 101st is refused before the password is looked at: even the right one fails.
    response = _login(attacker, owner["email"], PASSWORD)
    assert _is_limited(response)
    assert "Ti diamo il benvenuto" not in response.get_data(as_text=True)
    assert attacker.get("/profilo").status_code == 302  # not logged in
    locked = _events(app, "login.locked")
    assert [e.details["limit"] for e in locked] == ["per_account"]
    assert locked[0].details["email"] == owner["email"]

    # An hour after the first failures the window has moved on: the owner gets in.
    clock.advance(60 * 60 - 100 * 30 + 1)
    owner_client = _client(app, "192.0.2.10")
    assert _login(owner_client, owner["email"], PASSWORD).status_code == 302
    assert owner_client.get("/profilo").status_code == 200


def test_one_address_is_stopped_sooner_and_unknown_emails_look_the_same(limited, make_user, clock):
    app = limited()
    owner = make_user("operator")
    known, unknown = _client(app, "10.0.0.1"), _client(app, "10.0.0.2")
    known_token, unknown_token = csrf_token(known), csrf_token(unknown)
    answers: dict[str, list[Any]] = {"known": [], "unknown": []}
    for _ in range(11):
        answers["known"].append(_login(known, owner["email"], token=known_token))
        answers["unknown"].append(_login(unknown, "nessuno@example.it", token=unknown_token))
    for name, responses in answers.items():
        assert all(_is_wrong_password(r) for r in responses[:10]), name
        assert _is_limited(responses[10]), name  # 10 per 15 minutes per account and address

    def page(response: Any, email: str) -> tuple[int, str]:
        html = CSRF_RE.sub("", response.get_data(as_text=True).replace(email, "X"))
        return response.status_code, html

    assert page(answers["known"][0], owner["email"]) == page(
        answers["unknown"][0], "nessuno@example.it"
    )
    assert page(answers["known"][10], owner["email"]) == page(
        answers["unknown"][10], "nessuno@example.it"
    )
    # 15 minutes later the address may try again.
    clock.advance(15 * 60 + 1)
    assert _is_wrong_password(_login(known, owner["email"], token=known_token))


def test_a_second_address_is_not_blocked_by_the_first(limited, make_user):
    app = limited()
    owner = make_user("operator")
    first = _client(app, "10.0.0.1")
    token = csrf_token(first)
    for n in range(20):  # 20 per minute per address, whatever the emails
        assert _is_wrong_password(_login(first, f"persona{n}@example.it", token=token))
    assert _is_limited(_login(first, owner["email"], PASSWORD, token=token))
    second = _client(app, "10.0.0.2")
    assert _login(second, owner["email"], PASSWORD).status_code == 302


def test_forwarded_for_is_ignored_unless_a_proxy_is_declared(limited, make_user):
    owner = make_user("operator")

    def attempts(app: Any) -> list[Any]:
        client = _client(app, "10.0.0.1")
        token = csrf_token(client)
        return [
            _login(
                client,
                owner["email"],
                token=token,
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            for n in range(11)
        ]

    direct = attempts(limited())
    assert _is_limited(direct[10])  # one address, however many headers it forged
    proxied = limited(PROXY_FIX_X_FOR=1)
    assert all(_is_wrong_password(r) for r in attempts(proxied))  # eleven clients
    addresses = {e.ip for e in _events(proxied, "login.failed")}
    assert "198.51.100.11" in addresses  # and the audit trail has the client's address


def test_a_known_device_is_not_locked_out_by_an_attack_from_elsewhere(limited, make_user, clock):
    app = limited(LOGIN_LIMIT_PER_ACCOUNT="5/hour")
    owner = make_user("operator")
    device = _client(app, "192.0.2.10")
    assert _login(device, owner["email"], PASSWORD).status_code == 302
    device.post("/esci", data={"csrf_token": csrf_token(device)})
    for n in range(5):
        assert _is_wrong_password(_login(_client(app, f"10.0.0.{n + 1}"), owner["email"]))
    # A new browser is slowed down by the account's ceiling...
    assert _is_limited(_login(_client(app, "192.0.2.11"), owner["email"], PASSWORD))
    # ...the owner's browser, which logged in before, is not.
    assert _login(device, owner["email"], PASSWORD).status_code == 302
    # A forged "known device" cookie is worth nothing.
    forged = _client(app, "192.0.2.12")
    forged.set_cookie("lgnetforma_device", "forged.value.here")
    assert _is_limited(_login(forged, owner["email"], PASSWORD))
    clock.advance(3601)
    assert _login(_client(app, "192.0.2.11"), owner["email"], PASSWORD).status_code == 302


def test_a_successful_login_forgives_earlier_mistakes(limited, make_user):
    app = limited()
    owner = make_user("operator")
    client = _client(app, "10.0.0.1")
    for _ in range(9):
        assert _is_wrong_password(_login(client, owner["email"]))
    assert _login(client, owner["email"], PASSWORD).status_code == 302
    client.post("/esci", data={"csrf_token": csrf_token(client)})
    for _ in range(9):
        assert _is_wrong_password(_login(client, owner["email"]))


def test_a_flood_of_refused_attempts_is_audited_once_a_minute(limited, make_user, clock):
    app = limited(LOGIN_LIMIT_PER_ACCOUNT_AND_IP="2/hour")
    owner = make_user("operator")
    client = _client(app, "10.0.0.1")
    token = csrf_token(client)
    responses = [_login(client, owner["email"], token=token) for _ in range(12)]
    assert [r.status_code for r in responses] == [200, 200] + [429] * 10
    assert len(_events(app, "login.failed")) == 2
    assert len(_events(app, "login.locked")) == 1
    assert len(_events(app, "rate_limited")) == 1
    clock.advance(61)
    _login(client, owner["email"], token=token)
    assert len(_events(app, "rate_limited")) == 2


# --- registration and password reset ---------------------------------------------------


def _register(client: Any, n: int) -> Any:
    return client.post(
        "/registrazione",
        data={
            "full_name": f"Persona {n}",
            "email": f"persona{n}@example.it",
            "password": "una frase lunga per registrarsi",
            "comune": "058091",
            "csrf_token": csrf_token(client, "/registrazione"),
        },
    )


def test_registration_is_limited_per_address(limited, mailbox):
    app = limited(REGISTER_LIMIT_PER_IP="3/hour")
    client = _client(app, "10.0.0.1")
    assert [_register(client, n).status_code for n in range(4)] == [200, 200, 200, 429]
    assert _is_limited(_register(client, 9))
    assert _register(_client(app, "10.0.0.2"), 5).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="persona3@example.it")) is None
    assert len(_events(app, "rate_limited")) == 1


def _reset(client: Any, email: str) -> Any:
    return client.post(
        "/password/recupero", data={"email": email, "csrf_token": csrf_token(client)}
    )


def test_password_reset_is_limited_per_email_and_per_address(limited, make_user, mailbox):
    app = limited(RESET_LIMIT_PER_EMAIL="2/hour", RESET_LIMIT_PER_IP="5/hour")
    owner = make_user("operator")
    client = _client(app, "10.0.0.1")
    known = [_reset(client, owner["email"]) for _ in range(3)]
    unknown = [_reset(client, "nessuno@example.it") for _ in range(3)]
    for responses in (known, unknown):
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert "Controlla la posta" in responses[0].get_data(as_text=True)
    # The same page (CSRF tokens carry a timestamp: they may straddle a second).
    assert CSRF_RE.sub("", known[2].get_data(as_text=True)) == CSRF_RE.sub(
        "", unknown[2].get_data(as_text=True)
    )
    assert len(mailbox.to(owner["email"])) == 2  # no third link in the inbox
    # The address has used 6 of its 5 requests: a new email from it is refused too.
    assert _reset(client, "altra@example.it").status_code == 429
    assert _reset(_client(app, "10.0.0.2"), "altra@example.it").status_code == 200


def test_new_confirmation_links_are_limited_per_email_and_per_address(limited, make_user, mailbox):
    app = limited(CONFIRM_RESEND_LIMIT_PER_EMAIL="2/hour", CONFIRM_RESEND_LIMIT_PER_IP="5/hour")
    client = _client(app, "10.0.0.1")

    def ask(email: str) -> Any:
        return client.post(
            "/conferma/nuovo-link",
            data={"email": email, "csrf_token": csrf_token(client, "/accesso")},
        )

    assert [ask("x@example.it").status_code for _ in range(3)] == [200, 200, 429]
    assert [ask("y@example.it").status_code for _ in range(3)] == [200, 200, 429]
    assert ask("z@example.it").status_code == 429  # the address's 5 are spent
    assert _client(app, "10.0.0.2").post(
        "/conferma/nuovo-link", data={"email": "z@example.it", "csrf_token": "x"}
    ).status_code in (200, 400)  # another address is not limited (CSRF aside)


# --- API -------------------------------------------------------------------------------


def _token(app: Any, user: dict) -> str:
    from lgnetforma.services.people.tokens import create_token

    with app.app_context():
        _row, plaintext = create_token(db.session.get(User, user["id"]), "script")
        db.session.commit()
        return plaintext


def _api(client: Any, token: str) -> Any:
    return client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})


def test_api_failed_tokens_are_limited_per_address(limited, make_user):
    app = limited(API_AUTH_FAILURE_LIMIT_PER_IP="3/minute")
    good = _token(app, make_user("coordinator"))
    client = _client(app, "10.0.0.1")
    bad = [_api(client, f"lgf_{'x' * 43}{n}") for n in range(3)]
    assert [r.status_code for r in bad] == [401, 401, 401]
    refused = _api(client, good)  # past the budget, even a good token is not looked up
    assert refused.status_code == 429 and refused.is_json
    assert refused.json["error"]["status"] == 429 and int(refused.headers["Retry-After"]) >= 1
    assert _api(_client(app, "10.0.0.2"), good).status_code == 200


def test_api_use_is_limited_per_token(limited, make_user):
    app = limited(API_LIMIT_PER_TOKEN="5/minute")
    user = make_user("coordinator")
    first, second = _token(app, user), _token(app, user)
    client = _client(app, "10.0.0.1")
    assert [_api(client, first).status_code for _ in range(6)] == [200] * 5 + [429]
    assert _api(client, second).status_code == 200


def test_the_session_cookie_does_not_authenticate_the_api(app, client, login_as):
    login_as("admin")
    response = client.get("/api/v1/courses")
    assert response.status_code == 401 and response.is_json


# --- Redis -----------------------------------------------------------------------------


def test_counts_are_shared_through_redis_by_every_app_server(limited, make_user):
    """Two app servers (two apps, two Redis connections) count the same failures; the
    keys hold a hash, never the email."""
    require(redis_reachable(), f"Redis is not reachable at {REDIS_URL}")
    import redis

    prefix = f"lgf-test-{uuid.uuid4().hex[:12]}"
    settings = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "3/hour",
    }
    owner = make_user("operator")
    server = redis.Redis.from_url(REDIS_URL)
    try:
        first = limited(**settings)
        client = _client(first, "10.0.0.1")
        assert _is_wrong_password(_login(client, owner["email"]))
        assert _is_wrong_password(_login(client, owner["email"]))
        second = limited(**settings)  # a new storage connection, nothing in memory
        other = _client(second, "10.0.0.1")
        assert _is_wrong_password(_login(other, owner["email"]))
        assert _is_limited(_login(other, owner["email"], PASSWORD))
        keys = [k.decode() for k in server.scan_iter(match=f"*{prefix}*")]
        assert keys, "nothing was counted in Redis"
        assert not any(owner["email"] in key or "example.it" in key for key in keys)
    finally:
        for key in server.scan_iter(match=f"*{prefix}*"):
            server.delete(key)
        server.close()
