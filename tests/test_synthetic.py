"""The synthetic national dataset: realistic enough for load tests and report checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.services.platform.cycles import current_cycle
from tests.factories.courses import import_courses

NOW = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def courses(app):
    """The shipped courses: three, fifteen modules, a quiz in most."""
    import_courses(app, Path(__file__).resolve().parent.parent / "courses")


def _one(query: str) -> float:
    return db.session.execute(text(query)).scalar_one()


def test_operators_attempts_and_completions_look_like_a_national_cycle(app, courses):
    with app.app_context():
        cycle = current_cycle()
        report = seed_synthetic(3_000, seed=4, cycle=cycle, now=NOW)
        assert report.operators == 3_000
        # Every operator in an eligible comune, spread in proportion to population: Roma,
        # the largest, has the most, about its share of the eligible population.
        assert (
            _one(
                "SELECT COUNT(*) FROM user_account u JOIN comune c ON c.id = u.comune_id "
                f"WHERE u.role = 'operator' AND c.population > {cycle.population_threshold}"
            )
            == 3_000
        )
        top = db.session.execute(
            text(
                "SELECT c.name, COUNT(*) FROM user_account u JOIN comune c ON c.id = u.comune_id "
                "GROUP BY c.name ORDER BY COUNT(*) DESC LIMIT 1"
            )
        ).one()
        roma_share = _one(
            "SELECT CAST(population AS FLOAT) / (SELECT SUM(population) FROM comune "
            f"WHERE population > {cycle.population_threshold}) FROM comune "
            "WHERE istat_code = '058091'"
        )
        assert top[0] == "Roma"
        assert 0.6 * roma_share < top[1] / 3_000 < 1.4 * roma_share
        # About 19 attempts per operator, with a plausible pass/fail mix.
        assert 14 < report.attempts / 3_000 < 24
        pass_rate = _one(
            "SELECT AVG(CASE WHEN passed THEN 1.0 ELSE 0.0 END) FROM quiz_attempt "
            "WHERE submitted_at IS NOT NULL"
        )
        assert 0.3 < pass_rate < 0.7
        # Completions spread over the months of the cycle, none after "now".
        months = db.session.execute(text("SELECT completed_at FROM course_completion")).scalars()
        seen = {(m.year, m.month) if isinstance(m, datetime) else m[:7] for m in months}
        assert len(seen) >= 8
        assert report.course_completions > 0.3 * report.enrolments


def test_the_command_shows_progress_and_what_it_made(app, runner, courses):
    result = runner.invoke(args=["seed", "synthetic", "--operators", "1500", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Operatori" in result.output
    made = re.search(r"Creati 1500 operatori, (\d+) iscrizioni, (\d+) tentativi", result.output)
    assert made and int(made.group(2)) > 1500 * 14
    result = runner.invoke(args=["seed", "synthetic", "--operators", "0"])
    assert result.exit_code == 2 and "--operators" in result.output
