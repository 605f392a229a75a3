"""What an instructional designer would check beyond the syntax: effort and item writing.

Pure functions over the parsed structures, called by the validator (:mod:`.parse`), so
that ``lgnetforma courses validate``, the importer and the web editor give the same
problems. Everything here is a warning except the duration sum, which is an error.

- Effort: a module's estimated minutes are ``ceil(words / READING_WORDS_PER_MINUTE)``
  for the body outside the quiz, plus ``QUIZ_MINUTES_PER_QUESTION`` per question, rounded
  up, plus the ``activity`` minutes of its applied task.
- Item writing (W1–W8) and the course's review date (W9): see :func:`quiz_warnings`,
  :func:`has_sources_heading`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from lgnetforma.content.model import Question, Quiz, Severity
from lgnetforma.content.quiz import normalise_answer, required_points

#: Dense Italian administrative text, read to be understood and applied.
READING_WORDS_PER_MINUTE = 150
QUIZ_MINUTES_PER_QUESTION = 1.5
#: A declared duration beyond these multiples of the estimate gets a warning.
EFFORT_TOO_HIGH = 2.0
EFFORT_TOO_LOW = 0.5
#: The heading every module ends with (any level; case and accents do not matter).
SOURCES_HEADING = "Fonti e aggiornamento"
#: A word of the correct answer this long that is also in the stem gives the answer away.
KEY_WORD_LETTERS = 5
HIGH_PASS_MARK = 0.8
MIN_ATTEMPTS_AT_HIGH_PASS = 3
MIN_OPTIONS = 4

#: Words that carry no content, after normalisation (only those of 5+ letters matter).
_STOP_WORDS = """
della delle dello degli dalla dalle dallo dagli nella nelle nello negli sulla sulle
sullo sugli alla alle allo agli quale quali quando quanto quanta quanti quante questo
questa questi queste quello quella quelli quelle perche sono essere stato stata stati
state hanno ogni tutti tutte tutto tutta anche ancora molto molti molte sempre oppure
mentre senza contro verso dopo prima presso secondo cosa come dove deve devono possono
viene vengono altro altra altri altre stesso stessa stessi stesse loro nostro nostra
vostro vostra proprio propria propri proprie fatto fare cioe invece quindi infatti pero
tranne soltanto entro circa tramite attraverso rispetto sotto sopra tanto tanta poiche
affinche benche sempre nessun nessuno nessuna alcun alcuno alcuna alcuni alcune qualche
qualcuno chiunque dunque ovvero ossia nonche essa esso esse essi avere aveva sara
saranno siano fosse fossero abbia abbiano
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

#: ``report(line, message, severity, code)``
Report = Callable[[int, str, Severity, str], None]

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(?P<text>.*?)[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_WORD = re.compile(r"[^\W\d_]+")


# --------------------------------------------------------------------------- effort


def count_words(text: str) -> int:
    """Words of Markdown text: whitespace-separated tokens with a letter or a digit."""
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))


def estimated_minutes(words: int, questions: int, activity: int = 0) -> int:
    """Estimated effort of a module, in whole minutes (see the module docstring)."""
    reading = math.ceil(words / READING_WORDS_PER_MINUTE)
    return math.ceil(reading + QUIZ_MINUTES_PER_QUESTION * questions) + activity


def check_effort(
    duration: int, words: int, questions: int, activity: int, line: int, report: Report
) -> None:
    """Warn when the declared duration is more than twice or less than half the estimate."""
    estimate = estimated_minutes(words, questions, activity)
    if duration > EFFORT_TOO_HIGH * estimate or duration < EFFORT_TOO_LOW * estimate:
        report(
            line,
            f"durata dichiarata di {duration} minuti lontana dall'impegno stimato di "
            f"{estimate} minuti ({words} parole a {READING_WORDS_PER_MINUTE} al minuto, "
            f"{questions} domande a {QUIZ_MINUTES_PER_QUESTION:g} minuti, {activity} minuti "
            "di attività): la durata deve stare tra la metà e il doppio della stima "
            "(indica il compito applicato con 'activity: minuti')",
            "warning",
            "D1",
        )


def duration_sum_matches(hours: float, durations: Iterable[int]) -> bool:
    """True when the module durations add up to the course's hours."""
    return math.isclose(sum(durations), hours * 60, abs_tol=1e-6)


def check_duration_sum(
    hours: float, durations: Sequence[int], line: int, report: Report, severity: Severity
) -> None:
    """Module durations must add up to ``hours`` × 60 (an error for the validator)."""
    if duration_sum_matches(hours, durations):
        return
    total = sum(durations)
    expected = hours * 60
    report(
        line,
        f"le durate dei moduli sommano {total} minuti, ma {hours:g} ore certificate sono "
        f"{expected:g} minuti: correggi le durate ('duration') dei moduli o le ore ('hours')",
        severity,
        "D2",
    )


# --------------------------------------------------------------------------- headings


def _heading_key(text: str) -> str:
    return normalise_answer(text)


def has_sources_heading(lines: Iterable[str]) -> bool:
    """True when a heading (ATX or setext, any level) reads "Fonti e aggiornamento"."""
    wanted = _heading_key(SOURCES_HEADING)
    previous = ""
    for line in lines:
        match = _HEADING.match(line)
        if match and _heading_key(match["text"]) == wanted:
            return True
        if _SETEXT.match(line) and previous.strip() and _heading_key(previous) == wanted:
            return True
        previous = line
    return False


