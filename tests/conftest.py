"""Fixtures: the app on a throw-away SQLite or PostgreSQL database, a real SMTP server,
Chromium through Playwright, and helpers to act as each kind of user."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.helpers import (
    PASSWORD,
    Mailbox,
    SMTPHandler,
    _admin_engine,
    _free_port,
    _pg_url,
    _worker,
    login,
    run_worker_once,
)
from tests.services import (
    CHROMIUM,
    CHROMIUM_ARGS,
    POSTGRES_URL,
    chromium_available,
    postgres_reachable,
    require,
)

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("LGNETFORMA_ENV", "development")

BACKENDS = ["sqlite", "postgresql"]


# Tests that take many seconds each (real processes, national-scale data, exhaustive walks,
# property searches): `make test` runs them, `make check` leaves them out.
SLOW = (
    "tests/test_api_schema.py::",
    "tests/test_synthetic.py::",
    "tests/test_worker.py::",
    "tests/test_figures_property.py::",
    "tests/test_rate_limits.py::",
    "tests/test_reports.py::test_large_csv_export_streams_every_row",
    "tests/test_reports.py::test_dashboard_figures_equal_independent_sql_counts",
    "tests/test_reports.py::test_query_counts_do_not_grow_with_data",
    "tests/test_csrf.py::test_every_state_changing_request_needs_this_sessions_token",
    "tests/test_cycles.py::test_snapshot_figures_equal_the_live_figures_of_the_closing_moment",
    "tests/test_cycles.py::test_between_two_cycles_every_page_answers",
    "tests/test_idor.py::",
    "tests/test_bulk_enrolment.py::test_thousand_rows_with_fifty_bad_ones",
    "tests/test_bulk_enrolment.py::test_preview_and_confirm_run_a_few_queries_not_one_per_row",
    "tests/test_backup.py::test_sqlite_to_postgresql_and_back",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers a developer can select on (`make check` runs `not postgres and not browser and
    not slow`): the PostgreSQL side of every parametrised test is `postgres`."""
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        fixtures = getattr(item, "fixturenames", ())
        if (callspec is not None and callspec.params.get("backend") == "postgresql") or (
            "new_postgres" in fixtures
        ):
            item.add_marker(pytest.mark.postgres)


# --- mail ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(SMTPHandler(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int], request: pytest.FixtureRequest) -> Iterator[Mailbox]:
    box, _ = smtp_server
    box.clear()
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        box.drain = lambda: run_worker_once(app)
    yield box
    box.drain = None


# --- databases -------------------------------------------------------------------------


def _prepare(url: str) -> None:
    """Schema by migrations, then the comuni registry: the state `make run` starts from."""
    from flask_migrate import upgrade

    from lgnetforma import create_app
    from lgnetforma.extensions import db
    from lgnetforma.services.coordination.registry import import_comuni
    from lgnetforma.services.platform.cycles import current_cycle

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        import_comuni(cycle=current_cycle())
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    _prepare(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    require(postgres_reachable(), f"PostgreSQL is not reachable at {POSTGRES_URL}")
    name = f"lgf_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    _prepare(_pg_url(name))
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with the schema and the comuni, for one test."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "lgnetforma.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"lgf_{_worker()}_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _pg_url(name)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def app_config(database_url: str, smtp_server: tuple[Mailbox, int], tmp_path: Path) -> dict:
    _, port = smtp_server
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "tests-only-secret-key",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_TIMEOUT": 5,
        "MAIL_BACKEND": "smtp",
        "RATELIMIT_ENABLED": False,
        "REPORT_CACHE_SECONDS": 0,  # figures read right after the actions that move them
        "PAGES_DIR": str(tmp_path / "pages"),
        "SERVER_NAME": None,
    }


@pytest.fixture
def app(app_config: dict) -> Iterator[Any]:
    from lgnetforma import create_app
    from lgnetforma.extensions import db
    from lgnetforma.services.reporting import tallies

    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        # Whatever the test did through the application, the reports' running tallies
        # must still equal a recount of the facts.
        assert tallies.differences() == [], "report tallies out of step with the facts"
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


# --- people ----------------------------------------------------------------------------


@pytest.fixture
def make_user(app: Any):  # noqa: ANN201
    """Create a confirmed account: make_user("coordinator", region="12")."""
    from lgnetforma.extensions import db
    from lgnetforma.models import Comune, Region
    from lgnetforma.services.people.accounts import create_user

    counter = iter(range(1, 10_000))

    def make(
        role: str = "operator",
        *,
        email: str | None = None,
        name: str | None = None,
        comune: str = "058091",
        region: str | None = None,
        scope_comune: str | None = None,
        password: str = PASSWORD,
    ) -> dict:
        with app.app_context():
            n = next(counter)
            comune_obj = db.session.scalar(db.select(Comune).filter_by(istat_code=comune))
            user = create_user(
                email=email or f"{role}{n}@example.it",
                full_name=name or f"{role.title()} {n}",
                role=role,
                password=password,
                comune=comune_obj if role == "operator" else None,
                scope_region=db.session.scalar(db.select(Region).filter_by(code=region))
                if region
                else None,
                scope_comune=db.session.scalar(db.select(Comune).filter_by(istat_code=scope_comune))
                if scope_comune
                else None,
            )
            db.session.commit()
            return {"id": user.id, "email": user.email, "password": password, "role": role}

    return make


@pytest.fixture
def login_as(client: Any, make_user):  # noqa: ANN001, ANN201
    """Create a user of ``role`` and log the test client in as them."""

    def do(role: str = "operator", **kwargs: Any) -> dict:
        user = make_user(role, **kwargs)
        login(client, user)
        return user

    return do


# --- browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    require(chromium_available(), f"Chromium is not installed at {CHROMIUM}")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def production_app(app_config: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app as production runs it: secure cookies, HSTS, only PUBLIC_BASE_URL's host."""
    monkeypatch.setenv("LGNETFORMA_ENV", "production")
    monkeypatch.setenv("LGNETFORMA_ALLOW_SQLITE", "1")
    monkeypatch.setenv("SECRET_KEY", "tests-only-secret-key")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://localhost")
    from lgnetforma import create_app
    from lgnetforma.extensions import db

    app = create_app({**app_config, "LGNETFORMA_ENV": "production"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The real app served over HTTP on a free port, for Chromium."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = url  # the links it mails lead back to this server
    yield url
    server.shutdown()
    thread.join(5)
