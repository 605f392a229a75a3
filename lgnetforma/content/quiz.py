"""The quiz block: a Python-Markdown extension that lifts it out of a module, and grading.

A quiz is a fenced block whose info string starts with ``quiz``::

    ```quiz pass=80% attempts=3 shuffle
    ? Question text (inline Markdown)
    - [x] a correct option
    - [ ] a wrong option
    > feedback shown after submission
    ```

The preprocessor removes the block from the document before it is rendered, so the
answers can never end up in the page body, and keeps the parsed quiz and any problems
(with file line numbers) on the extension object.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

from lgnetforma.content.model import Option, Problem, Question, Quiz, Severity
from lgnetforma.content.render import (
    CODE_FENCE,
    MAX_BRACKETS_PER_BLOCK,
    MAX_INLINE_CHARS,
    FenceCloser,
    Reference,
    render_inline_references,
)

DEFAULT_PASS_MARK = 0.7
#: Runs after Python-Markdown's whitespace normalisation (30), before fenced code (25).
PREPROCESSOR_PRIORITY = 27

# Per-line patterns. Code fences are recognised as Python-Markdown does (CODE_FENCE), so
# that a ```quiz shown inside a code example is left alone.
_QUIZ_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ ]*quiz(?:\s+(?P<info>.*?))?\s*$", re.I)
_OPTION = re.compile(r"^-[ \t]+\[(?P<mark>[ xX])\](?:[ \t]+(?P<text>.*))?$")
_LOOKS_LIKE_OPTION = re.compile(r"^[-*+][ \t]*\[")
_PERCENT = re.compile(r"^(?P<value>\d{1,3})%$")
_INTEGER = re.compile(r"^\d{1,6}$")

_LINE_HELP = (
    "usa '? ' per una domanda, '- [x] ' o '- [ ] ' per un'opzione, "
    "'= ' per una risposta accettata, '> ' per il commento"
)
_Report = Callable[..., None]
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def parse_percent(text: str) -> float | None:
    """``"70%"`` -> ``0.7``; None unless it is a whole percentage between 1% and 100%."""
    match = _PERCENT.match(text.strip())
    if match is None:
        return None
    value = int(match["value"])
    return value / 100 if 1 <= value <= 100 else None


# --------------------------------------------------------------------------- extension


@dataclass
class QuizBlock:
    """A quiz block found in a document; ``quiz`` is None when the block has errors."""

    line: int
    quiz: Quiz | None
    #: File line of the closing fence (the last line of the file when unclosed).
    end_line: int = 0


class QuizExtension(Extension):
    """Extract ``quiz`` fenced blocks; results are left on the extension after ``convert``.

    ``first_line`` is the file line of the first line of the converted text (the line
    after the front matter), so problems point at lines of the file.
    """

    def __init__(
        self,
        *,
        first_line: int = 1,
        default_pass: float = DEFAULT_PASS_MARK,
        media_prefix: str = "media/",
    ) -> None:
        super().__init__()
        self.first_line = first_line
        self.default_pass = default_pass
        self.media_prefix = media_prefix
        self.reset()

    def reset(self) -> None:
        self.blocks: list[QuizBlock] = []
        self.problems: list[Problem] = []
        #: Links and images in quiz text, with the file line they are on.
        self.references: list[tuple[int, Reference]] = []
        #: File lines that are inside a fenced block (code or quiz): not prose.
        self.fenced_lines: set[int] = set()

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        md.preprocessors.register(
            QuizPreprocessor(md, self), "lgnetforma_quiz", PREPROCESSOR_PRIORITY
        )


class QuizPreprocessor(Preprocessor):
    """Scan lines, drop quiz blocks from the document and parse them."""

    def __init__(self, md: Markdown, extension: QuizExtension) -> None:
        super().__init__(md)
        self.ext = extension

    def run(self, lines: list[str]) -> list[str]:
        ext = self.ext
        closer = FenceCloser(lines)
        output: list[str] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            file_line = ext.first_line + index
            quiz_fence = _QUIZ_FENCE.match(line)
            if quiz_fence:
                close = closer.find(quiz_fence["fence"], index + 1)
                end = len(lines) if close is None else close
                if close is None:
                    ext.problems.append(
                        Problem(
                            "",
                            file_line,
                            f"blocco quiz non chiuso: manca la riga '{quiz_fence['fence']}' "
                            "di chiusura",
                        )
                    )
                ext.fenced_lines.update(range(file_line, ext.first_line + end + 1))
                parsed = parse_quiz_block(
                    quiz_fence["info"] or "",
                    lines[index + 1 : end],
                    fence_line=file_line,
                    default_pass=ext.default_pass,
                    media_prefix=ext.media_prefix,
                )
                ext.blocks.append(QuizBlock(file_line, parsed.quiz, ext.first_line + end))
                ext.problems.extend(parsed.problems)
                ext.references.extend(parsed.references)
                output.append("")
                index = end + 1
                continue
            code_fence = CODE_FENCE.match(line)
            if code_fence:
                close = closer.find(code_fence["fence"], index + 1)
                swallowed = _swallowed_fence(lines, index, close, code_fence["fence"])
                if swallowed is not None:
                    ext.problems.append(
                        Problem(
                            "",
                            file_line,
                            f"blocco di codice non chiuso: la riga '{code_fence['fence']}' della "
                            f"riga {ext.first_line + close} lo chiude solo dopo la riga "
                            f"{ext.first_line + swallowed} ('{lines[swallowed].strip()[:20]}'), "
                            "che finirebbe nel codice con tutto il suo blocco: chiudi il codice "
                            "prima, o usa per il blocco esterno un recinto più lungo (````)",
                        )
                    )
                if close is not None:
                    ext.fenced_lines.update(range(file_line, ext.first_line + close + 1))
                    output.extend(lines[index : close + 1])
                    index = close + 1
                    continue
            if line[:1].isspace() and _QUIZ_FENCE.match(line.lstrip()):
                ext.problems.append(
                    Problem(
                        "",
                        file_line,
                        "il blocco quiz deve iniziare a inizio riga, senza rientro "
                        "(altrimenti le risposte finirebbero nel testo del modulo)",
                    )
                )
            output.append(line)
            index += 1
        return output


def _swallowed_fence(lines: list[str], start: int, close: int | None, fence: str) -> int | None:
    """The first line inside a code block that opens another block with the same fence.

    ```` ```python ```` left open before ```` ```quiz ```` makes the quiz's closing line
    close the code instead: the quiz is shown as code. A fence of the same characters and
    length with an info string cannot be nested, so it means the code was never closed.
    """
    if close is None:
        return None
    for index in range(start + 1, close):
        text = lines[index]
        rest = text[len(fence) :]
        if text.startswith(fence) and rest.strip() and rest[0] != fence[0]:
            return index
    return None


# --------------------------------------------------------------------------- block parser


@dataclass
class ParsedQuiz:
    """Result of :func:`parse_quiz_block`; problems have an empty path."""

    quiz: Quiz | None
    problems: list[Problem]
    references: list[tuple[int, Reference]]


@dataclass
class _Text:
    """Markdown text spread over source lines."""

    lines: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, text: str) -> None:
        self.lines.append((line, text))

    @property
    def markdown(self) -> str:
        return "\n".join(text for _, text in self.lines).strip()


@dataclass
class _DraftOption:
    line: int
    correct: bool
    text: _Text


@dataclass
class _DraftQuestion:
    line: int
    text: _Text
    options: list[_DraftOption] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    feedback: _Text = field(default_factory=_Text)
    answer_lines: int = 0


def parse_quiz_block(
    info: str,
    lines: Sequence[str],
    *,
    fence_line: int,
    default_pass: float = DEFAULT_PASS_MARK,
    media_prefix: str = "media/",
) -> ParsedQuiz:
    """Parse the info string and the lines between the fences of a quiz block."""
    problems: list[Problem] = []

    def error(line: int, message: str, severity: Severity = "error") -> None:
        problems.append(Problem("", line, message, severity))

    pass_mark, attempts, shuffle = _parse_info(info, fence_line, default_pass, error)
    drafts = _parse_lines(lines, fence_line + 1, error)
    if not drafts:
        error(fence_line, "il quiz non contiene domande: ogni domanda inizia con '? '")

    questions: list[Question] = []
    references: list[tuple[int, Reference]] = []
    for number, draft in enumerate(drafts, start=1):
        question = _build_question(number, draft, media_prefix, error, references)
        if question is not None:
            questions.append(question)

    quiz = None
    if not any(p.severity == "error" for p in problems):
        quiz = Quiz(pass_mark, attempts, shuffle, tuple(questions), fence_line)
    return ParsedQuiz(quiz, problems, references)


def _parse_info(
    info: str, line: int, default_pass: float, error: _Report
) -> tuple[float, int | None, bool]:
    pass_mark, attempts, shuffle = default_pass, None, False
    seen: set[str] = set()
    for token in info.split():
        name, has_value, value = token.partition("=")
        if name in seen:
            error(line, f"attributo del quiz ripetuto: '{name}'")
            continue
        seen.add(name)
        if name == "pass":
            parsed = parse_percent(value) if has_value else None
            if parsed is None:
                error(
                    line,
                    f"valore non valido per 'pass': '{value}' (serve una percentuale "
                    "tra 1% e 100%, ad esempio pass=80%)",
                )
            else:
                pass_mark = parsed
        elif name == "attempts":
            if has_value and _INTEGER.match(value) and int(value) >= 1:
                attempts = int(value)
            else:
                error(
                    line,
                    f"valore non valido per 'attempts': '{value}' (serve un numero intero "
                    "di tentativi, almeno 1, ad esempio attempts=3)",
                )
        elif name == "shuffle":
            if has_value:
                error(line, "l'attributo 'shuffle' non vuole un valore: scrivi solo shuffle")
            else:
                shuffle = True
        else:
            error(
                line,
                f"attributo del quiz sconosciuto: '{name}' "
                "(ammessi: pass=NN%, attempts=N, shuffle)",
            )
    return pass_mark, attempts, shuffle


def _parse_lines(lines: Sequence[str], first_line: int, error: _Report) -> list[_DraftQuestion]:
    drafts: list[_DraftQuestion] = []
    current: _DraftQuestion | None = None
    # What a plain text line continues: the question, an option, the feedback, or nothing.
    target: _Text | None = None
    after_answer = False
    orphan_reported = False
    for offset, raw in enumerate(lines):
        line = first_line + offset
        text = raw.strip()
        if not text:
            # A blank line ends an option or feedback; question text may go on.
            if current is not None and target is not current.text:
                target = None
            after_answer = False
            continue
        if text[0] == "?" and (len(text) == 1 or text[1].isspace()):
            current = _DraftQuestion(line, _Text())
            current.text.add(line, text[1:].strip())
            drafts.append(current)
            target, after_answer = current.text, False
            continue
        option = _OPTION.match(text)
        is_answer = text[0] == "=" and (len(text) == 1 or text[1].isspace())
        is_feedback = text[0] == ">"
        is_marker = option is not None or is_answer or is_feedback
        if current is None:
            if is_marker or _LOOKS_LIKE_OPTION.match(text):
                error(
                    line,
                    "opzione, risposta o commento prima di qualsiasi domanda: "
                    "la domanda deve venire prima, su una riga che inizia con '? '",
                )
            elif not orphan_reported:
                error(line, f"testo fuori da una domanda: {_LINE_HELP}")
                orphan_reported = True
            continue
        if option is not None:
            draft_option = _DraftOption(line, option["mark"] in "xX", _Text())
            draft_option.text.add(line, (option["text"] or "").strip())
            current.options.append(draft_option)
            target, after_answer = draft_option.text, False
        elif is_answer:
            current.answer_lines += 1
            answer = text[1:].strip()
            if not answer:
                error(line, "risposta accettata vuota: scrivi il testo dopo '= '")
            elif not normalise_answer(answer):
                error(
                    line,
                    f"risposta accettata senza lettere né cifre: '{answer}' (le risposte si "
                    "confrontano senza punteggiatura, quindi nessuna risposta la uguaglierebbe)",
                )
            else:
                current.answers.append((line, answer))
            target, after_answer = None, True
        elif is_feedback:
            body = text[1:]
            current.feedback.add(line, body[1:] if body.startswith(" ") else body)
            target, after_answer = current.feedback, False
        elif _LOOKS_LIKE_OPTION.match(text):
            error(
                line,
                "opzione non valida: scrivi '- [x] testo' per un'opzione corretta "
                "o '- [ ] testo' per una sbagliata",
            )
        elif target is not None:
            target.add(line, text)
        elif after_answer:
            error(
                line,
                "riga non riconosciuta dopo una risposta accettata: ogni risposta va su "
                "una riga che inizia con '= '",
            )
        else:
            error(line, f"riga non riconosciuta nel quiz: {_LINE_HELP}")
    return drafts


def _render(
    text: _Text,
    media_prefix: str,
    references: list[tuple[int, Reference]],
    error: _Report,
) -> tuple[str, str]:
    source = text.markdown
    if source.count("[") > MAX_BRACKETS_PER_BLOCK:
        error(
            text.lines[0][0],
            f"testo con più di {MAX_BRACKETS_PER_BLOCK} parentesi quadre '[': accorcialo",
        )
    if len(source) > MAX_INLINE_CHARS:
        error(text.lines[0][0], f"testo di più di {MAX_INLINE_CHARS} caratteri: accorcialo")
    html, refs = render_inline_references(source, media_prefix=media_prefix)
    for ref in refs:
        line = next(
            (n for n, t in text.lines if ref.url and ref.url in t),
            text.lines[0][0] if text.lines else 0,
        )
        references.append((line, ref))
    return source, html


def _build_question(
    number: int,
    draft: _DraftQuestion,
    media_prefix: str,
    error: _Report,
    references: list[tuple[int, Reference]],
) -> Question | None:
    line = draft.line
    ok = True

    def fail(at: int, message: str) -> None:
        nonlocal ok
        ok = False
        error(at, message)

    text_md, text_html = _render(draft.text, media_prefix, references, fail)
    if not text_md:
        fail(line, "la domanda è vuota: scrivi il testo dopo '? '")
    has_answers = draft.answer_lines > 0
    if draft.options and has_answers:
        fail(
            line,
            "la domanda ha sia opzioni sia risposte accettate ('= '): usa solo le une o le altre",
        )
    elif not draft.options and not has_answers:
        fail(line, "la domanda non ha né opzioni ('- [x] ', '- [ ] ') né risposte accettate ('= ')")
    elif draft.options:
        if len(draft.options) < 2:
            fail(line, "la domanda ha una sola opzione: ne servono almeno due")
        if not any(o.correct for o in draft.options):
            fail(line, "la domanda non ha alcuna opzione corretta")
    elif not draft.answers:
        fail(line, "la domanda non ha alcuna risposta accettata")

    options: list[Option] = []
    seen_texts: set[str] = set()
    for key, draft_option in enumerate(draft.options, start=1):
        option_md, option_html = _render(draft_option.text, media_prefix, references, fail)
        if not option_md:
            fail(draft_option.line, "opzione vuota: scrivi il testo dopo '- [x] ' o '- [ ] '")
        normalised = normalise_answer(option_md)
        if option_md and normalised in seen_texts:
            error(draft_option.line, "opzione ripetuta nella stessa domanda", "warning")
        seen_texts.add(normalised)
        options.append(Option(str(key), option_md, option_html, draft_option.correct))

    feedback_md, feedback_html = _render(draft.feedback, media_prefix, references, fail)
    if not ok:
        return None
    if draft.options:
        correct = sum(1 for o in options if o.correct)
        kind = "single" if correct == 1 else "multiple"
    else:
        kind = "short"
    return Question(
        number=number,
        kind=kind,
        text_md=text_md,
        text_html=text_html,
        options=tuple(options),
        answers=tuple(answer for _, answer in draft.answers),
        feedback_md=feedback_md,
        feedback_html=feedback_html,
        line=line,
    )


# --------------------------------------------------------------------------- grading


class AnswerError(ValueError):
    """The submitted answers cannot be graded (missing answer, unknown option…)."""

    def __init__(self, question_number: int, message: str) -> None:
        super().__init__(message)
        self.question_number = question_number
        self.message = message


@dataclass(frozen=True)
class QuestionResult:
    """The outcome of one question; ``chosen`` holds option keys or the typed text."""

    number: int
    correct: bool
    chosen: tuple[str, ...]
    feedback_html: str


@dataclass(frozen=True)
class Grade:
    """One point per question; ``score`` = points / total; passed when score >= pass mark."""

    score: float
    points: int
    total: int
    passed: bool
    per_question: tuple[QuestionResult, ...]


#: Leading Italian articles that a short answer may or may not have ("il Ministero").
#: ``l'`` and ``un'`` are here without the apostrophe, which becomes a space first.
LEADING_ARTICLES = frozenset({"il", "lo", "la", "i", "gli", "le", "l", "un", "uno", "una"})


def normalise_answer(text: str) -> str:
    """Compare form of a short answer, applied to what is typed and to each accepted answer.

    No case, no accents; every punctuation character becomes a space; spaces are trimmed
    and collapsed; leading Italian articles go (``il``, ``lo``, ``la``, ``i``, ``gli``,
    ``le``, ``l'``, ``un``, ``uno``, ``una``, ``un'``) unless nothing else is left. So
    ``"art.118"`` matches ``"art. 118"`` and ``"il Ministero dell'Interno"`` matches
    ``"Ministero dell’Interno"``. Idempotent.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHIC))
    kept = "".join(
        " " if unicodedata.category(c).startswith("P") else c
        for c in decomposed
        if not unicodedata.combining(c)
    )
    words = kept.casefold().split()
    while len(words) > 1 and words[0] in LEADING_ARTICLES:
        del words[0]
    return " ".join(words)


