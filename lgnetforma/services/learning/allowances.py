"""How many attempts an operator has left on a quiz (the one definition), and the attempts
coordinators and trainers grant."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lgnetforma.content import Quiz
from lgnetforma.extensions import db
from lgnetforma.models import (
    AttemptGrant,
    Course,
    CourseVersion,
    Cycle,
    Enrolment,
    Module,
    ModuleVersion,
    QuizAttempt,
    Role,
    User,
)
from lgnetforma.services.learning.enrolment import enrolment_for
from lgnetforma.services.platform.audit import record
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError

# --- how many attempts are left ---------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """An operator's attempts at one quiz module in one cycle: the quiz's limit (None:
    unlimited), the attempts granted on top of it, those submitted, whether one passed."""

    limit: int | None
    granted: int
    submitted: int
    passed: bool

    @property
    def allowed(self) -> int | None:
        return None if self.limit is None else self.limit + self.granted

    @property
    def left(self) -> int | None:
        """Attempts still possible (None: no limit). An attempt opened but not submitted
        is not counted: it is the one being taken."""
        return None if self.allowed is None else max(self.allowed - self.submitted, 0)

    @property
    def used_up(self) -> bool:
        return not self.passed and self.left == 0


def allowances(cycle: Cycle) -> Select:
    """THE rule of attempts left, as one query: per enrolment and quiz module of its course
    (current version), the columns of ``Allowance`` (user_id, module_id, limit, granted,
    submitted, passed) and ``left``. ``attempt_allowance`` and the gradebook's "attempts
    used up" both read it, so the quiz page and the coordinators count alike."""
    submitted = (
        select(
            QuizAttempt.user_id,
            QuizAttempt.module_id,
            func.count(QuizAttempt.id).label("submitted"),
            func.max(func.coalesce(QuizAttempt.passed, False).cast(db.Integer)).label("passed"),
        )
        .where(QuizAttempt.cycle_id == cycle.id, QuizAttempt.submitted_at.is_not(None))
        .group_by(QuizAttempt.user_id, QuizAttempt.module_id)
        .subquery()
    )
    granted = (
        select(
            AttemptGrant.user_id,
            AttemptGrant.module_id,
            func.sum(AttemptGrant.extra).label("granted"),
        )
        .where(AttemptGrant.cycle_id == cycle.id)
        .group_by(AttemptGrant.user_id, AttemptGrant.module_id)
        .subquery()
    )
    limit = ModuleVersion.quiz["attempts"].as_integer()
    n_granted = func.coalesce(granted.c.granted, 0)
    n_submitted = func.coalesce(submitted.c.submitted, 0)
    return (
        select(
            Enrolment.user_id,
            Module.id.label("module_id"),
            limit.label("limit"),
            n_granted.label("granted"),
            n_submitted.label("submitted"),
            func.coalesce(submitted.c.passed, 0).label("passed"),
            (limit + n_granted - n_submitted).label("left"),
        )
        .select_from(Enrolment)
        .join(Module, Module.course_id == Enrolment.course_id)
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .outerjoin(
            submitted,
            and_(submitted.c.user_id == Enrolment.user_id, submitted.c.module_id == Module.id),
        )
        .outerjoin(
            granted,
            and_(granted.c.user_id == Enrolment.user_id, granted.c.module_id == Module.id),
        )
        .where(
            Enrolment.cycle_id == cycle.id,
            Module.retired_at.is_(None),
            ModuleVersion.quiz.is_not(None),
        )
    )


def used_up(cycle: Cycle) -> Select:
    """(user_id, module_id) of the quiz modules whose attempts an operator has used up
    without passing: ``allowances`` with nothing left."""
    rows = allowances(cycle).subquery()
    return select(rows.c.user_id, rows.c.module_id).where(rows.c.passed == 0, rows.c.left <= 0)


def attempt_allowance(user: User, module: Module, cycle: Cycle) -> Allowance:
    """The operator's attempts at ``module``'s quiz (not enrolled: the quiz's own limit)."""
    row = db.session.execute(
        allowances(cycle).where(Enrolment.user_id == user.id, Module.id == module.id)
    ).first()
    if row is None:
        version = module.current_version
        limit = Quiz.from_dict(version.quiz).attempts if version and version.quiz else None
        return Allowance(limit, 0, 0, False)
    limit = None if row.limit is None else int(row.limit)
    return Allowance(limit, int(row.granted), int(row.submitted), bool(row.passed))


MAX_GRANT = 10
MAX_REASON = 500


def may_grant(actor: User, operator: User, module: Module) -> bool:
    """Coordinators (and admins) whose scope covers the operator's comune; trainers for
    their courses (those they wrote a version of)."""
    from lgnetforma.services.coordination.scope import Scope

    if actor.role in (Role.ADMIN, Role.COORDINATOR):
        return Scope.of(actor).includes(operator.comune)
    if actor.role == Role.TRAINER:
        return (
            db.session.scalar(
                select(Course.id)
                .where(Course.id == module.course_id, Course.id.in_(_written_by(actor)))
                .limit(1)
            )
            is not None
        )
    return False


