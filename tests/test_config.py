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
    assert "Traceback" not in result.stderr
