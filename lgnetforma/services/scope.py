"""The territory a coordinator may see: national, one region, or one comune.

Every page, export, API answer, ZIP and reminder of the coordination area filters through
one of these conditions, so a coordinator never sees anything outside their scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, select, true

from lgnetforma.models import Comune, Role, User

ScopeKind = Literal["national", "region", "comune"]


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    region_id: int | None = None
    comune_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Scope:
        """The scope of a coordinator (admins are national); others have none."""
        if user.role == Role.ADMIN:
            return cls("national")
        if user.role != Role.COORDINATOR:
            raise PermissionError("only coordinators and admins have a territorial scope")
        if user.scope_comune_id is not None:
            return cls("comune", comune_id=user.scope_comune_id)
        if user.scope_region_id is not None:
            return cls("region", region_id=user.scope_region_id)
        return cls("national")

    def comune_condition(self) -> ColumnElement[bool]:
        """A condition on the Comune table."""
        if self.kind == "comune":
            return Comune.id == self.comune_id
        if self.kind == "region":
            return Comune.region_id == self.region_id
        return true()

    def comune_ids(self):  # noqa: ANN201 - a SQL subquery
        return select(Comune.id).where(self.comune_condition())

    def user_condition(self) -> ColumnElement[bool]:
        """A condition on the User table: operators of comuni in scope."""
        if self.kind == "national":
            return User.comune_id.is_not(None)
        return User.comune_id.in_(self.comune_ids())

    def includes(self, comune: Comune | None) -> bool:
        if comune is None:
            return False
        if self.kind == "comune":
            return comune.id == self.comune_id
        if self.kind == "region":
            return comune.region_id == self.region_id
        return True
