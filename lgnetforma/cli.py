"""The `lgnetforma` command: Flask's own commands (run, routes, shell, db) and ours."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from lgnetforma.extensions import db


def _create_app() -> Flask:
    from lgnetforma import create_app
    from lgnetforma.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"Errore: {error}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """LGNetforma: la piattaforma del piano formativo LGNetforma 2025-2026."""


def register_commands(app: Flask) -> None:
    app.cli.add_command(comuni_group)
    app.cli.add_command(users_group)
    app.cli.add_command(courses_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(seed_group)
    app.cli.add_command(mail_group)


def _fail(message: str) -> None:
    click.echo(f"Errore: {message}", err=True)
    sys.exit(1)


# --- comuni ----------------------------------------------------------------------------


@click.group("comuni", cls=AppGroup, help="Il registro ISTAT dei comuni.")
def comuni_group() -> None:
    pass


@comuni_group.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def comuni_import(file: Path | None) -> None:
    """Carica o aggiorna il registro dei comuni (predefinito: il file ISTAT incluso)."""
    from lgnetforma.services.cycles import current_cycle
    from lgnetforma.services.registry import RegistryFileError, import_comuni

    cycle = current_cycle()
    try:
        report = import_comuni(file, cycle=cycle)
    except RegistryFileError as error:
        for problem in error.problems:
            click.echo(f"{file}: {problem}", err=True)
        _fail("file rifiutato, il registro non è stato modificato.")
        return
    click.echo(f"Comuni nel registro: {report.total}")
    click.echo(
        f"Comuni idonei al ciclo {cycle.code} (più di {cycle.population_threshold} abitanti): "
        f"{report.eligible}"
    )
    click.echo(
        f"Nuovi: {report.created}, aggiornati: {report.updated}, invariati: {report.unchanged}"
    )
    if report.missing_from_file:
        click.echo(
            f"Comuni nel registro ma non nel file (mantenuti): {len(report.missing_from_file)}"
        )


# --- users -----------------------------------------------------------------------------


@click.group("users", cls=AppGroup, help="Gli account.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["operator", "trainer", "coordinator", "admin"]),
)
@click.option(
    "--comune",
    "comune_code",
    help="Codice ISTAT: il comune di un operatore o l'ambito di un coordinatore comunale.",
)
@click.option("--region", "region_code", help="Codice ISTAT della regione di un coordinatore.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_create(
    email: str,
    full_name: str,
    role: str,
    comune_code: str | None,
    region_code: str | None,
    password: str,
) -> None:
    """Crea un account confermato."""
    from lgnetforma.models import Comune, Region
    from lgnetforma.services.accounts import create_user
    from lgnetforma.services.errors import ServiceError

    comune = region = None
    if comune_code:
        comune = db.session.scalar(db.select(Comune).filter_by(istat_code=comune_code))
        if comune is None:
            _fail(f"--comune: nessun comune con codice ISTAT {comune_code!r}.")
    if region_code:
        region = db.session.scalar(db.select(Region).filter_by(code=region_code.zfill(2)))
        if region is None:
            _fail(f"--region: nessuna regione con codice {region_code!r}.")
        if role != "coordinator":
            _fail("--region vale solo per i coordinatori.")
    try:
        user = create_user(
            email=email,
            full_name=full_name,
            role=role,
            password=password,
            comune=comune if role == "operator" else None,
            scope_region=region,
            scope_comune=comune if role == "coordinator" else None,
        )
    except ServiceError as error:
        db.session.rollback()
        _fail(f"--{error.field or 'email'}: {error}")
        return
    db.session.commit()
    click.echo(f"Creato {user.role} {user.email} (id {user.id}).")


# --- courses ---------------------------------------------------------------------------


def _default_courses_dir() -> Path:
    from lgnetforma import PROJECT_ROOT

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
    from lgnetforma.services.courses import import_directory

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
    from lgnetforma.services.courses import export_directory

    directory.mkdir(parents=True, exist_ok=True)
    written = export_directory(directory)
    click.echo(f"{len(written)} file scritti in {directory}.")


# --- demo ------------------------------------------------------------------------------


@click.group("demo", cls=AppGroup, help="Dati dimostrativi.")
def demo_group() -> None:
    pass


@demo_group.command("create")
def demo_create() -> None:
    """Crea (una volta) un account dimostrativo per ruolo e ne stampa le credenziali."""
    from lgnetforma.services.demo import create_demo_accounts

    click.echo("Account dimostrativi (solo per prova, non usarli in produzione):")
    for account in create_demo_accounts():
        click.echo(f"  {account.role:<12} {account.email:<36} password: {account.password}")


# --- seed ------------------------------------------------------------------------------


@click.group("seed", cls=AppGroup, help="Dati sintetici per prove di carico e di calcolo.")
def seed_group() -> None:
    pass


@seed_group.command("synthetic")
@click.option("--operators", type=click.IntRange(1, 1_000_000), required=True)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True)
def seed_synthetic_command(operators: int, seed_value: int) -> None:
    """Genera OPERATORS operatori sintetici con iscrizioni, tentativi e completamenti."""
    import time

    from lgnetforma.services.cycles import current_cycle
    from lgnetforma.services.synthetic import seed_synthetic

    started = time.perf_counter()
    with click.progressbar(length=operators, label="Operatori") as bar:
        try:
            report = seed_synthetic(
                operators, seed=seed_value, cycle=current_cycle(), progress=bar.update
            )
        except ValueError as error:
            _fail(str(error))
            return
    elapsed = time.perf_counter() - started
    click.echo(
        f"Creati {report.operators} operatori, {report.enrolments} iscrizioni, "
        f"{report.attempts} tentativi, {report.module_completions} moduli completati, "
        f"{report.course_completions} corsi completati in {elapsed:.1f} s."
    )


# --- mail ------------------------------------------------------------------------------


@click.group("mail", cls=AppGroup, help="La posta in uscita.")
def mail_group() -> None:
    pass


@mail_group.command("retry")
def mail_retry() -> None:
    """Riprova a consegnare i messaggi rimasti in coda."""
    from lgnetforma.services.mail import retry_pending

    delivered, pending = retry_pending()
    click.echo(f"Consegnati: {delivered}, ancora in coda: {pending}")
