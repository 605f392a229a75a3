"""Backups: SQLite → PostgreSQL → SQLite with identical figures and data; damaged archives
and non-empty targets are refused with the database untouched."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from lgnetforma.dev.synthetic import seed_synthetic
from lgnetforma.extensions import db
from lgnetforma.models import (
    AuditEvent,
    Course,
    JobRun,
    MediaFile,
    OutboundMail,
    Region,
    ReminderSchedule,
    User,
)
from lgnetforma.paths import PACKAGE_ROOT
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.cycles import (
    close_cycle,
    current_cycle,
    cycle_by_code,
    open_cycle,
)
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import facts
from lgnetforma.services.reporting import figures as figures_service
from tests.factories.courses import import_courses, write_course
from tests.helpers import _admin_engine, _pg_url, _worker
from tests.services import POSTGRES_URL, postgres_reachable, require

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
# The newest migration: an archive records the revision its database was at.
HEAD = ScriptDirectory(str(PACKAGE_ROOT / "migrations")).get_current_head()
CONFIG = {"TESTING": True, "SECRET_KEY": "tests-only-secret-key", "RATELIMIT_ENABLED": False}


@contextmanager
def _app(url: str) -> Iterator[Any]:
    from lgnetforma import create_app

    app = create_app({**CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def new_postgres() -> Iterator[Any]:
    """make() creates an empty PostgreSQL database and returns its URL."""
    require(postgres_reachable(), f"PostgreSQL is not reachable at {POSTGRES_URL}")
    engine = _admin_engine()
    names: list[str] = []

    def make() -> str:
        name = f"lgf_bk_{_worker()}_{uuid.uuid4().hex[:10]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return _pg_url(name)

    yield make
    with engine.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _migrate(app: Any) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def _populate(app: Any, tmp_path: Path, operators: int) -> None:
    """Courses, synthetic learners and a bit of every other table, binary and JSON included."""
    root = tmp_path / "courses"
    for n in range(3):
        write_course(root, f"corso-{n}", attempts=3)
    import_courses(app, root)
    with app.app_context():
        seed_synthetic(operators, seed=9, cycle=current_cycle(), now=NOW)
        course = db.session.scalar(select(Course).order_by(Course.id))
        db.session.add(
            MediaFile(
                course_id=course.id,
                path="media/logo.png",
                content=bytes(range(256)) * 3,
                content_hash="x" * 64,
                content_type="image/png",
            )
        )
        admin = User(email="admin@example.it", full_name="Àdmin Ünicode", role="admin")
        db.session.add(admin)
        db.session.add(OutboundMail(recipient="a@example.it", subject="Ciao", body="Testo\n"))
        db.session.flush()
        db.session.add(
            AuditEvent(
                action="test",
                actor_id=admin.id,
                ip="::1",
                details={"nested": {"list": [1, 2.5, None, True]}, "text": "è"},
            )
        )
        from lgnetforma.services.people.tokens import create_token

        create_token(admin, "script")
        # The worker's tables: a scheduled run and the reminder schedule.
        db.session.add(JobRun(job="purge", period="2026-01-01", ok=True, summary="è ok"))
        db.session.add(ReminderSchedule(id=1, enabled=True, weekday=0, hour=9, inactive_days=14))
        old = open_cycle("2023-2024", date(2023, 1, 1), date(2024, 12, 31), 3000)
        close_cycle(old, admin, now=NOW)
        db.session.commit()


def _state(app: Any) -> dict:
    """The report figures of both cycles for several scopes, and every table's row count."""
    state: dict = {}
    with app.app_context():
        lazio = db.session.scalar(select(Region.id).filter_by(code="12"))
        scopes = {"national": Scope("national"), "lazio": Scope("region", region_id=lazio)}
        for code in ("2025-2026", "2023-2024"):
            cycle = cycle_by_code(code)
            for name, scope in scopes.items():
                state[code, name, "summary"] = figures_service.summary(
                    cycle, scope, now=NOW
                ).as_dict()
                state[code, name, "coverage"] = coverage_service.coverage(cycle, scope).as_dict()
                state[code, name, "months"] = [
                    (m.label, m.completions)
                    for m in figures_service.completions_by_month(cycle, scope)
                ]
                for group_by in facts.GROUP_BY:
                    state[code, name, group_by] = [
                        (row.as_dict(), row.population)
                        for row in figures_service.completion_report(
                            cycle, scope, group_by, now=NOW
                        )
                    ]
        for table in db.metadata.sorted_tables:
            state["rows", table.name] = db.session.scalar(select(func.count()).select_from(table))
    return state


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def _checksums(path: Path) -> dict[str, tuple[int, str]]:
    return {t["name"]: (t["rows"], t["sha256"]) for t in _manifest(path)["tables"]}


