"""Item analysis: per quiz version, attempts, pass rate, correct share, most chosen wrong."""

from __future__ import annotations

import re

from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import ModuleVersion
from tests.factories.courses import CORRECT, import_courses, write_course
from tests.helpers import csrf_token, login


def _attempt(app, user: dict, answers: dict) -> None:
    client = app.test_client()
    login(client, user)
    client.post("/corsi/corso-prova/iscrizione", data={"csrf_token": csrf_token(client)})
    html = client.get("/corsi/corso-prova/questionario/questionario").get_data(as_text=True)
    public_id = re.search(r'action="/tentativi/([^"]+)"', html).group(1)
    client.post(f"/tentativi/{public_id}", data={**answers, "csrf_token": csrf_token(client)})


def test_item_analysis_counts_answers_per_question(app, client, make_user, login_as, tmp_path):
    import_courses(app, write_course(tmp_path / "c").parent)
    _attempt(app, make_user("operator"), CORRECT)
    _attempt(app, make_user("operator"), {"q1": "1", "q2": ["1", "3"], "q3": "Duemila"})
    _attempt(app, make_user("operator"), {"q1": "1", "q2": ["1", "2"], "q3": " duemila "})
    with app.app_context():
        version_id = db.session.scalar(
            select(ModuleVersion.id).where(ModuleVersion.quiz.is_not(None))
        )
    login_as("trainer")
    overview = client.get("/editor/analisi").get_data(as_text=True)
    assert "Il modulo con il questionario" in overview
    html = client.get(f"/editor/analisi/{version_id}").get_data(as_text=True)
    cells = re.findall(r'<td class="text-end">([^<]+)</td>', html)
    # Three attempts, one passed.
    assert "33,3%" in html
    # Q1: 1 of 3 correct, wrong answer "ANCI" twice; Q2: 2 of 3; Q3: 1 of 3, "duemila" twice.
    assert cells[:6] == ["3", "33,3%", "3", "66,7%", "3", "33,3%"]
    assert "ANCI (2)" in html
    assert "Rilascio della cittadinanza (1)" in html
    assert "«duemila» (2)" in html


def test_item_analysis_is_for_trainers_only(app, client, login_as, tmp_path):
    import_courses(app, write_course(tmp_path / "c").parent)
    login_as("operator")
    assert client.get("/editor/analisi").status_code == 403