# --------------------------------------------------------------------------- items


def words(text: str) -> list[str]:
    """Lowercase words without accents (letters only)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _WORD.findall(plain)


def key_words(text: str) -> set[str]:
    """Words that carry the content: at least five letters and not a stop word."""
    return {w for w in words(text) if len(w) >= KEY_WORD_LETTERS and w not in STOP_WORDS}


def _choice(question: Question) -> bool:
    return question.kind in ("single", "multiple")


def _correct_positions(question: Question) -> tuple[int, ...]:
    return tuple(i for i, option in enumerate(question.options) if option.correct)


def _correct_first(question: Question) -> bool:
    """Every correct option comes before every wrong one (and there is a wrong one)."""
    flags = [option.correct for option in question.options]
    if all(flags):
        return False
    first_wrong = flags.index(False)
    return not any(flags[first_wrong:])


def _option_length(text_md: str) -> int:
    return len(" ".join(text_md.split()))


def quiz_warnings(quiz: Quiz, report: Report) -> None:
    """Item-writing warnings W1–W7 of docs/course-format.md, at the quiz or question line."""
    questions = quiz.questions
    choice = [q for q in questions if _choice(q)]

    # W1: the correct option is strictly the longest in most single-choice items.
    eligible = [q for q in questions if q.kind == "single" and len(q.options) >= 3]
    if len(eligible) >= 2:
        longest = 0
        for question in eligible:
            lengths = sorted(
                ((_option_length(o.text_md), o.correct) for o in question.options), reverse=True
            )
            if lengths[0][1] and lengths[0][0] > lengths[1][0]:
                longest += 1
        if longest * 2 > len(eligible):
            report(
                quiz.line,
                f"l'opzione corretta è la più lunga in {longest} domande a risposta singola "
                f"su {len(eligible)}: chi non sa la risposta la indovina; scrivi opzioni di "
                "lunghezza simile",
                "warning",
                "W1",
            )

    # W2: without shuffle, the correct options are in predictable places.
    if not quiz.shuffle and choice:
        positions = {_correct_positions(q) for q in choice}
        first = sum(1 for q in choice if _correct_first(q))
        if len(choice) >= 2 and len(positions) == 1:
            where = ", ".join(str(i + 1) for i in next(iter(positions)))
            report(
                quiz.line,
                f"quiz senza 'shuffle' con le opzioni corrette sempre nella stessa posizione "
                f"({where}): aggiungi shuffle alla riga del quiz o varia le posizioni",
                "warning",
                "W2",
            )
        elif first * 2 >= len(choice):
            report(
                quiz.line,
                f"quiz senza 'shuffle' con le opzioni corrette prima di tutte le sbagliate in "
                f"{first} domande su {len(choice)}: aggiungi shuffle alla riga del quiz o "
                "varia le posizioni",
                "warning",
                "W2",
            )

    # W4, W5: the pass mark.
    total = len(questions)
    if total >= 2 and required_points(quiz.pass_mark, total) == total:
        report(
            quiz.line,
            f"soglia che equivale al 100%: con pass={quiz.pass_mark:.0%} servono tutte le "
            f"{total} risposte giuste; abbassa la soglia o aggiungi domande",
            "warning",
            "W4",
        )
    if (
        quiz.pass_mark + 1e-9 >= HIGH_PASS_MARK
        and quiz.attempts is not None
        and quiz.attempts < MIN_ATTEMPTS_AT_HIGH_PASS
    ):
        report(
            quiz.line,
            f"con una soglia di {quiz.pass_mark:.0%} servono almeno "
            f"{MIN_ATTEMPTS_AT_HIGH_PASS} tentativi (ora attempts={quiz.attempts})",
            "warning",
            "W5",
        )

    for question in questions:
        _question_warnings(question, report)


def _question_warnings(question: Question, report: Report) -> None:
    line = question.line
    options = question.options
    # W3: a multiple-answer item with one wrong option is a single-choice item in disguise.
    if question.kind == "multiple" and sum(1 for o in options if not o.correct) == 1:
        report(
            line,
            "domanda a risposta multipla con una sola opzione sbagliata: basta riconoscere "
            "quella; aggiungi opzioni sbagliate plausibili",
            "warning",
            "W3",
        )
    # W7: too few options (two are a true/false item).
    if _choice(question) and len(options) < MIN_OPTIONS and len(options) != 2:
        report(
            line,
            f"domanda con {len(options)} opzioni: ne servono almeno {MIN_OPTIONS} (oppure "
            "esattamente 2, per un vero/falso)",
            "warning",
            "W7",
        )
    # W6: the stem contains a key word of the answer.
    stem = set(words(question.text_md))
    if _choice(question):
        wrong: set[str] = set()
        for option in options:
            if not option.correct:
                wrong |= set(words(option.text_md))
        given = set()
        for option in options:
            if option.correct:
                given |= key_words(option.text_md) - wrong
        given &= stem
    else:
        given = {
            w for answer in question.answers for w in words(answer) if len(w) >= KEY_WORD_LETTERS
        } & stem
    if given:
        shown = ", ".join(f"'{w}'" for w in sorted(given)[:3])
        report(
            line,
            f"la domanda suggerisce la risposta: il suo testo contiene {shown}, parola "
            "della risposta giusta che non compare in nessuna opzione sbagliata",
            "warning",
            "W6",
        )
