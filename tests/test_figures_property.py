"""Page = CSV = XLSX = API, for any selection: a property test (Hypothesis).

A small random territory (two regions, several provinces) of operators, enrolments,
attempts and completions is built example after example; for random selections at every
level (national, region, province, comune, with or without a course, as an admin or as
the Lazio coordinator) the dashboard's cards, the CSV and XLSX exports and
/api/v1/reports/* must agree with each other and with a count of what was built. Then
the cycle is closed and the same holds for its snapshot. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, Module, User
from lgnetforma.services.learning import attempts as attempts_service
from lgnetforma.services.learning import enrolment as enrolment_service
from lgnetforma.services.learning import views
from lgnetforma.services.people.accounts import create_user
from lgnetforma.services.people.tokens import create_token
from lgnetforma.services.platform.cycles import close_cycle, current_cycle
from tests.factories.courses import import_courses, write_course
from tests.helpers import login

# (ISTAT code, province code, region code)
COMUNI = [
    ("058091", "058", "12"),  # Roma
    ("058120", "058", "12"),  # Fiumicino
    ("056059", "056", "12"),  # Viterbo
    ("059011", "059", "12"),  # Latina
    ("015146", "015", "03"),  # Milano
    ("016024", "016", "03"),  # Bergamo
]
COURSES = ["corso-a", "corso-b"]
# What an operator does in a course: the quiz answers they submit, in order.
RIGHT = {1: ["2"], 2: ["1", "2"], 3: "duemilaventicinque"}
WRONG = {1: ["1"], 2: ["1"], 3: "2030"}
BEHAVIOURS = {
    "enrolled": [],
    "read": [],
    "failed": [WRONG],
    "used_up": [WRONG, WRONG],
    "passed": [RIGHT],
    "retried": [WRONG, RIGHT],
}
# The territory grows from one example to the next (the database is not reset), so a
# failing example cannot be shrunk meaningfully: no shrinking, no example database.
FAST = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Enrolled:
    operator: int
    comune: str
    province: str
    region: str
    course: str
    behaviour: str

    @property
    def attempts(self) -> int:
        return len(BEHAVIOURS[self.behaviour])

    @property
    def completed(self) -> bool:
        return self.behaviour in ("passed", "retried")


operators = st.lists(
    st.tuples(
        st.sampled_from(COMUNI),
        st.dictionaries(st.sampled_from(COURSES), st.sampled_from(list(BEHAVIOURS)), min_size=1),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def selections(draw):  # noqa: ANN001, ANN201
    """(viewer, level, code, course): a selection as the dashboard's query string names it."""
    viewer = draw(st.sampled_from(["admin", "lazio"]))
    level = draw(st.sampled_from(["national", "region", "province", "comune"]))
    comune, province, region = draw(st.sampled_from(COMUNI))
    code = {"national": None, "region": region, "province": province, "comune": comune}[level]
    course = draw(st.one_of(st.none(), st.sampled_from(COURSES)))
    return viewer, level, code, course


def _csv(response) -> list[list[str]]:  # noqa: ANN001
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def _xlsx(response) -> list[list]:  # noqa: ANN001
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}".replace(".", ",")


def _region_of(level: str, code: str) -> str:
    column = {"region": 2, "province": 1, "comune": 0}[level]
    return next(c[2] for c in COMUNI if c[column] == code)


def _int(text: str) -> int:
    return int(text.replace(".", "").replace(",", ""))