def required_points(pass_mark: float, total: int) -> int:
    """The fewest correct answers out of ``total`` that pass (the one rounding rule)."""
    return next((k for k in range(total + 1) if _passes(k, total, pass_mark)), total)


def _passes(points: int, total: int, pass_mark: float) -> bool:
    return total > 0 and points / total + 1e-9 >= pass_mark


def grade(quiz: Quiz, answers: Mapping[int, Sequence[str] | str]) -> Grade:
    """Grade a complete submission; raises :class:`AnswerError` for incomplete/invalid input.

    ``answers`` maps each question number to the chosen option keys (a key or a list of
    keys for choice questions) or to the typed text (short-answer questions).
    """
    by_number = {q.number: q for q in quiz.questions}
    submitted: dict[int, Sequence[str] | str] = {}
    for raw_number, value in answers.items():
        number = _question_number(raw_number)
        if number is None or number not in by_number:
            shown = raw_number if isinstance(raw_number, int) else 0
            raise AnswerError(shown, f"la domanda {raw_number!r} non esiste in questo quiz")
        submitted[number] = value

    results: list[QuestionResult] = []
    for question in quiz.questions:
        if question.number not in submitted:
            raise AnswerError(question.number, f"manca la risposta alla domanda {question.number}")
        value = submitted[question.number]
        if question.kind == "short":
            typed = _typed_answer(question.number, value)
            accepted = {normalise_answer(a) for a in question.answers}
            correct = normalise_answer(typed) in accepted
            chosen: tuple[str, ...] = (typed.strip(),)
        else:
            chosen = _chosen_keys(question, value)
            correct = set(chosen) == question.correct_keys
        results.append(QuestionResult(question.number, correct, chosen, question.feedback_html))

    points = sum(1 for r in results if r.correct)
    total = len(results)
    score = points / total if total else 0.0
    passed = _passes(points, total, quiz.pass_mark)
    return Grade(score, points, total, passed, tuple(results))


