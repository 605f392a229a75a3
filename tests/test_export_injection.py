"""Exports with hostile names (the XSS corpus, formulas among them): in CSV and XLSX every
name and comune comes out as typed, except that a cell starting like a formula
(= + - @ tab CR) gets a leading apostrophe, so no spreadsheet ever computes it."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, User
from lgnetforma.services.catalogue.listing import course_by_slug
from lgnetforma.services.learning.enrolment import enrol
from lgnetforma.services.people.accounts import create_user
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.text import has_control_characters
from lgnetforma.services.reporting.exports import neutralise
from tests.factories.courses import import_courses, write_course
from tests.factories.xss import FORMULA_PREFIXES, XSS_CORPUS

ROMA = "058091"
EVIL_COMUNE = "=cmd|' /C calc'!A0"


def test_hostile_names_are_exported_as_text_and_formulas_neutralised(
    app, client, login_as, tmp_path
):
    import_courses(app, write_course(tmp_path / "courses").parent)
    with app.app_context():
        db.session.scalar(select(Comune).filter_by(istat_code=ROMA)).name = EVIL_COMUNE
        db.session.commit()
    names = [payload[:200] for payload in XSS_CORPUS] + ["Esc\x1b[31m", "Bell\x07"]
    with app.app_context():
        roma = db.session.scalar(select(Comune).filter_by(istat_code=ROMA))
        course, cycle = course_by_slug("corso-prova"), current_cycle()
        for n, name in enumerate(names):
            email = f"ostile{n}@example.it"
            if has_control_characters(name) or name.strip() != name:
                # Refused at every entry point now; rows stored before the rule stay, and the
                # exports must never fail on them.
                with pytest.raises(ServiceError):
                    create_user(
                        email=email, full_name=name, role="operator", password=None, comune=roma
                    )
                user = User(email=email, full_name=name, role="operator", comune=roma)
                db.session.add(user)
                db.session.flush()
            else:
                user = create_user(
                    email=email, full_name=name, role="operator", password=None, comune=roma
                )
            enrol(user, course, cycle)
        db.session.commit()
        stored = {u.full_name for u in db.session.scalars(select(User))}
    assert set(names) <= stored
    login_as("coordinator", region="12")

    body = client.get("/coordinamento/esporta/operatori.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))[1:]
    assert sorted(row[0] for row in rows) == sorted(neutralise(n) for n in names)
    assert {row[2] for row in rows} == {"'" + EVIL_COMUNE}
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), row

    response = client.get("/coordinamento/esporta/operatori.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    # What XML cannot hold (ESC, NUL…) becomes U+FFFD; the rest comes out as typed.
    assert sorted(v[0] for v in values) == sorted(
        neutralise(ILLEGAL_CHARACTERS_RE.sub("\ufffd", n)) for n in names
    )
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            assert cell.data_type != "f", cell.value  # never a formula
            if isinstance(cell.value, str):
                assert not cell.value.startswith(FORMULA_PREFIXES), cell.value

    # The dashboard's territory table, by comune, in both formats.
    body = client.get("/coordinamento/esporta/territori.csv?provincia=058").get_data(as_text=True)
    assert "'" + EVIL_COMUNE in body
    assert "\n" + EVIL_COMUNE not in body and ";" + EVIL_COMUNE not in body
