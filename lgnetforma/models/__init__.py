"""Database tables. Business rules live in ``lgnetforma.services``, not here."""

from lgnetforma.models.base import utcnow
from lgnetforma.models.catalogue import Course, CourseVersion, MediaFile, Module, ModuleVersion
from lgnetforma.models.coordination import ApiToken, BulkUpload, Reminder
from lgnetforma.models.cycles import Cycle
from lgnetforma.models.identity import SamlRequest
from lgnetforma.models.learning import (
    AttemptGrant,
    Certificate,
    CourseCompletion,
    Enrolment,
    ModuleCompletion,
    ModuleView,
    QuizAttempt,
)
from lgnetforma.models.mail import (
    AuditPurgePermit,
    JobRun,
    MailStatus,
    OutboundMail,
    ReminderSchedule,
)
from lgnetforma.models.people import Role, User
from lgnetforma.models.registry import Comune, Province, Region
from lgnetforma.models.reporting import ReportMonthTally, ReportTally
from lgnetforma.models.sessions import (
    LiveSession,
    RegistrationStatus,
    SessionKind,
    SessionRegistration,
    TrainingStatement,
)
from lgnetforma.models.trust import AuditEvent, CycleSnapshot

__all__ = [
    "AttemptGrant",
    "AuditEvent",
    "CycleSnapshot",
    "ApiToken",
    "BulkUpload",
    "Reminder",
    "Certificate",
    "Comune",
    "LiveSession",
    "RegistrationStatus",
    "SessionKind",
    "SessionRegistration",
    "TrainingStatement",
    "CourseCompletion",
    "Enrolment",
    "ModuleCompletion",
    "ModuleView",
    "QuizAttempt",
    "Course",
    "CourseVersion",
    "Cycle",
    "MediaFile",
    "Module",
    "ModuleVersion",
    "OutboundMail",
    "AuditPurgePermit",
    "JobRun",
    "MailStatus",
    "ReminderSchedule",
    "Province",
    "Region",
    "ReportMonthTally",
    "ReportTally",
    "Role",
    "SamlRequest",
    "User",
    "utcnow",
]
