"""The `lgnetforma` command: Flask's own commands (run, routes, shell, db) and ours."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

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
    app.cli.add_command(reports_group)
    app.cli.add_command(mail_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(cycles_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    from lgnetforma.cli_spid import spid_group

    app.cli.add_command(spid_group)


def _audit(action: str, **kwargs: object) -> None:
    """An audit event from the command line: no account, no address. The caller commits."""
    from lgnetforma.services.audit import record

    record(action, actor=None, ip=None, **kwargs)  # type: ignore[arg-type]


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
    from lgnetforma.services.cycles import reporting_cycle
    from lgnetforma.services.registry import RegistryFileError, import_comuni

    cycle = reporting_cycle()  # the current one or, between two cycles, the latest
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


# --- reports ---------------------------------------------------------------------------


@click.group("reports", cls=AppGroup, help="I totali dietro i rapporti dei coordinatori.")
def reports_group() -> None:
    pass


@reports_group.command("check-tallies")
def reports_check_tallies() -> None:
    """Confronta i totali progressivi con un ricalcolo dai dati; esce con 1 se differiscono."""
    from lgnetforma.services import tallies

    found = tallies.differences()
    for table, key, figure, stored, recounted in found[:50]:
        click.echo(f"{table} {key}: {figure} = {stored}, ricalcolato {recounted}")
    if found:
        _fail(
            f"{len(found)} totali non corrispondono ai dati: "
            "ricostruiscili con `lgnetforma reports rebuild-tallies`."
        )
        return
    click.echo("I totali corrispondono ai dati.")


@reports_group.command("rebuild-tallies")
def reports_rebuild_tallies() -> None:
    """Ricalcola da capo i totali progressivi (dopo dati scritti fuori dall'applicazione)."""
    from lgnetforma.services import tallies

    rows = tallies.rebuild()
    db.session.commit()
    click.echo(f"Totali ricostruiti: {rows} righe.")


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


# --- tokens ----------------------------------------------------------------------------


@click.group("tokens", cls=AppGroup, help="I token personali per l'API JSON.")
def tokens_group() -> None:
    pass


def _token_owner(email: str):  # noqa: ANN202
    from lgnetforma.services.accounts import user_by_email

    user = user_by_email(email)
    if user is None or user.deleted_at is not None:
        _fail(f"--email: nessun account {email!r}.")
    return user


@tokens_group.command("create")
@click.option("--email", required=True, help="L'account titolare del token.")
@click.option("--name", default="riga di comando", show_default=True, help="Per riconoscerlo.")
def tokens_create(email: str, name: str) -> None:
    """Crea un token e lo stampa (solo questa volta) sullo standard output."""
    from lgnetforma.services.errors import ServiceError
    from lgnetforma.services.tokens import create_token

    user = _token_owner(email)
    try:
        token, plaintext = create_token(user, name)
    except ServiceError as error:
        db.session.rollback()
        _fail(f"--{error.field or 'email'}: {error}")
        return
    db.session.commit()
    click.echo(
        f"Token {token.prefix}… creato per {user.email}: copialo ora, non sarà più mostrato.",
        err=True,
    )
    click.echo(plaintext)


@tokens_group.command("revoke")
@click.option("--email", required=True, help="L'account titolare del token.")
@click.option("--prefix", required=True, help="I primi caratteri del token (lgf_…).")
def tokens_revoke(email: str, prefix: str) -> None:
    """Revoca il token attivo che inizia con PREFIX."""
    from lgnetforma.services.tokens import (
        TOKEN_PREFIX,
        normalise_prefix,
        revoke_token,
        tokens_by_prefix,
    )

    user = _token_owner(email)
    if len(normalise_prefix(prefix)) < len(TOKEN_PREFIX) + 4:
        _fail(f"--prefix: indica almeno 4 caratteri dopo {TOKEN_PREFIX!r}.")
    matches = tokens_by_prefix(user, prefix)
    if not matches:
        _fail(f"--prefix: nessun token attivo di {user.email} inizia con {prefix!r}.")
    if len(matches) > 1:
        _fail(
            f"--prefix: {len(matches)} token attivi iniziano con {prefix!r}: "
            f"{', '.join(t.prefix for t in matches)}; indica più caratteri."
        )
    revoke_token(matches[0], user)
    db.session.commit()
    click.echo(f"Token {matches[0].prefix}… ({matches[0].name}) revocato.")


# --- cycles ----------------------------------------------------------------------------


@click.group("cycles", cls=AppGroup, help="I cicli formativi: elenco, apertura, chiusura.")
def cycles_group() -> None:
    pass


def _when(value) -> str:  # noqa: ANN001
    return value.strftime("%d/%m/%Y %H:%M UTC")


@cycles_group.command("list")
def cycles_list() -> None:
    """Elenca i cicli con date, soglia, stato e data dei dati congelati."""
    from lgnetforma.services.cycles import all_cycles, count_eligible_comuni, snapshots_by_cycle

    snapshots = snapshots_by_cycle()
    for cycle in all_cycles():
        if cycle.closed_at is not None:
            snapshot = snapshots.get(cycle.id)
            frozen = snapshot.created_at if snapshot else cycle.closed_at
            state = f"chiuso, dati congelati il {_when(frozen)}"
        else:
            state = "aperto, corrente" if cycle.is_current else "aperto"
        click.echo(
            f"{cycle.code}  dal {cycle.start_date:%d/%m/%Y} al {cycle.end_date:%d/%m/%Y}  "
            f"soglia {cycle.population_threshold} abitanti "
            f"({count_eligible_comuni(cycle)} comuni idonei)  {state}"
        )


@cycles_group.command("close")
@click.argument("code")
def cycles_close(code: str) -> None:
    """Chiude il ciclo CODE: ne congela i dati, che non cambieranno più."""
    from lgnetforma.services.cycles import close_cycle, cycle_by_code
    from lgnetforma.services.errors import ServiceError

    cycle = cycle_by_code(code.strip())
    if cycle is None:
        _fail(f"nessun ciclo {code!r}: 'lgnetforma cycles list' mostra quelli esistenti.")
    was_current = cycle.is_current
    try:
        snapshot = close_cycle(cycle, actor=None)
    except ServiceError as error:
        db.session.rollback()
        _fail(str(error))
        return
    _audit("cycle.closed", object_type="cycle", object_id=cycle.code)
    db.session.commit()
    by_comune = snapshot.data["by_comune"]

    def total(name: str) -> int:
        return sum(row[by_comune["columns"].index(name)] for row in by_comune["rows"])

    click.echo(
        f"Ciclo {cycle.code} chiuso: dati congelati il {_when(snapshot.created_at)} "
        f"({total('enrolments')} iscrizioni, {total('completions')} corsi completati, "
        f"{len(by_comune['rows'])} comuni con attività)."
    )
    if was_current:
        click.echo(
            "Nessun ciclo è ora corrente: aprine uno con "
            "'lgnetforma cycles open CODICE --start … --end … --threshold … --current'."
        )


def _date_option(value: str | None, option: str, example: str):  # noqa: ANN202
    from datetime import date

    if not value:
        _fail(f"{option}: indica la data nella forma AAAA-MM-GG, ad esempio {example}.")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option}: {value!r} non è una data valida (AAAA-MM-GG, ad esempio {example}).")