def _question_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _typed_answer(number: int, value: Sequence[str] | str) -> str:
    if not isinstance(value, str):
        values = list(value) if isinstance(value, Sequence) else []
        if len(values) != 1 or not isinstance(values[0], str):
            raise AnswerError(number, f"la domanda {number} chiede una risposta scritta")
        value = values[0]
    if not normalise_answer(value):
        raise AnswerError(number, f"manca la risposta alla domanda {number}")
    return value


def _chosen_keys(question: Question, value: Sequence[str] | str) -> tuple[str, ...]:
    number = question.number
    if isinstance(value, str):
        raw = [value]
    elif isinstance(value, Sequence):
        raw = list(value)
    else:
        raise AnswerError(number, f"risposta non valida per la domanda {number}")
    keys = {option.key for option in question.options}
    chosen: set[str] = set()
    for key in raw:
        if not isinstance(key, str) or key not in keys:
            raise AnswerError(number, f"l'opzione {key!r} non appartiene alla domanda {number}")
        chosen.add(key)
    if not chosen:
        raise AnswerError(number, f"manca la risposta alla domanda {number}")
    if question.kind == "single" and len(chosen) > 1:
        raise AnswerError(number, f"la domanda {number} ammette una sola risposta")
    return tuple(option.key for option in question.options if option.key in chosen)
