"""Configuration: production refuses unsafe settings and says what to set."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lgnetforma.config import ConfigError, check_production

SAFE = {
    "LGNETFORMA_ENV": "production",
    "DEBUG": False,
    "SECRET_KEY_FROM_ENV": True,
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/lgnetforma",
    "PUBLIC_BASE_URL": "https://formazione.example.gov.it",
}


def test_safe_production_settings_pass():
    check_production(SAFE)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DEBUG": True}, "FLASK_DEBUG"),
        ({"SECRET_KEY_FROM_ENV": False}, "imposta SECRET_KEY"),
        ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.sqlite"}, "LGNETFORMA_ALLOW_SQLITE=1"),
        ({"LGNETFORMA_ENV": "staging"}, "'development' oppure 'production'"),
        ({"PUBLIC_BASE_URL": ""}, "imposta PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "formazione.example.gov.it"}, "imposta PUBLIC_BASE_URL"),
    ],
)
def test_unsafe_production_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        check_production({**SAFE, **override})


def test_sqlite_allowed_explicitly():
    check_production(
        {**SAFE, "SQLALCHEMY_DATABASE_URI": "sqlite:///x", "ALLOW_SQLITE_IN_PRODUCTION": True}
    )


def test_the_command_refuses_to_start_in_production_without_a_secret(tmp_path):
    env = {"LGNETFORMA_ENV": "production", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "lgnetforma", "routes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr
    assert "imposta PUBLIC_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_settings_come_from_the_environment(monkeypatch, tmp_path):
    from lgnetforma.config import apply_database_options, load_config

    monkeypatch.setenv("DATABASE_URL", "postgresql://db/lgnetforma")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "2")
    monkeypatch.setenv("REPORT_CACHE_SECONDS", "0")
    config = load_config(tmp_path)
    apply_database_options(config)
    assert config["REPORT_CACHE_SECONDS"] == 0
    options = config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 2 and options["max_overflow"] == 10
    assert options["connect_args"]["options"] == "-c timezone=UTC"
    monkeypatch.setenv("REPORT_CACHE_SECONDS", "un minuto")
    with pytest.raises(ConfigError, match="REPORT_CACHE_SECONDS='un minuto' non è valido"):
        load_config(tmp_path)


def test_connections_are_set_up_for_their_database(app, backend):
    from sqlalchemy import text

    from lgnetforma.extensions import db

    with app.app_context():
        if backend == "sqlite":  # readers never wait for a writer
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert db.session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        else:  # months counted in SQL are UTC's, as the tallies count them
            assert db.session.execute(text("SHOW TIME ZONE")).scalar() == "UTC"
