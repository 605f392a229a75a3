"""The course format: Markdown files in, structured and rendered courses out.

Pure code (no Flask, no database): the only place that knows the Markdown syntax of
``docs/course-format.md``.
"""

from lgnetforma.content.authoring import (
    Preview,
    field_line,
    new_course_source,
    new_module_source,
    preview_course_text,
    preview_module_text,
    set_course_status,
)
from lgnetforma.content.model import (
    CourseDoc,
    CourseMeta,
    ModuleDoc,
    Option,
    ParseResult,
    Problem,
    Question,
    Quiz,
)
from lgnetforma.content.parse import (
    is_valid_slug,
    parse_course_dir,
    parse_course_files,
    parse_course_meta,
    parse_courses_dir,
    parse_module_text,
)
from lgnetforma.content.quiz import (
    DEFAULT_PASS_MARK,
    AnswerError,
    Grade,
    QuestionResult,
    grade,
    normalise_answer,
)
from lgnetforma.content.render import RenderedBody, render_inline, render_markdown, slugify

__all__ = [
    "DEFAULT_PASS_MARK",
    "AnswerError",
    "CourseDoc",
    "CourseMeta",
    "Grade",
    "ModuleDoc",
    "Option",
    "ParseResult",
    "Preview",
    "Problem",
    "Question",
    "QuestionResult",
    "Quiz",
    "RenderedBody",
    "field_line",
    "grade",
    "is_valid_slug",
    "new_course_source",
    "new_module_source",
    "normalise_answer",
    "parse_course_dir",
    "parse_course_files",
    "parse_course_meta",
    "parse_courses_dir",
    "parse_module_text",
    "preview_course_text",
    "preview_module_text",
    "render_inline",
    "render_markdown",
    "set_course_status",
    "slugify",
]