def _written_by(trainer: User) -> Select:
    """The ids of the courses a trainer has written a version of (course or module)."""
    return (
        select(CourseVersion.course_id)
        .where(CourseVersion.created_by_id == trainer.id)
        .union(
            select(Module.course_id)
            .join(ModuleVersion, ModuleVersion.module_id == Module.id)
            .where(ModuleVersion.created_by_id == trainer.id)
        )
    )


def grantable_modules(actor: User, cycle: Cycle) -> list[Module]:
    """The quiz modules of ``cycle`` whose attempts ``actor`` may grant to some operator:
    a trainer's courses, or every course for coordinators and admins."""
    query = (
        select(Module)
        .join(Course, Course.id == Module.course_id)
        .join(ModuleVersion, ModuleVersion.id == Module.current_version_id)
        .where(
            Course.cycle_id == cycle.id,
            Module.retired_at.is_(None),
            ModuleVersion.quiz.is_not(None),
        )
        .order_by(Course.slug, Module.position)
    )
    if actor.role == Role.TRAINER:
        query = query.where(Course.id.in_(_written_by(actor)))
    elif actor.role not in (Role.ADMIN, Role.COORDINATOR):
        return []
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Granted:
    grant: AttemptGrant
    created: bool  # False: the same request (its key) had already been granted


def grant_attempts(
    actor: User,
    operator: User,
    module: Module,
    cycle: Cycle,
    *,
    extra: int,
    reason: str,
    request_key: str,
    ip: str | None = None,
) -> Granted:
    """Grant ``operator`` ``extra`` more attempts at ``module``'s quiz, with a reason.

    ``request_key`` is the form's one-time key: whatever the number of concurrent or
    repeated submissions of one form, the grant is stored (and counted) once, and audited once
    (which grant and how many; the reason, possibly personal, stays with the grant). The
    caller commits.
    """
    ensure_cycle_open(cycle)
    if not may_grant(actor, operator, module):
        raise PermissionError("not allowed to grant attempts to this operator")
    version = module.current_version
    if version is None or version.quiz is None:
        raise ServiceError(_l("Questo modulo non ha un questionario."), field="module")
    if enrolment_for(operator, module.course, cycle) is None:
        raise ServiceError(_l("L'operatore non è iscritto a questo corso."), field="module")
    if not 1 <= extra <= MAX_GRANT:
        raise ServiceError(_l("Indica da 1 a %(n)d tentativi in più.", n=MAX_GRANT), field="extra")
    reason = " ".join((reason or "").split())
    if not reason:
        raise ServiceError(_l("Scrivi il motivo della concessione."), field="reason")
    if len(reason) > MAX_REASON:
        raise ServiceError(
            _l("Il motivo può avere al massimo %(n)d caratteri.", n=MAX_REASON), field="reason"
        )
    existing = db.session.scalar(select(AttemptGrant).filter_by(request_key=request_key))
    if existing is not None:
        return Granted(existing, created=False)
    grant = AttemptGrant(
        request_key=request_key,
        user_id=operator.id,
        module_id=module.id,
        cycle_id=cycle.id,
        extra=extra,
        reason=reason,
        granted_by_id=actor.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(grant)
    except IntegrityError:  # the same form, submitted at the same moment elsewhere
        existing = db.session.scalar(select(AttemptGrant).filter_by(request_key=request_key))
        return Granted(existing, created=False)  # type: ignore[arg-type]
    record(
        "attempts.granted",
        actor=actor,
        ip=ip,
        object_type="attempt_grant",
        object_id=grant.id,
        comune_id=operator.comune_id,
        details={
            "operator": operator.id,
            "course": module.course.slug,
            "module": module.slug,
            "extra": grant.extra,
            "cycle": cycle.code,
        },
    )
    return Granted(grant, created=True)


def grants_of(operator: User, cycle: Cycle) -> list[AttemptGrant]:
    return list(
        db.session.scalars(
            select(AttemptGrant)
            .options(joinedload(AttemptGrant.granted_by), joinedload(AttemptGrant.module))
            .where(AttemptGrant.user_id == operator.id, AttemptGrant.cycle_id == cycle.id)
            .order_by(AttemptGrant.created_at, AttemptGrant.id)
        )
    )


def grantors_for(operator: User) -> list[User]:
    """Who can grant the operator more attempts: the active coordinators of their comune
    and region (the national ones when there are none)."""
    comune = operator.comune
    active = [
        User.role == Role.COORDINATOR,
        User.is_active_account.is_(True),
        User.deleted_at.is_(None),
    ]
    local = []
    if comune is not None:
        local = list(
            db.session.scalars(
                select(User)
                .where(
                    *active,
                    or_(
                        User.scope_comune_id == comune.id,
                        and_(
                            User.scope_comune_id.is_(None),
                            User.scope_region_id == comune.region_id,
                        ),
                    ),
                )
                .order_by(User.full_name)
            )
        )
    if local:
        return local
    return list(
        db.session.scalars(
            select(User)
            .where(*active, User.scope_comune_id.is_(None), User.scope_region_id.is_(None))
            .order_by(User.full_name)
        )
    )
