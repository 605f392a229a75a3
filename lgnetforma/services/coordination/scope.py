"""The territory a coordinator may see: national, one region, or one comune.

Every page, export, API answer, ZIP and reminder of the coordination area filters through
one of these conditions, so a coordinator never sees anything outside their scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, select, true

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, Province, Region, Role, User

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


# --- the drill-down selection ----------------------------------------------------------


class SelectionError(LookupError):
    """A selection that names something missing or outside the scope: ``field`` is the
    parameter at fault, ``message`` says why, in the user's language."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Selection:
    """One drill-down selection inside a Scope: national → region → province → comune, and
    optionally one course. Every figure, table, chart, export and API answer made for it
    reads ``filters``, so they all count the same operators."""

    scope: Scope
    region: Region | None = None
    province: Province | None = None
    comune: Comune | None = None
    course: Course | None = None

    @property
    def region_id(self) -> int | None:
        return self.region.id if self.region else None

    @property
    def province_id(self) -> int | None:
        return self.province.id if self.province else None

    @property
    def comune_id(self) -> int | None:
        return self.comune.id if self.comune else None

    @property
    def course_id(self) -> int | None:
        return self.course.id if self.course else None

    @property
    def filters(self) -> dict[str, int | None]:
        """The territorial filter, as the report functions take it."""
        return {
            "region_id": self.region_id,
            "province_id": self.province_id,
            "comune_id": self.comune_id,
        }

    @property
    def level(self) -> Literal["national", "region", "province", "comune"]:
        """How deep the selection goes, the scope included."""
        if self.comune is not None or self.scope.kind == "comune":
            return "comune"
        if self.province is not None:
            return "province"
        if self.region is not None or self.scope.kind == "region":
            return "region"
        return "national"

    def comune_condition(self) -> ColumnElement[bool]:
        """A condition on the Comune table: the scope and the drill-down together."""
        conditions = [self.scope.comune_condition()]
        if self.region is not None:
            conditions.append(Comune.region_id == self.region.id)
        if self.province is not None:
            conditions.append(Comune.province_id == self.province.id)
        if self.comune is not None:
            conditions.append(Comune.id == self.comune.id)
        return and_(*conditions)


def _in_scope(scope: Scope, condition: ColumnElement[bool]) -> bool:
    found = db.session.scalar(select(Comune.id).where(condition, scope.comune_condition()).limit(1))
    return found is not None


def resolve_selection(
    scope: Scope,
    *,
    region: str | None = None,
    province: str | None = None,
    comune: str | None = None,
    course: str | None = None,
    cycle_id: int | None = None,
) -> Selection:
    """The selection named by codes (region: two digits; province: three digits or its
    abbreviation; comune: the ISTAT code; course: its slug), each existing, coherent with
    the others and inside ``scope``. The deepest level named fills in those above it.

    Raises SelectionError(field, message) otherwise: the web answers 404, the API its JSON
    error with the message.
    """
    region_obj = province_obj = comune_obj = course_obj = None
    if region:
        region_obj = db.session.scalar(select(Region).where(Region.code == region))
        if region_obj is None:
            raise SelectionError(
                "region", _l("region: nessuna regione con codice %(c)s.", c=region)
            )
        if not _in_scope(scope, Comune.region_id == region_obj.id):
            raise SelectionError(
                "region",
                _l("region: la regione %(c)s non è nel tuo ambito territoriale.", c=region),
            )
    if province:
        column = Province.code if province.isdigit() else Province.abbreviation
        province_obj = db.session.scalar(select(Province).where(column == province.upper()))
        if province_obj is None:
            raise SelectionError(
                "province",
                _l("province: nessuna provincia con codice o sigla %(c)s.", c=province),
            )
        if region_obj is not None and province_obj.region_id != region_obj.id:
            raise SelectionError(
                "province",
                _l(
                    "province: la provincia %(p)s non è nella regione %(r)s.",
                    p=province_obj.abbreviation,
                    r=region_obj.code,
                ),
            )
        if not _in_scope(scope, Comune.province_id == province_obj.id):
            raise SelectionError(
                "province",
                _l(
                    "province: la provincia %(p)s non è nel tuo ambito territoriale.",
                    p=province_obj.abbreviation,
                ),
            )
        region_obj = province_obj.region
    if comune:
        comune_obj = db.session.scalar(select(Comune).where(Comune.istat_code == comune))
        if comune_obj is None:
            raise SelectionError(
                "comune", _l("comune: nessun comune con codice ISTAT %(c)s.", c=comune)
            )
        if (region_obj is not None and comune_obj.region_id != region_obj.id) or (
            province_obj is not None and comune_obj.province_id != province_obj.id
        ):
            raise SelectionError(
                "comune",
                _l("comune: il comune %(c)s non è nel territorio scelto.", c=comune_obj.istat_code),
            )
        if not scope.includes(comune_obj):
            raise SelectionError(
                "comune",
                _l("comune: il comune %(c)s non è nel tuo ambito territoriale.", c=comune),
            )
        province_obj = comune_obj.province
        region_obj = comune_obj.region
    if course:
        query = select(Course).where(Course.slug == course)
        if cycle_id is not None:
            query = query.where(Course.cycle_id == cycle_id)
        course_obj = db.session.scalar(query)
        if course_obj is None:
            raise SelectionError("course", _l("course: nessun corso %(c)s nel ciclo.", c=course))
    return Selection(scope, region_obj, province_obj, comune_obj, course_obj)
