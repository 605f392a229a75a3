"""`lgnetforma courses`: validate, import and export the Markdown courses."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail

# --- courses ---------------------------------------------------------------------------


def _default_courses_dir() -> Path:
    from lgnetforma.paths import PROJECT_ROOT

    return PROJECT_ROOT / "courses"


@click.group("courses", cls=AppGroup, help="I corsi in Markdown.")
def courses_group() -> None:
    pass


_DIR = click.Path(file_okay=False, path_type=Path)


@courses_group.command("validate")
@click.argument("directory", required=False, type=_DIR)
def courses_validate(directory: Path | None) -> None:
    """Controlla i corsi di DIRECTORY (predefinita: courses/) e stampa ogni problema."""
    from lgnetforma.content import parse_courses_dir

    directory = directory or _default_courses_dir()
    if not directory.is_dir():
        _fail(f"{directory}: la cartella non esiste.")
    results = parse_courses_dir(directory)
    errors = warnings = 0
    for result in results:
        for problem in result.problems:
            click.echo(str(problem), err=problem.severity == "error")
        errors += len(result.errors)
        warnings += len(result.warnings)
    click.echo(f"{len(results)} corsi controllati: {errors} errori, {warnings} avvisi.")
    if errors:
        sys.exit(1)


@courses_group.command("import")
@click.argument("directory", required=False, type=_DIR)
def courses_import(directory: Path | None) -> None:
    """Importa i corsi di DIRECTORY (predefinita: courses/), un corso per transazione."""
    from lgnetforma.services.catalogue.courses import import_directory

    directory = directory or _default_courses_dir()
    if not directory.is_dir():
        _fail(f"{directory}: la cartella non esiste.")
    outcome = import_directory(directory)
    for result in outcome.results:
        for problem in result.problems:
            click.echo(str(problem), err=problem.severity == "error")
    created = 0
    for changes in outcome.changes:
        for line in changes.created:
            click.echo(f"creato: {line}")
        created += len(changes.created)
    click.echo(
        f"{len(outcome.changes)} corsi importati, {created} novità; "
        f"{len(outcome.refused)} corsi rifiutati per errori."
    )
    if outcome.refused:
        sys.exit(1)


@courses_group.command("export")
@click.argument("directory", type=_DIR)
def courses_export(directory: Path) -> None:
    """Scrive in DIRECTORY la versione corrente di ogni corso, nello stesso formato."""
    from lgnetforma.services.catalogue.courses import export_directory

    directory.mkdir(parents=True, exist_ok=True)
    written = export_directory(directory)
    click.echo(f"{len(written)} file scritti in {directory}.")
