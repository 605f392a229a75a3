"""Every command group of `lgnetforma`, registered on the application's CLI."""

from __future__ import annotations

from flask import Flask

from lgnetforma.cli.backup import backup_command, restore_command
from lgnetforma.cli.comuni import comuni_group
from lgnetforma.cli.courses import courses_group
from lgnetforma.cli.cycles import cycles_group
from lgnetforma.cli.demo import demo_group
from lgnetforma.cli.reports import reports_group
from lgnetforma.cli.seed import seed_group
from lgnetforma.cli.spid import spid_group
from lgnetforma.cli.tokens import tokens_group
from lgnetforma.cli.users import users_group
from lgnetforma.cli.worker import jobs_group, worker_command


def register_commands(app: Flask) -> None:
    app.cli.add_command(comuni_group)
    app.cli.add_command(users_group)
    app.cli.add_command(courses_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(seed_group)
    app.cli.add_command(reports_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(cycles_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(spid_group)
