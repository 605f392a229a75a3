"""A Lazio coordinator sees nothing of other regions; a comune referent only their comune."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories.courses import import_courses, write_course
from tests.helpers import csrf_token, login

ROMA, LATINA, MILANO, NAPOLI = "058091", "059011", "015146", "063049"


@pytest.fixture
def activity(app, make_user, tmp_path):
    """Enrolled operators in Roma and Latina (Lazio), Milano and Napoli."""
    import_courses(app, write_course(tmp_path / "c").parent)
    people = {}
    for name, comune in (
        ("Rossi Roma", ROMA),
        ("Bianchi Latina", LATINA),
        ("Verdi Milano", MILANO),
        ("Esposito Napoli", NAPOLI),
    ):
        user = make_user("operator", name=name, comune=comune)
        client = app.test_client()
        login(client, user)
        client.post("/corsi/corso-prova/iscrizione", data={"csrf_token": csrf_token(client)})
        people[comune] = user
    return people


def _csv(client, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    return list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )


def test_lazio_coordinator_sees_only_lazio(client, login_as, activity):
    login_as("coordinator", region="12")
    html = client.get("/coordinamento/monitoraggio").get_data(as_text=True)
    assert "Territorio: regione Lazio" in html
    assert "Roma" in html and "Latina" in html  # the provinces of Lazio
    for other in ("Milano", "Napoli", "Lombardia", "Campania"):
        assert other not in html
    # Drilling into another region or province is not found.
    assert client.get("/coordinamento/monitoraggio?regione=03").status_code == 404
    assert client.get("/coordinamento/monitoraggio?provincia=015").status_code == 404
    assert client.get("/coordinamento/monitoraggio?provincia=058").status_code == 200

    detail = _csv(client, "/coordinamento/esporta/operatori.csv")
    assert sorted(row[0] for row in detail[1:]) == ["Bianchi Latina", "Rossi Roma"]
    for table in ("territori", "corsi", "copertura", "mesi"):
        body = "\n".join(";".join(r) for r in _csv(client, f"/coordinamento/esporta/{table}.csv"))
        assert "Milano" not in body and "Napoli" not in body and "Lombardia" not in body
    courses = _csv(client, "/coordinamento/esporta/corsi.csv")
    assert courses[1][2] == "2"  # two enrolled operators, both in Lazio

    coverage = client.get("/coordinamento/copertura").get_data(as_text=True)
    assert "Milano" not in coverage and "Lombardia" not in coverage
    assert client.get("/coordinamento/copertura?regione=03").status_code == 404


def test_comune_referent_sees_only_their_comune(client, login_as, activity):
    login_as("coordinator", scope_comune=ROMA)
    html = client.get("/coordinamento/monitoraggio").get_data(as_text=True)
    assert "Territorio: comune di Roma" in html
    assert "Latina" not in html and "Milano" not in html
    detail = _csv(client, "/coordinamento/esporta/operatori.csv")
    assert [row[0] for row in detail[1:]] == ["Rossi Roma"]
    territory = _csv(client, "/coordinamento/esporta/territori.csv")
    assert [row[0] for row in territory[1:]] == ["Roma"]


def test_certificates_and_enrolment_respect_the_scope(client, login_as, activity):
    login_as("coordinator", region="12")
    token = csrf_token(client, "/coordinamento/")
    response = client.post(
        "/coordinamento/iscrizioni",
        data={"email": activity[MILANO]["email"], "course": "corso-prova", "csrf_token": token},
    )
    assert response.status_code == 400