def test_page_csv_xlsx_and_api_agree_for_any_selection(app, make_user, tmp_path):
    root = tmp_path / "courses"
    for slug in COURSES:
        write_course(root, slug, attempts=2)
    import_courses(app, root)
    admin, lazio = make_user("admin"), make_user("coordinator", region="12")
    clients, tokens = {}, {}
    for name, user in (("admin", admin), ("lazio", lazio)):
        clients[name] = app.test_client()
        login(clients[name], user)
        with app.app_context():
            tokens[name] = create_token(db.session.get(User, user["id"]), "prova")[1]
            db.session.commit()
    built: list[Enrolled] = []
    numbers = itertools.count(1)

    def build(people) -> None:  # noqa: ANN001
        with app.app_context():
            cycle = current_cycle()
            for (istat, province, region), plan in people:
                n = next(numbers)
                user = create_user(
                    email=f"op{n}@example.it",
                    full_name=f"Operatore {n:03d}",
                    role="operator",
                    password=None,
                    comune=db.session.scalar(select(Comune).filter_by(istat_code=istat)),
                )
                for slug, behaviour in sorted(plan.items()):
                    course = db.session.scalar(select(Course).filter_by(slug=slug))
                    enrolment = enrolment_service.enrol(user, course, cycle)
                    if behaviour != "enrolled":
                        for module in course.active_modules:
                            views.record_view(
                                user, module, module.current_version, cycle, enrolment
                            )
                    for answers in BEHAVIOURS[behaviour]:
                        quiz = db.session.scalar(
                            select(Module).filter_by(course_id=course.id, slug="questionario")
                        )
                        attempt = attempts_service.start_attempt(user, quiz, cycle)
                        attempts_service.submit_attempt(attempt, answers)
                    built.append(Enrolled(user.id, istat, province, region, slug, behaviour))
                db.session.commit()

    def check(cycle_code: str, selection, *, live: bool) -> None:  # noqa: ANN001
        viewer, level, code, course = selection
        client, token = clients[viewer], tokens[viewer]
        web = {"ciclo": cycle_code}
        api = {"cycle": cycle_code}
        if code is not None:
            web[{"region": "regione", "province": "provincia", "comune": "comune"}[level]] = code
            api[level] = code
        if course is not None:
            web["corso"], api["course"] = course, course
        in_lazio = level == "national" or _region_of(level, code) == "12"
        page = client.get("/coordinamento/monitoraggio", query_string=web)
        if viewer == "lazio" and not in_lazio:
            assert page.status_code == 404
            answer = client.get(
                "/api/v1/reports/completion",
                query_string=api,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 404
            return
        assert page.status_code == 200, (selection, page.status_code)

        def chosen(e: Enrolled) -> bool:
            if viewer == "lazio" and e.region != "12":
                return False
            if code is not None and getattr(e, level) != code:
                return False
            return course is None or e.course == course

        mine = [e for e in built if chosen(e)]
        expected = {
            "enrolled": len({e.operator for e in mine}),
            "enrolments": len(mine),
            "completions": sum(e.completed for e in mine),
            "attempts": sum(e.attempts for e in mine),
        }

        # The page's cards.
        html = page.get_data(as_text=True)
        cards = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<a [^>]+>)?([^<]+)", html))
        assert _int(cards["Operatori iscritti"]) == expected["enrolled"], selection
        assert _int(cards["Corsi completati"]) == expected["completions"], selection

        # The API: its summary is the page's, its rows the exports'.
        group = {"national": "region", "region": "province"}.get(level, "comune")
        if viewer == "lazio" and level == "national":
            group = "province"
        body = client.get(
            "/api/v1/reports/completion",
            query_string={**api, "group_by": group},
            headers={"Authorization": f"Bearer {token}"},
        ).get_json()
        summary = body["summary"]
        for name, value in expected.items():
            assert summary[name] == value, (selection, name)
        rate = expected["completions"] / expected["enrolments"] if mine else None
        assert (summary["completion_rate"] is None) == (rate is None)
        if rate is not None:
            assert abs(summary["completion_rate"] - rate) < 1e-4
            assert cards["Tasso di completamento"].startswith(_rate(rate)), selection
        if live:
            assert _int(cards["Attivi negli ultimi 30 giorni"]) == summary["active_30d"]

        for table, api_group in (("territori", group), ("corsi", "course")):
            rows = (
                body["rows"]
                if api_group == group
                else client.get(
                    "/api/v1/reports/completion",
                    query_string={**api, "group_by": "course"},
                    headers={"Authorization": f"Bearer {token}"},
                ).get_json()["rows"]
            )
            comma = _csv(client.get(f"/coordinamento/esporta/{table}.csv", query_string=web))
            sheet = _xlsx(client.get(f"/coordinamento/esporta/{table}.xlsx", query_string=web))
            assert [r[1] for r in comma[1:]] == [r["key"] for r in rows], (selection, table)
            assert [r[1] for r in sheet[1:]] == [r["key"] for r in rows], (selection, table)
            for c, x, a in zip(comma[1:], sheet[1:], rows, strict=True):
                counts = [a["enrolled"], a["active_30d"], a["enrolments"], a["completions"]]
                assert [int(v) for v in c[2:6]] == counts == x[2:6]
                assert int(c[7]) == a["attempts"] == x[7]
                assert c[6] == _rate(x[6])
                assert (x[6] is None) == (a["completion_rate"] is None)
                if x[6] is not None:
                    assert abs(x[6] - a["completion_rate"]) < 1e-4
            if table == "territori":
                # Each operator belongs to one comune: the rows add up to the summary.
                assert sum(r["enrolled"] for r in rows) == expected["enrolled"]
                assert sum(r["completions"] for r in rows) == expected["completions"]

        # The enrolled total links to the gradebook's list of the same operators.
        listed = client.get("/coordinamento/operatori", query_string=web).get_data(as_text=True)
        count = re.search(r"<caption>(\d+) operator[ei]</caption>", listed)
        assert count and int(count.group(1)) == expected["enrolled"], selection
        detail = _csv(client.get("/coordinamento/esporta/operatori.csv", query_string=web))
        assert len(detail) - 1 == expected["enrolments"], selection
        months = _csv(client.get("/coordinamento/esporta/mesi.csv", query_string=web))
        month_total = sum(int(r[1]) for r in months[1:])
        assert month_total == sum(  # months count the course chosen, if any
            e.completed
            for e in built
            if (viewer != "lazio" or e.region == "12")
            and (code is None or getattr(e, level) == code)
            and (course is None or e.course == course)
        ), selection
        sheet = _xlsx(client.get("/coordinamento/esporta/mesi.xlsx", query_string=web))
        assert sum(r[1] for r in sheet[1:]) == month_total

    with app.app_context():
        code = current_cycle().code

    @FAST
    @given(people=operators, picks=st.lists(selections(), min_size=1, max_size=3))
    def open_cycle(people, picks) -> None:  # noqa: ANN001
        build(people)
        for selection in picks:
            check(code, selection, live=True)

    open_cycle()
    assert built

    with app.app_context():
        close_cycle(current_cycle(), None)
        db.session.commit()

    @settings(FAST, max_examples=10)
    @given(selection=selections())
    def closed_cycle(selection) -> None:  # noqa: ANN001
        check(code, selection, live=False)

    closed_cycle()
