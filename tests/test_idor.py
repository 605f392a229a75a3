"""Insecure direct object references: every route, for every kind of user, called with
other people's ids and other territories' codes (real objects: attempts, completions,
accounts, tokens, regions and provinces) never answers 2xx to someone not entitled.

Kinds of user: an operator of Roma, a trainer, the coordinators of Lazio (12) and of
Lombardia (03), the referent of Roma (scope comune 058091), an admin, and nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import url_for
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import ApiToken, CourseCompletion, ModuleVersion, QuizAttempt, User
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.helpers import csrf_token, login
from tests.test_access import ACCESS, LOGGED_IN, PUBLIC, TOKEN

ROMA, MILANO = "058091", "015146"
# comune -> (region, province)
TERRITORY = {ROMA: ("12", "058"), MILANO: ("03", "015")}
COURSE = "/corsi/corso-prova"


@dataclass(frozen=True)
class Target:
    """Whose or where an id or a code is."""

    owner: int | None = None  # user id of the owner
    operator: bool = False  # the id is an operator's account
    comune: str | None = None
    region: str | None = None
    province: str | None = None


@dataclass
class Actor:
    name: str
    role: str | None
    scope: tuple[str, str | None] | None = None  # ("region", "12"), ("comune", ROMA)...
    user_id: int | None = None
    client: Any = None
    token: str | None = None
    csrf: str = ""
    extra: dict = field(default_factory=dict)


def _in_scope(actor: Actor, target: Target) -> bool:
    if actor.scope is None:
        return False
    kind, code = actor.scope
    if kind == "national":
        return True
    if kind == "region":
        if target.comune:
            return TERRITORY[target.comune][0] == code
        if target.region:
            return target.region == code
        if target.province:
            return any(r == code and p == target.province for r, p in TERRITORY.values())
        return False
    # A comune's referent: the region and province that contain the comune are theirs to
    # drill into (the figures inside are only their comune's).
    region, province = TERRITORY[code]
    if target.comune:
        return target.comune == code
    if target.region:
        return target.region == region
    if target.province:
        return target.province == province
    return False


STAFF_WITH_SCOPE = ("coordinator", "admin")


def _authorised(actor: Actor, endpoint: str, target: Target | None) -> bool:
    access = ACCESS[endpoint]
    if access == TOKEN:
        if actor.token is None:
            return False
    elif access == LOGGED_IN:
        if actor.role is None:
            return False
    elif access != PUBLIC and actor.role not in access:
        return False
    if target is None:
        return True
    own = target.owner is not None and target.owner == actor.user_id
    scoped = actor.role in STAFF_WITH_SCOPE and _in_scope(actor, target)
    if endpoint == "certificates.download":
        return own or scoped
    if endpoint in ("learn.attempt", "learn.submit", "auth.revoke_api_token"):
        return own
    if endpoint in ("api.operator_progress", "api.operator_record"):
        return target.operator and (own or scoped)
    if endpoint in ("coordinate.operator", "coordinate.grant"):
        return target.operator and scoped
    if endpoint in SESSION_ENDPOINTS:
        # Sessions: managed by admins and coordinators covering the whole territory;
        # seen also by the operators it is open to.
        manages = actor.role == "admin" or actor.scope == ("region", target.region)
        if endpoint == "sessions.detail":
            return manages or (actor.role == "operator" and target.region == "12")
        return manages
    if endpoint in (
        "coordinate.dashboard",
        "coordinate.coverage",
        "coordinate.export",
        "coordinate.operators",
        "api.completion_report",
        "api.coverage_report",
    ):
        return scoped
    if endpoint == "api.comuni":
        return actor.role != "coordinator" or scoped
    return True


SESSION_ENDPOINTS = {
    "sessions.detail",
    "sessions.invitation",
    "sessions.edit",
    "sessions.attendance",
    "sessions.attendance_template",
}


# --- the world -------------------------------------------------------------------------


def _session(app: Any, region: str, operator: dict) -> int:
    """A webinar for ``region`` (by a trainer), with ``operator`` registered to it."""
    from datetime import datetime, timedelta

    from lgnetforma.services.platform.cycles import current_cycle
    from lgnetforma.services.sessions import organise, registration
    from lgnetforma.services.sessions import rules as rules_service

    with app.app_context():
        organiser = db.session.scalar(
            select(User).where(User.role == "trainer").order_by(User.id).limit(1)
        )
        start = datetime.now(rules_service.ROME).replace(tzinfo=None, microsecond=0) + timedelta(
            days=3
        )
        session = organise.create_session(
            organise.SessionInput(
                title=f"Webinar {region}",
                kind="webinar",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                link="https://meet.example.it/x",
                capacity=5,
                region_code=region,
            ),
            organiser,
            current_cycle(),
        )
        registration.register(session, db.session.get(User, operator["id"]))
        db.session.commit()
        return session.id


def _complete_course(app: Any, user: dict) -> tuple[str, int]:
    """Enrol, read, pass: (attempt public id, completion id)."""
    client = app.test_client()
    login(client, user)
    client.post(f"{COURSE}/iscrizione", data={"csrf_token": csrf_token(client)})
    client.get(f"{COURSE}/lettura")
    client.get(f"{COURSE}/questionario")
    html = client.get(f"{COURSE}/questionario/questionario").get_data(as_text=True)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    client.post(f"/tentativi/{public_id}", data={**CORRECT, "csrf_token": csrf_token(client)})
    with app.app_context():
        completion = db.session.scalar(
            select(CourseCompletion.id).where(CourseCompletion.user_id == user["id"])
        )
    assert completion is not None
    return public_id, completion


def _token(app: Any, user_id: int) -> tuple[int, str]:
    from lgnetforma.services.people.tokens import create_token

    with app.app_context():
        row, plaintext = create_token(db.session.get(User, user_id), "script")
        db.session.commit()
        return row.id, plaintext


@pytest.fixture
def world(app, make_user, tmp_path) -> dict[str, Any]:
    import_courses(app, write_course(tmp_path / "courses").parent)
    victim_roma = make_user("operator", comune=ROMA)
    victim_milano = make_user("operator", comune=MILANO)
    roma_attempt, roma_completion = _complete_course(app, victim_roma)
    milano_attempt, milano_completion = _complete_course(app, victim_milano)
    roma_token_id, _ = _token(app, victim_roma["id"])
    with app.app_context():  # a message in the outbox (admins only, whoever it is for)
        from lgnetforma.services.platform.mail import queue_mail

        mail = queue_mail(victim_roma["email"], "Oggetto", "Testo")
        db.session.commit()
        mail_id = mail.id
    make_user("trainer")  # organises the sessions
    lazio_session = _session(app, "12", victim_roma)
    lombardia_session = _session(app, "03", victim_milano)
    actors = [
        Actor("operatore di Roma", "operator"),
        Actor("formatore", "trainer"),
        Actor("coordinatore del Lazio", "coordinator", ("region", "12")),
        Actor("coordinatore della Lombardia", "coordinator", ("region", "03")),
        Actor("referente di Roma", "coordinator", ("comune", ROMA)),
        Actor("amministratore", "admin", ("national", None)),
        Actor("anonimo", None),
    ]
    options = {
        ("coordinator", "12"): {"region": "12"},
        ("coordinator", "03"): {"region": "03"},
        ("coordinator", ROMA): {"scope_comune": ROMA},
    }
    for actor in actors:
        actor.client = app.test_client()
        if actor.role:
            key = (actor.role, actor.scope[1] if actor.scope else None)
            user = make_user(actor.role, comune=ROMA, **options.get(key, {}))
            login(actor.client, user)
            actor.user_id = user["id"]
            _id, actor.token = _token(app, user["id"])
        actor.csrf = csrf_token(actor.client)
    with app.app_context():
        version_id = db.session.scalar(
            select(ModuleVersion.id).where(ModuleVersion.quiz.is_not(None))
        )
        certificate = db.session.scalar(
            select(CourseCompletion).where(CourseCompletion.id == roma_completion)
        )
        from lgnetforma.models import Certificate

        code = db.session.scalar(
            select(Certificate.code).where(Certificate.completion_id == certificate.id)
        )
    staff = next(a for a in actors if a.name == "coordinatore del Lazio")
    admin = next(a for a in actors if a.role == "admin")
    roma = Target(owner=victim_roma["id"], operator=True, comune=ROMA)
    milano = Target(owner=victim_milano["id"], operator=True, comune=MILANO)
    return {
        "actors": actors,
        "objects": {
            "user_id": [
                (victim_roma["id"], roma),
                (victim_milano["id"], milano),
                (staff.user_id, Target(owner=staff.user_id)),
                (admin.user_id, Target(owner=admin.user_id)),
            ],
            "completion_id": [
                (roma_completion, Target(owner=victim_roma["id"], comune=ROMA)),
                (milano_completion, Target(owner=victim_milano["id"], comune=MILANO)),
            ],
            "public_id": [
                (roma_attempt, Target(owner=victim_roma["id"], comune=ROMA)),
                (milano_attempt, Target(owner=victim_milano["id"], comune=MILANO)),
            ],
            "token_id": [(roma_token_id, Target(owner=victim_roma["id"], comune=ROMA))],
            "session_id": [
                (lazio_session, Target(region="12")),
                (lombardia_session, Target(region="03")),
            ],
        },
        "fixed": {
            "slug": "corso-prova",
            "module_slug": "questionario",
            "path": "immagine.png",
            "filename": "css/app.css",
            "version_id": version_id,
            "name": "operatori",
            "fmt": "csv",
            "token": "x",
            "mail_id": mail_id,
        },
        "certificate_code": code,
        "victims": (victim_roma, victim_milano),
        "roma_token_id": roma_token_id,
        "milano_attempt": milano_attempt,
    }


# Routes that take a territory in the query string, and the names of its parameters.
TERRITORY_QUERIES = {
    "coordinate.dashboard": ("regione", "provincia"),
    "coordinate.coverage": ("regione", "provincia"),
    "coordinate.export": ("regione", "provincia"),
    "coordinate.operators": ("regione", "provincia"),
    "api.completion_report": ("region", "province"),
    "api.coverage_report": ("region", "province"),
    "api.comuni": ("region", "province"),
}
TERRITORIES = [
    Target(region="12"),
    Target(region="03"),
    Target(province="058"),
    Target(province="015"),
]
OBJECT_PARAMS = {"user_id", "completion_id", "public_id", "token_id", "session_id"}


def _variants(app: Any, rule: Any, world: dict) -> list[tuple[str, Target | None]]:
    values = dict(world["fixed"])
    values["code"] = (
        world["certificate_code"] if rule.endpoint == "certificates.verify" else "2025-2026"
    )
    objects = [name for name in rule.arguments if name in OBJECT_PARAMS]
    assert len(objects) <= 1, rule
    with app.test_request_context():
        base = {name: values[name] for name in rule.arguments if name not in OBJECT_PARAMS}
        if objects:
            return [
                (url_for(rule.endpoint, **base, **{objects[0]: value}), target)
                for value, target in world["objects"][objects[0]]
            ]
        url = url_for(rule.endpoint, **base)
    variants: list[tuple[str, Target | None]] = [(url, None)]
    if rule.endpoint in TERRITORY_QUERIES:
        region_name, province_name = TERRITORY_QUERIES[rule.endpoint]
        for target in TERRITORIES:
            query = (
                f"{region_name}={target.region}"
                if target.region
                else f"{province_name}={target.province}"
            )
            variants.append((f"{url}?{query}", target))
    return variants


def test_nobody_reaches_what_is_not_theirs(app, world):
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    declared = {n for r in rules for n in r.arguments}
    known = OBJECT_PARAMS | set(world["fixed"]) | {"code"}
    assert declared <= known, f"give test values to the new URL parameters {declared - known}"
    checked = refused = 0
    for actor in world["actors"]:
        headers = {"Authorization": f"Bearer {actor.token}"} if actor.token else {}
        for rule in rules:
            for url, target in _variants(app, rule, world):
                methods = ["GET"] if "GET" in rule.methods else []
                if target is not None and target.owner is not None and "POST" in rule.methods:
                    methods.append("POST")  # acting on someone else's object
                for method in methods:
                    data = {"csrf_token": actor.csrf} if method == "POST" else None
                    response = actor.client.open(url, method=method, data=data, headers=headers)
                    response.get_data()  # streamed exports run to the end, as in a browser
                    response.close()
                    status = response.status_code
                    where = f"{actor.name}: {method} {url} -> {status}"
                    checked += 1
                    if _authorised(actor, rule.endpoint, target):
                        if target is not None and method == "GET":
                            assert status == 200, where  # the objects are real
                        continue
                    refused += 1
                    assert not 200 <= status < 300, where
                    if 300 <= status < 400:  # the only redirect allowed: to log in
                        assert actor.role is None, where
                        assert "/accesso" in response.headers["Location"], where
    assert refused > 200 and checked > refused

    # Nothing was done to the victims' things by those not entitled (the admin's POST to
    # an account page, which may deactivate it, is the admin's right).
    with app.app_context():
        token = db.session.get(ApiToken, world["roma_token_id"])
        assert token.revoked_at is None
        victims = {v["id"] for v in world["victims"]}
        attempts = db.session.scalars(select(QuizAttempt)).all()
        assert {a.user_id for a in attempts} == victims
        assert all(a.submitted_at is not None for a in attempts)


def test_coordinators_enrol_only_operators_of_their_territory(app, world):
    """Ids that travel in forms, not URLs: an operator's email in the enrolment form."""
    from lgnetforma.models import Enrolment

    _roma, milano = world["victims"]
    lazio = next(a for a in world["actors"] if a.name == "coordinatore del Lazio")
    referent = next(a for a in world["actors"] if a.name == "referente di Roma")
    with app.app_context():
        before = db.session.scalar(select(db.func.count(Enrolment.id)))
    for actor in (lazio, referent):
        token = csrf_token(actor.client, "/coordinamento/")
        response = actor.client.post(
            "/coordinamento/iscrizioni",
            data={"email": milano["email"], "course": "corso-prova", "csrf_token": token},
        )
        assert response.status_code == 400
        assert "Nessun operatore con questa email nel tuo territorio" in response.get_data(
            as_text=True
        )
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Enrolment.id))) == before