@cycles_group.command("open")
@click.argument("code")
@click.option("--start", help="Il primo giorno, AAAA-MM-GG.")
@click.option("--end", help="L'ultimo giorno, AAAA-MM-GG.")
@click.option("--threshold", help="Idonei i comuni con più abitanti di questa soglia.")
@click.option("--current", is_flag=True, help="Rende corrente il nuovo ciclo.")
def cycles_open(
    code: str, start: str | None, end: str | None, threshold: str | None, current: bool
) -> None:
    """Apre il ciclo CODE (ad esempio 2027-2028) con le sue date e la sua soglia."""
    from lgnetforma.services.cycles import count_eligible_comuni, open_cycle
    from lgnetforma.services.errors import ServiceError

    start_date = _date_option(start, "--start", "2027-01-01")
    end_date = _date_option(end, "--end", "2028-12-31")
    if threshold is None or not threshold.strip().isdigit():
        _fail(
            "--threshold: indica un numero intero di abitanti maggiore o uguale a zero, "
            "ad esempio 5000."
        )
    options = {"code": "CODE", "start_date": "--start", "end_date": "--end"}
    try:
        cycle = open_cycle(code, start_date, end_date, int(threshold), make_current=current)
    except ServiceError as error:
        db.session.rollback()
        _fail(f"{options.get(error.field or '', '--threshold')}: {error}")
        return
    db.session.commit()
    click.echo(
        f"Ciclo {cycle.code} aperto, dal {cycle.start_date:%d/%m/%Y} al "
        f"{cycle.end_date:%d/%m/%Y}: {count_eligible_comuni(cycle)} comuni idonei "
        f"(più di {cycle.population_threshold} abitanti)"
        + (", corrente." if cycle.is_current else ".")
    )


# --- backup and restore ----------------------------------------------------------------


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Scrive in FILE un archivio portabile (ZIP) di tutto il database."""
    import time

    from lgnetforma.services.backup import BackupError, backup

    started = time.perf_counter()
    try:
        manifest = backup(file)
    except BackupError as error:
        _fail(str(error))
        return
    # Written after the archive, so the archive does not contain its own event.
    _audit("backup.created", details={"file": file.name, "rows": manifest.total_rows})
    db.session.commit()
    for table in manifest.tables:
        click.echo(f"  {table.name:<20} {table.rows:>10} righe")
    size = file.stat().st_size / 1_000_000
    click.echo(
        f"Backup scritto in {file}: {len(manifest.tables)} tabelle, {manifest.total_rows} righe, "
        f"{size:.1f} MB, revisione {manifest.alembic_revision}, "
        f"in {time.perf_counter() - started:.1f} s."
    )


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--unsigned",
    is_flag=True,
    help="Accetta un archivio senza firma valida (di un'altra installazione, o di prima "
    "della firma): solo se ne conosci l'origine.",
)
@with_appcontext
def restore_command(file: Path, unsigned: bool) -> None:
    """Ripristina l'archivio FILE su un database vuoto (SQLite o PostgreSQL)."""
    import time

    from lgnetforma.services.backup import BackupError, restore

    started = time.perf_counter()
    if unsigned:
        click.echo("Attenzione: --unsigned, la firma dell'archivio non viene verificata.", err=True)
    try:
        report = restore(file, unsigned=unsigned)
    except BackupError as error:
        _fail(str(error))
        return
    # The restored database is an exact copy of the archive (its checksums are compared
    # in the tests), so the restore is not appended to its audit trail: it goes to the log.
    current_app.logger.warning(
        "audit: backup.restored file=%r rows=%s archive_created_at=%r",
        file.name,
        report.total_rows,
        report.manifest.created_at,
    )
    for name, rows in report.rows.items():
        click.echo(f"  {name:<20} {rows:>10} righe")
    click.echo(
        f"Ripristino completato da {file}: {len(report.rows)} tabelle, {report.total_rows} "
        f"righe (archivio del {report.manifest.created_at}, da {report.manifest.dialect}, "
        f"revisione {report.manifest.alembic_revision})"
        + (", schema creato" if report.migrated else "")
        + f", in {time.perf_counter() - started:.1f} s."
    )
