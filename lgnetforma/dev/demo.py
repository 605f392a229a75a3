"""Demo accounts for trying the platform locally."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Region
from lgnetforma.services.people.accounts import create_user, user_by_email


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    full_name: str


DEMO_ACCOUNTS = (
    DemoAccount(
        "operator", "operatore@demo.lgnetforma.it", "giulia impara ogni giorno", "Giulia Rossi"
    ),
    DemoAccount(
        "trainer", "formatore@demo.lgnetforma.it", "marco scrive i moduli", "Marco Bianchi"
    ),
    DemoAccount(
        "coordinator", "coordinatore@demo.lgnetforma.it", "anna coordina il lazio", "Anna Verdi"
    ),
    DemoAccount("admin", "admin@demo.lgnetforma.it", "luca amministra tutto", "Luca Neri"),
)
DEMO_COMUNE = "058091"  # Roma
DEMO_REGION = "12"  # Lazio


def create_demo_accounts() -> tuple[DemoAccount, ...]:
    """Create the demo accounts that do not exist yet; the operator is in Roma and the
    coordinator covers Lazio."""
    comune = db.session.scalar(select(Comune).filter_by(istat_code=DEMO_COMUNE))
    region = db.session.scalar(select(Region).filter_by(code=DEMO_REGION))
    for account in DEMO_ACCOUNTS:
        if user_by_email(account.email) is not None:
            continue
        create_user(
            email=account.email,
            full_name=account.full_name,
            role=account.role,
            password=account.password,
            comune=comune if account.role == "operator" else None,
            scope_region=region if account.role == "coordinator" else None,
        )
    db.session.commit()
    return DEMO_ACCOUNTS
