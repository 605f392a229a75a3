"""Live sessions (issue 18): registration and waiting list, invitations, attendance from
the register page and from video platforms' reports, credited hours, the personal
training record and its verifiable statement, the coordinators' figures and the API."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from icalendar import Calendar
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import (
    AuditEvent,
    LiveSession,
    OutboundMail,
    SessionRegistration,
    TrainingStatement,
    User,
    utcnow,
)
from lgnetforma.services.sessions.rules import ROME
from tests.helpers import csrf_token, login

ROMA, LATINA, MILANO = "058091", "059011", "015146"


def _local(days: int, hour: int) -> datetime:
    """A wall-clock time in Italy ``days`` from now at ``hour``:00."""
    day = datetime.now(ROME).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0)


def _form(**overrides: object) -> dict:
    start = _local(3, 10)
    data = {
        "title": "Webinar sul monitoraggio",
        "kind": "webinar",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "link": "https://meet.example.it/lgnet",
        "place": "",
        "capacity": "2",
        "region_code": "12",
        "comune_code": "",
        "course_slug": "",
        "min_attendance": "75",
        "hours": "",
        "description": "Il **monitoraggio** dei servizi.",
    }
    data.update({k: str(v) for k, v in overrides.items()})
    return data


def _create(app, make_user, **overrides: object) -> tuple[object, int]:  # noqa: ANN001
    """A coordinator of Lazio creates a session through the page: (their client, id)."""
    client = app.test_client()
    login(client, make_user("coordinator", region="12"))
    response = client.post(
        "/incontri/nuovo", data={**_form(**overrides), "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    session_id = int(re.search(r"/incontri/(\d+)$", response.headers["Location"]).group(1))
    return client, session_id


def _operator(app, make_user, comune: str = ROMA, **kwargs) -> tuple[dict, object]:  # noqa: ANN001
    user = make_user("operator", comune=comune, **kwargs)
    client = app.test_client()
    login(client, user)
    return user, client


def _post(client, path: str, **data):  # noqa: ANN001, ANN202
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


def _status(app, session_id: int, user_id: int) -> str | None:  # noqa: ANN001
    with app.app_context():
        return db.session.scalar(
            select(SessionRegistration.status).where(
                SessionRegistration.session_id == session_id,
                SessionRegistration.user_id == user_id,
            )
        )


def _mails(app, address: str) -> list[OutboundMail]:  # noqa: ANN001
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboundMail)
                .where(OutboundMail.recipient == address)
                .order_by(OutboundMail.id)
            )
        )


def _to_the_past(app, session_id: int, minutes: int = 120) -> None:  # noqa: ANN001
    """The session took place: it started ``minutes`` + 1 hour ago, lasting ``minutes``."""
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        session.starts_at = utcnow() - timedelta(minutes=minutes + 60)
        session.ends_at = session.starts_at + timedelta(minutes=minutes)
        db.session.commit()


# --- acceptance: registration, waiting list, territory ---------------------------------


def test_capacity_waiting_list_promotion_and_territory(app, make_user):
    _coordinator, session_id = _create(app, make_user)
    people = [_operator(app, make_user) for _ in range(3)]
    for _user, client in people:
        response = _post(client, f"/incontri/{session_id}/iscrizione")
        assert response.status_code == 302
    (first, first_client), (second, _c2), (third, third_client) = people
    assert _status(app, session_id, first["id"]) == "registered"
    assert _status(app, session_id, second["id"]) == "registered"
    assert _status(app, session_id, third["id"]) == "waiting"
    page = third_client.get(f"/incontri/{session_id}").get_data(as_text=True)
    assert "lista d&#39;attesa, posizione 1" in page or "lista d'attesa, posizione 1" in page
    # The link is shown only to people with a place.
    assert "meet.example.it" not in page
    assert "meet.example.it" in first_client.get(f"/incontri/{session_id}").get_data(as_text=True)

    # Confirmation with the invitation attached; the waiting one is told they wait.
    confirmation = _mails(app, first["email"])[-1]
    assert confirmation.subject.startswith("Iscrizione confermata")
    assert confirmation.attachments[0]["filename"].endswith(".ics")
    assert _mails(app, third["email"])[-1].subject.startswith("In lista d'attesa")
    assert not _mails(app, third["email"])[-1].attachments

    # One cancels: the waiting one is promoted and told, with the invitation.
    assert _post(first_client, f"/incontri/{session_id}/rinuncia").status_code == 302
    assert _status(app, session_id, first["id"]) == "cancelled"
    assert _status(app, session_id, third["id"]) == "registered"
    promotion = _mails(app, third["email"])[-1]
    assert promotion.subject.startswith("Si è liberato un posto")
    assert "meet.example.it" in promotion.body
    assert Calendar.from_ical(promotion.attachments[0]["content"]).walk("VEVENT")

    # An operator of Lombardia cannot register (nor see the session).
    milano, milano_client = _operator(app, make_user, comune=MILANO)
    assert milano_client.get(f"/incontri/{session_id}").status_code == 404
    assert _post(milano_client, f"/incontri/{session_id}/iscrizione").status_code == 404
    assert _status(app, session_id, milano["id"]) is None
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"session.created", "session.registered", "session.unregistered"} <= actions


def test_lombardia_coordinator_cannot_create_for_lazio_nor_manage_it(app, make_user):
    _c, session_id = _create(app, make_user)
    client = app.test_client()
    login(client, make_user("coordinator", region="03"))
    response = _post(client, "/incontri/nuovo", **_form())
    assert response.status_code == 400
    assert "Aperto a: Non è una opzione valida" in response.get_data(as_text=True)
    response = _post(client, "/incontri/nuovo", **_form(region_code="03", comune_code=ROMA))
    assert response.status_code == 400
    assert "solo per il tuo ambito territoriale" in response.get_data(as_text=True)
    assert client.get(f"/incontri/{session_id}/presenze").status_code == 404
    assert _post(client, f"/incontri/{session_id}/annullamento").status_code == 404


def test_bad_input_says_which_field_and_why(app, make_user):
    client = app.test_client()
    login(client, make_user("trainer"))
    start = _local(2, 18)
    response = _post(
        client,
        "/incontri/nuovo",
        **_form(
            ends_at=(start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            starts_at=start.strftime("%Y-%m-%dT%H:%M"),
        ),
    )
    assert response.status_code == 400
    assert "La fine deve seguire l&#39;inizio" in response.get_data(as_text=True)
    response = _post(client, "/incontri/nuovo", **_form(link="http://insicuro.example.it"))
    assert "https://" in response.get_data(as_text=True)


def test_cancelling_and_moving_tell_everyone(app, make_user):
    coordinator, session_id = _create(app, make_user, capacity=1)
    (one, c1), (two, c2) = _operator(app, make_user), _operator(app, make_user)
    _post(c1, f"/incontri/{session_id}/iscrizione")
    _post(c2, f"/incontri/{session_id}/iscrizione")
    moved = _local(5, 15)
    response = _post(
        coordinator,
        f"/incontri/{session_id}/modifica",
        **_form(
            capacity=1,
            starts_at=moved.strftime("%Y-%m-%dT%H:%M"),
            ends_at=(moved + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        ),
    )
    assert response.status_code == 302
    for person in (one, two):
        assert _mails(app, person["email"])[-1].subject.startswith("Incontro modificato")
    moved_ics = Calendar.from_ical(_mails(app, one["email"])[-1].attachments[0]["content"])
    event = moved_ics.walk("VEVENT")[0]
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART").hour == 15
    assert _post(coordinator, f"/incontri/{session_id}/annullamento").status_code == 302
    for person in (one, two):
        assert _mails(app, person["email"])[-1].subject.startswith("Incontro annullato")
    cancelled = Calendar.from_ical(_mails(app, one["email"])[-1].attachments[0]["content"])
    assert cancelled["METHOD"] == "CANCEL"
    assert cancelled.walk("VEVENT")[0]["STATUS"] == "CANCELLED"


def test_day_before_reminder_once(app, make_user):
    from lgnetforma.services.sessions.registration import send_reminders

    _c, session_id = _create(app, make_user)
    user, client = _operator(app, make_user)
    _post(client, f"/incontri/{session_id}/iscrizione")
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        assert send_reminders(now=session.starts_at - timedelta(hours=30)) == 0
        assert send_reminders(now=session.starts_at - timedelta(hours=20)) == 1
        assert send_reminders(now=session.starts_at - timedelta(hours=19)) == 0
        db.session.commit()
    assert _mails(app, user["email"])[-1].subject.startswith("Domani")


def test_outbox_delivers_the_invitation_as_an_attachment(app, make_user, mailbox):
    _c, session_id = _create(app, make_user)
    user, client = _operator(app, make_user)
    _post(client, f"/incontri/{session_id}/iscrizione")
    message = mailbox.to(user["email"])[-1]
    message = message_from_bytes(message.as_bytes(), policy=policy.default)
    parts = [p for p in message.iter_attachments() if p.get_filename().endswith(".ics")]
    assert parts and parts[0].get_content_type() == "text/calendar"
    calendar = Calendar.from_ical(parts[0].get_content())
    assert calendar.walk("VEVENT")[0]["SUMMARY"] == "Webinar sul monitoraggio"


# --- acceptance: the .ics -------------------------------------------------------------


def test_ics_is_a_valid_event_in_europe_rome(app, make_user):
    _c, session_id = _create(app, make_user)
    _user, client = _operator(app, make_user)
    assert client.get(f"/incontri/{session_id}/invito.ics").status_code == 404  # not yet
    _post(client, f"/incontri/{session_id}/iscrizione")
    response = client.get(f"/incontri/{session_id}/invito.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert calendar["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    event = calendar.walk("VEVENT")[0]
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert event["DTSTART"].params["TZID"] == "Europe/Rome"
    assert str(start.tzinfo) == "Europe/Rome"
    assert (start.hour, start.minute) == (10, 0)
    assert end - start == timedelta(hours=2)
    assert start.date() == _local(3, 10).date()
    assert "meet.example.it" in str(event["LOCATION"])
    with app.app_context():
        uid = db.session.get(LiveSession, session_id).uid
    assert str(event["UID"]) == uid


# --- acceptance: attendance, credited hours, record, statement ------------------------

ZOOM = (
    "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants\n"
    "812 3456 7890,Webinar sul monitoraggio,12/01/2026 10:00:00 AM,12/01/2026 12:00:00 PM,"
    "org@example.it,120,3\n"
    "\n"
    "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\n"
    "Anna,{a},12/01/2026 09:58:00 AM,12/01/2026 11:00:00 AM,60,No\n"
    "Anna,{a},12/01/2026 11:10:00 AM,12/01/2026 11:46:00 AM,36,No\n"
    "Bruno,{b},12/01/2026 10:00:00 AM,12/01/2026 11:00:00 AM,60,No\n"
    "Sconosciuto,nessuno@example.it,12/01/2026 10:00:00 AM,12/01/2026 10:30:00 AM,30,Yes\n"
)
TEAMS = (
    "1. Summary\n"
    "Meeting title\tWebinar sul monitoraggio\n"
    "Attended participants\t2\n"
    "Start time\t12/1/26, 10:00:00 AM\n"
    "\n"
    "2. Participants\n"
    "Name\tFirst Join\tLast Leave\tIn-Meeting Duration\tEmail\tParticipant ID (UPN)\tRole\n"
    "Anna\t12/1/26, 9:58:00 AM\t12/1/26, 11:36:00 AM\t1h 36m\t{a}\t{a}\tAttendee\n"
    "Bruno\t12/1/26, 10:00:00 AM\t12/1/26, 11:00:00 AM\t1h\t{b}\t{b}\tAttendee\n"
    "\n"
    "3. In-Meeting Activities\n"
    "Name\tJoin Time\tLeave Time\tDuration\tEmail\tRole\n"
    "Anna\t12/1/26, 9:58:00 AM\t12/1/26, 11:36:00 AM\t1h 38m\t{a}\tAttendee\n"
)
OURS = "email;minuti\n{a};96\n{b};60\n"


def _two_registered(app, make_user):  # noqa: ANN001, ANN202
    coordinator, session_id = _create(app, make_user, capacity=5)
    anna, anna_client = _operator(app, make_user, name="Anna Rossi")
    bruno, _b = _operator(app, make_user, name="Bruno Verdi")
    for client in (anna_client, _b):
        _post(client, f"/incontri/{session_id}/iscrizione")
    _to_the_past(app, session_id)
    return coordinator, session_id, anna, anna_client, bruno


def _import(client, session_id: int, content: bytes, name: str = "report.csv") -> str:  # noqa: ANN001
    token = csrf_token(client, f"/incontri/{session_id}/presenze")
    response = client.post(
        f"/incontri/{session_id}/presenze/importazione",
        data={"file": (io.BytesIO(content), name), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    return response.get_data(as_text=True)


def _confirm(client, session_id: int, preview_html: str) -> None:  # noqa: ANN001
    import html

    text = html.unescape(
        re.search(r'name="csv_text" type="hidden" value="([^"]*)"', preview_html).group(1)
    )
    response = client.post(
        f"/incontri/{session_id}/presenze/conferma",
        data={"csv_text": text, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def _credited(app, session_id: int) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    with app.app_context():
        rows = db.session.execute(
            select(
                User.email,
                SessionRegistration.attendance_percent,
                SessionRegistration.credited_hours,
            )
            .join(User, User.id == SessionRegistration.user_id)
            .where(SessionRegistration.session_id == session_id)
        ).all()
    return {email: (percent, hours) for email, percent, hours in rows}


@pytest.mark.parametrize(
    ("layout", "content"),
    [
        ("Zoom", ZOOM.encode("utf-8")),
        ("Microsoft Teams", TEAMS.encode("utf-16")),
        ("Modello LGNetforma", OURS.encode("utf-8-sig")),
    ],
)
def test_attendance_report_credits_80_percent_not_50(app, make_user, layout, content):
    coordinator, session_id, anna, _ac, bruno = _two_registered(app, make_user)
    content = content.decode("utf-16" if layout == "Microsoft Teams" else "utf-8-sig")
    content = content.format(a=anna["email"], b=bruno["email"])
    data = content.encode("utf-16" if layout == "Microsoft Teams" else "utf-8")
    preview = _import(coordinator, session_id, data)
    assert layout in preview
    assert "Non è stato ancora salvato niente" in preview
    assert _credited(app, session_id)[anna["email"]] == (None, None)  # a dry run
    if layout == "Zoom":
        assert "non è tra gli iscritti" in preview
    _confirm(coordinator, session_id, preview)
    credited = _credited(app, session_id)
    assert credited[anna["email"]] == (80.0, 2.0)
    assert credited[bruno["email"]] == (50.0, 0.0)


def test_unreadable_report_says_why(app, make_user):
    coordinator, session_id, *_rest = _two_registered(app, make_user)
    token = csrf_token(coordinator, f"/incontri/{session_id}/presenze")
    response = coordinator.post(
        f"/incontri/{session_id}/presenze/importazione",
        data={"file": (io.BytesIO(b"nome;ore\nAnna;2\n"), "x.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Formato non riconosciuto" in response.get_data(as_text=True)


def test_record_statement_verifies_and_csv(app, make_user):
    coordinator, session_id, anna, anna_client, bruno = _two_registered(app, make_user)
    preview = _import(
        coordinator, session_id, OURS.format(a=anna["email"], b=bruno["email"]).encode()
    )
    _confirm(coordinator, session_id, preview)
    year = datetime.now(ROME).year
    page = anna_client.get(f"/formazione?anno={year}").get_data(as_text=True)
    assert "Webinar sul monitoraggio" in page
    assert re.search(r'id="year-total">2 ore su 40<', page), page
    response = anna_client.get(f"/formazione/dichiarazione.pdf?anno={year}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    with app.app_context():
        statement = db.session.scalar(select(TrainingStatement))
        assert statement.total_hours == 2.0 and statement.user_id == anna["id"]
        code = statement.code
    # The same record gives the same statement.
    anna_client.get(f"/formazione/dichiarazione.pdf?anno={year}")
    with app.app_context():
        assert db.session.scalar(select(db.func.count(TrainingStatement.id))) == 1
    import pypdfium2

    pdf = pypdfium2.PdfDocument(response.data)
    text = pdf[0].get_textpage().get_text_range()
    assert code in text and "Webinar sul monitoraggio" in text
    verify = app.test_client().get(f"/verifica/{code}")
    assert verify.status_code == 200
    html = verify.get_data(as_text=True)
    assert "è autentica" in html and "Anna Rossi" in html
    assert re.search(r'id="statement-hours">2<', html)
    rows = list(
        csv.reader(
            io.StringIO(
                anna_client.get(f"/formazione/registro.csv?anno={year}")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            ),
            delimiter=";",
        )
    )
    assert rows[0] == ["data", "tipo", "titolo", "ore", "ciclo"]
    assert rows[1][1:4] == ["incontro", "Webinar sul monitoraggio", "2"]
    # Bruno's record has no hours from it.
    bruno_client = app.test_client()
    login(bruno_client, bruno)
    assert re.search(
        r'id="year-total">0 ore su 40<', bruno_client.get("/formazione").get_data(as_text=True)
    )


def test_register_page_ticks_attendance(app, make_user):
    coordinator, session_id, anna, _ac, bruno = _two_registered(app, make_user)
    page = coordinator.get(f"/incontri/{session_id}/presenze?q=anna").get_data(as_text=True)
    assert "Anna Rossi" in page and "Bruno Verdi" not in page
    with app.app_context():
        ids = dict(
            db.session.execute(
                select(User.email, SessionRegistration.id)
                .join(User, User.id == SessionRegistration.user_id)
                .where(SessionRegistration.session_id == session_id)
            ).all()
        )
    response = coordinator.post(
        f"/incontri/{session_id}/presenze",
        data={
            "shown": [ids[anna["email"]], ids[bruno["email"]]],
            "present": [ids[anna["email"]]],
            "csrf_token": csrf_token(coordinator),
        },
    )
    assert response.status_code == 302
    credited = _credited(app, session_id)
    assert credited[anna["email"]] == (100.0, 2.0)
    assert credited[bruno["email"]] == (0.0, 0.0)


# --- acceptance: figures agree between page, export and API ---------------------------


def test_figures_agree_between_page_export_and_api(app, make_user):
    from lgnetforma.services.people.tokens import create_token

    coordinator, session_id, anna, _ac, bruno = _two_registered(app, make_user)
    _confirm(
        coordinator,
        session_id,
        _import(coordinator, session_id, OURS.format(a=anna["email"], b=bruno["email"]).encode()),
    )
    # A session of Lombardia with a Milanese operator: not in Lazio's figures.
    lombardia = app.test_client()
    login(lombardia, make_user("coordinator", region="03"))
    _post(lombardia, "/incontri/nuovo", **_form(region_code="03", title="Solo Lombardia"))
    lazio = make_user("coordinator", region="12")
    client = app.test_client()
    login(client, lazio)
    page = client.get("/coordinamento/incontri").get_data(as_text=True)
    shown = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page))
    assert "Solo Lombardia" not in page
    export = client.get("/coordinamento/incontri.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(export), delimiter=";"))
    with app.app_context():
        _row, token = create_token(db.session.get(User, lazio["id"]), "prova")
        db.session.commit()
    api = client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"}).get_json()
    summary = api["summary"]
    assert [
        (r["region"], r["registrations"], r["attended"], r["hours_credited"])
        for r in api["regions"]
    ] == [("12", 2, 1, 2.0)]
    by_region = client.get("/coordinamento/incontri.csv?per=regione").get_data(as_text=True)
    region_rows = list(csv.DictReader(io.StringIO(by_region.lstrip("\ufeff")), delimiter=";"))
    assert [
        (r["regione"], r["iscritti"], r["presenti"], r["ore_riconosciute"]) for r in region_rows
    ] == [("12", "2", "1", "2")]
    assert re.search(
        r"<th scope=\"row\">Lazio</th><td>1</td><td>1</td>\s*<td>2</td><td>1</td><td>50,0%</td><td>2</td>",
        page,
    ), page
    assert summary == {
        "sessions": 1,
        "sessions_held": 1,
        "registrations": 2,
        "attended": 1,
        "attendance_rate": 0.5,
        "hours_credited": 2.0,
    }
    assert shown == {
        "sessions": "1",
        "sessions_held": "1",
        "registrations": "2",
        "attended": "1",
        "attendance_rate": "50,0%",
        "hours_credited": "2",
    }
    assert [(int(r["iscritti"]), int(r["presenti"]), r["ore_riconosciute"]) for r in rows] == [
        (s["registrations"], s["attended"], f"{s['hours_credited']:g}") for s in api["sessions"]
    ]
    # The operator's record through the API: theirs, and the coordinator's in scope.
    record = client.get(
        f"/api/v1/operators/{anna['id']}/record", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert record["total_hours"] == 2.0 and record["goal_hours"] == 40
    assert record["items"][0]["kind"] == "session"


def test_a_closed_cycle_keeps_its_session_figures(app, make_user):
    from lgnetforma.models import Cycle, CycleSnapshot
    from lgnetforma.services.coordination.scope import Scope
    from lgnetforma.services.platform.cycles import close_cycle
    from lgnetforma.services.sessions.figures import session_figures

    coordinator, session_id, anna, _ac, bruno = _two_registered(app, make_user)
    _confirm(
        coordinator,
        session_id,
        _import(coordinator, session_id, OURS.format(a=anna["email"], b=bruno["email"]).encode()),
    )
    with app.app_context():
        cycle = db.session.scalar(select(Cycle).where(Cycle.is_current.is_(True)))
        live = session_figures(cycle, Scope("national"))
        close_cycle(cycle, None)
        db.session.commit()
        snapshot = db.session.scalar(select(CycleSnapshot))
        assert snapshot.data["sessions"]["sessions"][0][0] == session_id
        # The facts change after closing (they cannot through the app): the figures do not.
        db.session.execute(db.delete(SessionRegistration))
        db.session.commit()
        assert session_figures(db.session.get(Cycle, cycle.id), Scope("national")) == live


# --- race: the waiting list under concurrency -----------------------------------------


def test_concurrent_registrations_never_exceed_capacity(app, backend, make_user):
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; this race is checked on PostgreSQL")
    _c, session_id = _create(app, make_user, capacity=3)
    operators = [_operator(app, make_user) for _ in range(12)]
    tokens = [csrf_token(client) for _user, client in operators]
    barrier = threading.Barrier(len(operators))
    statuses: list[int] = []
    lock = threading.Lock()

    def register(index: int) -> None:
        _user, client = operators[index]
        barrier.wait()
        response = client.post(
            f"/incontri/{session_id}/iscrizione", data={"csrf_token": tokens[index]}
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(operators))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [302] * len(operators)
    with app.app_context():
        rows = db.session.execute(
            select(SessionRegistration.status, SessionRegistration.id).where(
                SessionRegistration.session_id == session_id
            )
        ).all()
    assert sorted(s for s, _i in rows).count("registered") == 3
    assert sorted(s for s, _i in rows).count("waiting") == 9
    # Cancelling promotes exactly one, the first in the queue.
    from lgnetforma.services.sessions.roll_call import waiting_people

    with app.app_context():
        first_waiting = waiting_people(db.session.get(LiveSession, session_id))[0].user_id
    registered_user = next(
        (u, c) for u, c in operators if _status(app, session_id, u["id"]) == "registered"
    )
    _post(registered_user[1], f"/incontri/{session_id}/rinuncia")
    assert _status(app, session_id, first_waiting) == "registered"


# --- in English -------------------------------------------------------------------------


def test_session_pages_in_english(app, make_user):
    from tests.test_i18n import _english, _text

    _c, session_id = _create(app, make_user, capacity=1)
    user, client = _operator(app, make_user)
    _english(client)
    login(client, user)
    assert "Live sessions" in _text(client.get("/incontri/"))
    _post(client, f"/incontri/{session_id}/iscrizione")
    detail = _text(client.get(f"/incontri/{session_id}"))
    assert "You are registered to this session." in detail
    assert "Add to calendar (.ics)" in detail
    record = _text(client.get("/formazione"))
    assert "My training" in record and "0 hours out of 40" in record
    other, other_client = _operator(app, make_user)
    _english(other_client)
    login(other_client, other)
    response = _post(other_client, f"/incontri/{session_id}/iscrizione")
    assert response.status_code == 302
    page = _text(other_client.get(f"/incontri/{session_id}"))
    assert "You are on the waiting list, position 1" in page


def test_reminders_from_the_command_line_and_personal_data(app, make_user, runner):
    from lgnetforma.services.people.personal_data import export_data

    _c, session_id = _create(app, make_user)
    user, client = _operator(app, make_user)
    _post(client, f"/incontri/{session_id}/iscrizione")
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        session.starts_at = utcnow() + timedelta(hours=20)
        session.ends_at = session.starts_at + timedelta(hours=2)
        db.session.commit()
    # The worker runs this job every hour (JOB_SESSION_REMINDERS_CRON); by hand:
    result = runner.invoke(args=["jobs", "run", "session-reminders"])
    assert result.exit_code == 0 and "1 promemoria di incontri in coda" in result.output
    with app.app_context():  # the next hour's run: nothing more for that session
        from lgnetforma.services.platform.jobs import run_job

        assert run_job("session-reminders", period="next").summary.startswith("0 promemoria")
    with app.app_context():
        data = export_data(db.session.get(User, user["id"]))
    assert data["session_registrations"][0]["status"] == "registered"
    assert data["session_registrations"][0]["session"] == "Webinar sul monitoraggio"


def test_record_counts_courses_and_sessions_and_deletion_revokes_the_statement(
    app, make_user, tmp_path
):
    from lgnetforma.services.people.personal_data import delete_account
    from tests.factories.courses import import_courses, write_course
    from tests.test_idor import _complete_course

    import_courses(app, write_course(tmp_path / "courses").parent)
    coordinator, session_id, anna, anna_client, bruno = _two_registered(app, make_user)
    _confirm(
        coordinator,
        session_id,
        _import(coordinator, session_id, OURS.format(a=anna["email"], b=bruno["email"]).encode()),
    )
    _complete_course(app, anna)
    with app.app_context():
        from lgnetforma.models import CourseCompletion

        course_hours = db.session.scalar(select(CourseCompletion.hours))
    page = anna_client.get("/formazione").get_data(as_text=True)
    assert "Corso: " in page and "Incontro: Webinar sul monitoraggio" in page
    total = f"{course_hours + 2:g}".replace(".", ",")
    assert re.search(rf'id="year-total">{total} ore su 40<', page), page
    anna_client.get("/formazione/dichiarazione.pdf")
    with app.app_context():
        statement = db.session.scalar(select(TrainingStatement))
        assert [item["kind"] for item in statement.items] == ["session", "course"] or [
            item["kind"] for item in statement.items
        ] == ["course", "session"]
        assert statement.total_hours == course_hours + 2
        actions = list(db.session.scalars(select(AuditEvent.action)))
        assert "session.attendance" in actions and "training_statement.downloaded" in actions
        delete_account(db.session.get(User, anna["id"]))
        db.session.commit()
        code = statement.code
    html = app.test_client().get(f"/verifica/{code}").get_data(as_text=True)
    assert "non è più valida" in html and "Anna Rossi" not in html
