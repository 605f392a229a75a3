"""The comuni registry: `lgnetforma comuni import` and eligibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lgnetforma.extensions import db
from lgnetforma.models import Comune
from lgnetforma.services.coordination.registry import (
    DEFAULT_COMUNI_FILE,
    RegistryFileError,
    read_comuni_csv,
)

HEADER = (
    "istat_code,name,cadastral_code,province_code,province,province_name,"
    "region_code,region,population\n"
)
ROMA = "058091,Roma,H501,058,RM,Roma,12,Lazio,2755309\n"


def _comuni_state(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(Comune.istat_code, Comune.name, Comune.population).order_by(Comune.istat_code)
        ).all()


def test_import_prints_counts_and_second_run_changes_nothing(app, runner):
    # The fixture database was loaded from the shipped file: this is the second run.
    before = _comuni_state(app)
    result = runner.invoke(args=["comuni", "import"])
    assert result.exit_code == 0, result.output
    assert "Comuni nel registro: 7899" in result.output
    assert "più di 5000 abitanti): 2366" in result.output
    assert "Nuovi: 0, aggiornati: 0, invariati: 7899" in result.output
    assert _comuni_state(app) == before


def test_import_on_an_empty_registry_creates_everything(app, runner):
    with app.app_context():
        db.session.execute(Comune.__table__.delete())
        db.session.commit()
    result = runner.invoke(args=["comuni", "import", str(DEFAULT_COMUNI_FILE)])
    assert result.exit_code == 0, result.output
    assert "Nuovi: 7899" in result.output
    assert "2366" in result.output


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("058092,Fittizio,Z999,058,RM,Roma,12,Lazio,tanti\n", "popolazione 'tanti' non numerica"),
        ("58092,Fittizio,Z999,058,RM,Roma,12,Lazio,100\n", "istat_code '58092' non valido"),
        (
            "001001,Agliè bis,Z999,001,TO,Torino,01,Piemonte,100\n",
            "codice ISTAT 001001 duplicato (già alla riga 2)",
        ),
        ("058092,Fittizio,Z999\n", "3 valori invece di 9 (colonne mancanti)"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_nothing_changes(
    app, runner, tmp_path: Path, bad_row: str, reason: str
):
    before = _comuni_state(app)
    lines = DEFAULT_COMUNI_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    # Change a real comune too, to prove a refused file does not apply its good rows.
    edited = [line.replace(",Agliè,", ",Agliè Modificato,") for line in lines[:3]]
    content = "".join(edited + [bad_row] + lines[3:])
    path = tmp_path / "comuni.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["comuni", "import", str(path)])
    assert result.exit_code == 1
    assert f"riga 4: {reason}" in result.output
    assert "il registro non è stato modificato" in result.output
    assert _comuni_state(app) == before


def test_a_file_without_a_column_is_refused_at_line_1(app, runner, tmp_path: Path):
    path = tmp_path / "comuni.csv"
    path.write_text(HEADER.replace(",population", "") + ROMA[:-9] + "\n", encoding="utf-8")
    result = runner.invoke(args=["comuni", "import", str(path)])
    assert result.exit_code == 1
    assert "riga 1: mancano le colonne population" in result.output


def test_missing_population_means_not_eligible(app, runner, tmp_path: Path):
    path = tmp_path / "comuni.csv"
    path.write_text(HEADER + ROMA.replace("2755309", ""), encoding="utf-8")
    result = runner.invoke(args=["comuni", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "aggiornati: 1" in result.output
    assert "Comuni nel registro ma non nel file (mantenuti): 7898" in result.output
    with app.app_context():
        roma = db.session.scalar(select(Comune).filter_by(istat_code="058091"))
        assert roma.population is None
        assert not roma.is_eligible(5000)
        assert db.session.scalar(select(func.count(Comune.id))) == 7899


def test_reader_reports_every_bad_line_not_just_the_first():
    text = HEADER + "1,A,X,058,RM,Roma,12,Lazio,1\n" + "058091,,H501,058,RM,Roma,12,Lazio,x\n"
    with pytest.raises(RegistryFileError) as info:
        read_comuni_csv(text)
    problems = info.value.problems
    assert problems[0].startswith("riga 2: istat_code '1' non valido")
    assert any(p.startswith("riga 3: name vuoto") for p in problems)
    assert any(p.startswith("riga 3: popolazione 'x' non numerica") for p in problems)


def test_shipped_file_counts():
    rows = read_comuni_csv(DEFAULT_COMUNI_FILE.read_text(encoding="utf-8"))
    assert len(rows) == 7899
    assert sum(1 for r in rows if r.population and r.population > 5000) == 2366
    assert sum(1 for r in rows if r.population is None) == 3
