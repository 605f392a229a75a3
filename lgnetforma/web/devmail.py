"""Development only: the mail the platform wrote, readable without a mail server.

Registered only when LGNETFORMA_ENV is "development" and MAIL_BACKEND is "console" (the
default of `make run`): the worker prints each message in the terminal and this page
lists the latest ones, links included, so a newcomer can confirm an account at once.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import OutboundMail

bp = Blueprint("devmail", __name__, url_prefix="/sviluppo")


@bp.get("/posta")
def messages() -> str:
    mails = db.session.scalars(select(OutboundMail).order_by(OutboundMail.id.desc()).limit(50))
    return render_template("public/devmail.html", mails=list(mails))


def enabled(config: dict) -> bool:
    return config.get("LGNETFORMA_ENV") == "development" and config.get("MAIL_BACKEND") == "console"