def test_sqlite_to_postgresql_and_back(sqlite_template, new_postgres, tmp_path):
    source_path = tmp_path / "source.sqlite"
    shutil.copyfile(sqlite_template, source_path)
    with _app(f"sqlite:///{source_path}") as source:
        _populate(source, tmp_path, operators=3_000)
        expected = _state(source)
        result = source.test_cli_runner().invoke(args=["backup", str(tmp_path / "a.zip")])
        assert result.exit_code == 0, result.output
        assert "Backup scritto" in result.output and "quiz_attempt" in result.output
    assert expected["rows", "user_account"] > 3_000
    assert expected["rows", "cycle_snapshot"] == expected["rows", "media_file"] == 1
    manifest = _manifest(tmp_path / "a.zip")
    assert manifest["dialect"] == "sqlite" and manifest["alembic_revision"] == HEAD
    assert [t["name"] for t in manifest["tables"]] == [t.name for t in db.metadata.sorted_tables]

    # On a migrated PostgreSQL database (which holds the cycle the migrations create).
    with _app(new_postgres()) as target:
        _migrate(target)
        result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "a.zip")])
        assert result.exit_code == 0, result.output
        assert f"{sum(v for k, v in expected.items() if k[0] == 'rows')} righe" in result.output
        assert _state(target) == expected
        result = target.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.zip")])
        assert result.exit_code == 0, result.output
        with target.app_context():
            # The sequences moved past the restored ids.
            user = User(email="nuovo@example.it", full_name="Nuovo", role="trainer")
            db.session.add(user)
            db.session.commit()
            assert user.id == expected["rows", "user_account"] + 1
            media = db.session.scalar(select(MediaFile))
            assert media.content == bytes(range(256)) * 3
            event = db.session.scalar(select(AuditEvent))
            assert event.details == {"nested": {"list": [1, 2.5, None, True]}, "text": "è"}
    assert _manifest(tmp_path / "b.zip")["dialect"] == "postgresql"
    assert _checksums(tmp_path / "b.zip") == _checksums(tmp_path / "a.zip")

    # And back, on a SQLite file without any schema: the restore creates it.
    with _app(f"sqlite:///{tmp_path / 'back.sqlite'}") as back:
        result = back.test_cli_runner().invoke(args=["restore", str(tmp_path / "b.zip")])
        assert result.exit_code == 0, result.output
        assert "schema creato" in result.output
        assert _state(back) == expected
        assert (
            back.test_cli_runner().invoke(args=["backup", str(tmp_path / "c.zip")]).exit_code == 0
        )
    assert _checksums(tmp_path / "c.zip") == _checksums(tmp_path / "a.zip")


def _counts(app: Any) -> dict[str, int] | None:
    """Row counts of every application table, or None when there is no schema at all."""
    with app.app_context():
        present = set(inspect(db.engine).get_table_names())
        if not present:
            return None
        return {
            t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables
            if t.name in present
        }


def _signature(manifest: bytes, key: str = CONFIG["SECRET_KEY"]) -> str:
    return "hmac-sha256:" + hmac.new(key.encode(), manifest, hashlib.sha256).hexdigest()


def _rewrite(source: Path, target: Path, change, *, sign: bool = True) -> Path:  # noqa: ANN001
    """Copy an archive member by member; change(name, data) returns new data or None to drop.
    The manifest is signed again as the platform would (``sign``), so the checks after the
    signature are the ones exercised."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename == "manifest.sig":
                continue
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info.filename, data)
                if info.filename == "manifest.json" and sign:
                    new.writestr("manifest.sig", _signature(data))
    return target


def _damaged(good: Path, tmp_path: Path) -> list[tuple[str, Path, str]]:
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(raw[: len(raw) // 2])
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"questo non e' un archivio\n" * 100)

    def tamper(name: str, data: bytes) -> bytes:
        return data.replace(b"Lazio", b"Lazia") if name == "data/region.jsonl" else data

    def drop(dropped: str):  # noqa: ANN202
        return lambda name, data: None if name == dropped else data

    def manifest(edit):  # noqa: ANN001, ANN202
        def change(name: str, data: bytes) -> bytes:
            if name != "manifest.json":
                return data
            document = json.loads(data)
            edit(document)
            return json.dumps(document).encode()

        return change

    def more_rows(document: dict) -> None:
        document["tables"][0]["rows"] += 1

    def future(document: dict) -> None:
        document["alembic_revision"] = "9999_future"

    def extra_table(document: dict) -> None:
        document["tables"].append(
            {"name": "nuova_tabella", "file": "data/region.jsonl", "rows": 0, "sha256": "0"}
        )

    return [
        ("truncated", truncated, "non è un archivio ZIP integro"),
        ("garbage", garbage, "non è un archivio ZIP integro"),
        ("missing file", tmp_path / "nofile.zip", "nofile.zip non esiste"),
        (
            "tampered",
            _rewrite(good, tmp_path / "tampered.zip", tamper),
            "data/region.jsonl è stato alterato o è danneggiato",
        ),
        (
            "no manifest",
            _rewrite(good, tmp_path / "nomanifest.zip", drop("manifest.json")),
            "manca manifest.json",
        ),
        (
            "no data file",
            _rewrite(good, tmp_path / "nodata.zip", drop("data/comune.jsonl")),
            "manca il file data/comune.jsonl",
        ),
        (
            "bad manifest",
            _rewrite(
                good, tmp_path / "badmanifest.zip", lambda n, d: b"{" if n == "manifest.json" else d
            ),
            "manifest.json non è leggibile",
        ),
        (
            "row count",
            _rewrite(good, tmp_path / "rows.zip", manifest(more_rows)),
            "il manifesto ne dichiara",
        ),
        (
            "unknown revision",
            _rewrite(good, tmp_path / "future.zip", manifest(future)),
            "revisione 9999_future, che questa versione di LGNetforma non conosce",
        ),
        (
            "unknown table",
            _rewrite(good, tmp_path / "table.zip", manifest(extra_table)),
            "la tabella nuova_tabella, che questa versione di LGNetforma non conosce",
        ),
    ]


def test_damaged_archives_are_refused_and_nothing_changes(app, tmp_path):
    good = tmp_path / "good.zip"
    result = app.test_cli_runner().invoke(args=["backup", str(good)])
    assert result.exit_code == 0, result.output
    targets = {"this database": app}
    with _app(f"sqlite:///{tmp_path / 'empty.sqlite'}") as blank:
        targets["a database without schema"] = blank
        for label, path, message in _damaged(good, tmp_path):
            for where, target in targets.items():
                before = _counts(target)
                result = target.test_cli_runner().invoke(args=["restore", str(path)])
                assert result.exit_code == 1, (label, where, result.output)
                assert result.output.startswith("Errore: "), (label, result.output)
                assert message in result.output, (label, result.output)
                assert _counts(target) == before, (label, where)
        assert _counts(blank) is None  # not even the schema was created


def test_restore_refuses_a_database_that_is_not_empty(app, tmp_path):
    archive = tmp_path / "a.zip"
    assert app.test_cli_runner().invoke(args=["backup", str(archive)]).exit_code == 0
    before = _counts(app)
    assert before["comune"] > 7000
    result = app.test_cli_runner().invoke(args=["restore", str(archive)])
    assert result.exit_code == 1
    assert "Errore: Il database di destinazione non è vuoto" in result.output
    assert "comune (" in result.output
    assert _counts(app) == before

    # One more cycle than the migrations create is data too.
    with _app(f"sqlite:///{tmp_path / 'cycles.sqlite'}") as target:
        _migrate(target)
        with target.app_context():
            open_cycle("2027-2028", date(2027, 1, 1), date(2028, 12, 31), 5000)
            db.session.commit()
        before = _counts(target)
        result = target.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 1 and "non è vuoto" in result.output
        assert _counts(target) == before

    # A schema at another revision.
    with _app(f"sqlite:///{tmp_path / 'old.sqlite'}") as target:
        from flask_migrate import upgrade

        with target.app_context():
            upgrade(revision="0003_coordination")
        before = _counts(target)
        result = target.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 1
        assert f"alla revisione 0003_coordination, l'archivio alla {HEAD}" in result.output
        assert _counts(target) == before


def test_backup_refuses_a_path_it_cannot_write(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", str(tmp_path / "manca" / "a.zip")])
    assert result.exit_code == 1 and "Errore: La cartella" in result.output
    assert "non esiste" in result.output
    folder = tmp_path / "cartella"
    folder.mkdir()
    result = runner.invoke(args=["backup", str(folder)])
    assert result.exit_code == 1 and "è una cartella" in result.output
    result = runner.invoke(args=["restore", str(folder)])
    assert result.exit_code == 1 and "è una cartella" in result.output
    assert not list(folder.iterdir())


# --- trust, second pass (SECURITY.md "Backups"): probes of crafted archives ---------------


def _edit_table(good: Path, target: Path, table: str, edit) -> Path:  # noqa: ANN001
    """Rewrite one table's lines with edit(lines) -> lines, keeping the manifest consistent
    (row count, SHA-256) and signed: only the values themselves are wrong."""
    member = f"data/{table}.jsonl"
    with zipfile.ZipFile(good) as archive:
        lines = archive.read(member).splitlines(keepends=True)
    data = b"".join(edit(lines))

    def change(name: str, content: bytes) -> bytes:
        if name == member:
            return data
        if name == "manifest.json":
            document = json.loads(content)
            for entry in document["tables"]:
                if entry["name"] == table:
                    entry["rows"] = len(data.splitlines())
                    entry["sha256"] = hashlib.sha256(data).hexdigest()
            return json.dumps(document).encode()
        return content

    return _rewrite(good, target, change)


def _first_row(edit):  # noqa: ANN001, ANN202
    def lines(rows: list[bytes]) -> list[bytes]:
        record = json.loads(rows[0])
        edit(record)
        return [json.dumps(record).encode() + b"\n", *rows[1:]]

    return lines


@pytest.fixture
def blank_target(backend, new_postgres, tmp_path):  # noqa: ANN001, ANN201
    """An empty database of the parametrised kind, without schema."""
    if backend == "postgresql":
        return new_postgres()
    return f"sqlite:///{tmp_path / 'blank.sqlite'}"


def test_crafted_archives_end_in_a_clear_error_naming_table_and_line(app, blank_target, tmp_path):
    good = tmp_path / "good.zip"
    assert app.test_cli_runner().invoke(args=["backup", str(good)]).exit_code == 0

    def population(value):  # noqa: ANN001, ANN202
        return _first_row(lambda r: r.update(population=value))

    cases = [
        ("bad type", "comune", population("molti"), "riga 1, colonna population"),
        ("bool for int", "comune", population(True), "serve un numero intero"),
        ("huge int", "comune", population(2**70), "fuori dall'intervallo"),
        ("NUL", "comune", _first_row(lambda r: r.update(name="Ro\x00ma")), "carattere NUL"),
        (
            "too long",
            "province",
            _first_row(lambda r: r.update(abbreviation="X" * 500)),
            "colonna abbreviation: testo di 500 caratteri",
        ),
        ("bad date", "cycle", _first_row(lambda r: r.update(starts_on="ieri")), "starts_on"),
        ("missing value", "comune", _first_row(lambda r: r.pop("name")), "obbligatorio"),
        (
            "duplicate key",
            "region",
            lambda rows: [rows[0], rows[0], *rows[1:]],
            "data/region.jsonl (tabella region), riga",
        ),
        (
            "foreign key",
            "comune",
            _first_row(lambda r: r.update(region_id=99999)),
            "data/comune.jsonl (tabella comune), riga",
        ),
    ]
    with _app(blank_target) as target:
        for label, table, edit, message in cases:
            archive = _edit_table(good, tmp_path / f"{label}.zip", table, edit)
            result = target.test_cli_runner().invoke(args=["restore", str(archive)])
            assert result.exit_code == 1, (label, result.output)
            # (the schema creation may log before it, on a database without one)
            last = result.output.strip().splitlines()[-1]
            assert last.startswith("Errore: "), (label, result.output)
            assert message in last, (label, result.output)
            assert "Traceback" not in result.output
            counts = _counts(target)
            assert counts is None or not any(counts.values()) or counts.get("cycle") == 1, label
        # The good archive still restores there afterwards: nothing was half-written.
        result = target.test_cli_runner().invoke(args=["restore", str(good)])
        assert result.exit_code == 0, result.output


def test_partial_unsigned_and_oversized_archives_are_refused(app, tmp_path):
    good = tmp_path / "good.zip"
    assert app.test_cli_runner().invoke(args=["backup", str(good)]).exit_code == 0
    keep = {"manifest.json", "data/region.jsonl", "data/province.jsonl"}

    def only_a_few(name: str, data: bytes) -> bytes | None:
        if name == "manifest.json":
            document = json.loads(data)
            document["tables"] = [t for t in document["tables"] if t["file"] in keep]
            return json.dumps(document).encode()
        return data if name in keep else None

    partial = _rewrite(good, tmp_path / "partial.zip", only_a_few)
    with _app(f"sqlite:///{tmp_path / 'seeded.sqlite'}") as target:
        _migrate(target)
        before = _counts(target)
        assert before["cycle"] == 1  # the cycle the migrations create
        result = target.test_cli_runner().invoke(args=["restore", str(partial)])
        assert result.exit_code == 1 and "L'archivio è incompleto: mancano le tabelle" in (
            result.output
        )
        assert _counts(target) == before

        # Changed after signing (or made elsewhere): refused, unless --unsigned is given.
        resigned = _rewrite(good, tmp_path / "other-key.zip", lambda n, d: d, sign=False)
        with zipfile.ZipFile(resigned, "a") as archive, zipfile.ZipFile(good) as original:
            archive.writestr(
                "manifest.sig", _signature(original.read("manifest.json"), "altra chiave")
            )
        for archive in (
            resigned,
            _rewrite(good, tmp_path / "nosig.zip", lambda n, d: d, sign=False),
        ):
            result = target.test_cli_runner().invoke(args=["restore", str(archive)])
            assert result.exit_code == 1 and "firma dell'archivio manca o non corrisponde" in (
                result.output
            ), result.output
            assert _counts(target) == before
        result = target.test_cli_runner().invoke(args=["restore", "--unsigned", str(resigned)])
        assert result.exit_code == 0, result.output
        assert "--unsigned, la firma dell'archivio non viene verificata" in result.output

    # A manifest of several megabytes is refused before it is parsed.
    def huge(name: str, data: bytes) -> bytes:
        return data + b" " * 5_000_000 if name == "manifest.json" else data

    big = _rewrite(good, tmp_path / "big.zip", huge)
    result = app.test_cli_runner().invoke(args=["restore", str(big)])
    assert result.exit_code == 1 and "manifest.json supera 1000000 byte" in result.output
