"""The review checks of the validator: effort (D1, D2), item writing (W1–W9), answers."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgnetforma.content import (
    Question,
    Quiz,
    grade,
    normalise_answer,
    parse_course_files,
    parse_course_meta,
    parse_module_text,
)
from lgnetforma.content.quiz import required_points
from lgnetforma.content.review import (
    count_words,
    duration_sum_matches,
    estimated_minutes,
    has_sources_heading,
    key_words,
)

SETTINGS = settings(max_examples=200, deadline=None)
SOURCES = "\n## Fonti e aggiornamento\n\n- D.lgs. 286/1998 (testo unico), aggiornato al 2026.\n"


def module(body: str, *, duration: int = 2, activity: int | None = None) -> str:
    """A module: front matter on lines 1-4 (5 with ``activity``), the body after it."""
    front = f"title: Modulo\nduration: {duration}\n"
    if activity is not None:
        front += f"activity: {activity}\n"
    return f"---\n{front}---\n{body}"


def problems_of(text: str) -> list[tuple[int, str]]:
    _, problems = parse_module_text("01-modulo.md", text, media=())
    return [(p.line, p.code) for p in problems if p.code]


def messages(text: str, code: str) -> list[str]:
    _, problems = parse_module_text("01-modulo.md", text, media=())
    return [p.message for p in problems if p.code == code]


def quiz_module(quiz: str, info: str = "shuffle", *, duration: int | None = None) -> str:
    """A module with ``quiz`` (its fence on line 6, its first question on 7), and sources."""
    questions = quiz.count("\n? ") + quiz.startswith("? ")
    minutes = duration if duration is not None else math.ceil(1 + 1.5 * questions)
    return module(f"Testo.\n```quiz {info}\n{quiz}```\n{SOURCES}", duration=minutes)


FOUR = "- [x] Roma\n- [ ] Napoli\n- [ ] Torino\n- [ ] Bari\n"


# --------------------------------------------------------------------------- effort (D1)


def test_a_clean_module_has_no_review_problem():
    assert problems_of(quiz_module(f"? Quale città?\n{FOUR}")) == []


def test_estimate_counts_words_outside_the_quiz_questions_and_activity():
    words = " ".join(["parola"] * 301)  # 3 minutes of reading
    quiz = f"? Quale città?\n{FOUR}\n? E poi?\n{FOUR}"
    # 3 + 2 × 1.5 = 6, + 20 of activity = 26: 13..52 is fine
    text = f"{words}\n\n```quiz pass=50% shuffle\n{quiz}```\n{SOURCES}"
    estimate = estimated_minutes(count_words(words + SOURCES), 2, 20)
    assert estimate == 3 + 3 + 20  # 311 words with the sources section: 3 minutes
    assert problems_of(module(text, duration=estimate * 2, activity=20)) == []
    assert problems_of(module(text, duration=estimate // 2, activity=20)) == []
    assert problems_of(module(text, duration=estimate * 2 + 1, activity=20)) == [(3, "D1")]
    assert problems_of(module(text, duration=estimate // 2 - 1, activity=20)) == [(3, "D1")]
    (message,) = messages(module(text, duration=200, activity=20), "D1")
    assert "200 minuti" in message and f"{estimate} minuti" in message


def test_activity_must_be_a_whole_number_of_zero_or_more_minutes():
    for bad in ("-5", "mezz'ora", "1.5", "[10]"):
        doc, problems = parse_module_text("01-m.md", module("x\n", activity=bad), media=())
        assert doc is None
        assert [(p.line, "'activity'" in p.message) for p in problems if not p.code] == [(4, True)]
    doc, _ = parse_module_text("01-m.md", module(SOURCES, activity=0), media=())
    assert doc is not None and doc.activity == 0


@SETTINGS
@given(words=st.integers(0, 5000), questions=st.integers(0, 40), activity=st.integers(0, 600))
def test_estimate_property(words, questions, activity):
    estimate = estimated_minutes(words, questions, activity)
    assert isinstance(estimate, int)
    exact = words / 150 + 1.5 * questions + activity
    assert exact <= estimate < exact + 2
    assert estimated_minutes(words + 150, questions, activity) == estimate + 1
    assert estimated_minutes(words, questions + 2, activity) == estimate + 3


@SETTINGS
@given(st.lists(st.integers(1, 600), min_size=1, max_size=12))
def test_sum_rule_property(durations):
    total = sum(durations)
    assert duration_sum_matches(total / 60, durations)
    assert not duration_sum_matches(total / 60 + 1 / 60, durations)
    assert not duration_sum_matches((total - 1) / 60, durations)


# --------------------------------------------------------------------------- courses (D2, W9)

COURSE = "---\ntitle: Corso\ncycle: 2025-2026\nhours: {hours}\nreviewed: 2026-11-20\n---\n"


def test_durations_must_add_up_to_the_hours():
    modules = {
        "01-a.md": quiz_module(f"? Quale città?\n{FOUR}", duration=60),
        "02-b.md": quiz_module(f"? Quale città?\n{FOUR}", duration=90),
    }
    ok = parse_course_files("corso", COURSE.format(hours=2.5), modules, ())
    assert ok.course is not None and ok.course.hours == 2.5
    assert ok.course.reviewed == date(2026, 11, 20)
    bad = parse_course_files("corso", COURSE.format(hours=4), modules, ())
    assert bad.course is None
    (error,) = bad.errors
    assert (error.path, error.line, error.code) == ("course.md", 4, "D2")
    assert "150 minuti" in error.message and "240 minuti" in error.message


def test_reviewed_is_a_date_and_its_absence_a_warning():
    meta, problems = parse_course_meta(COURSE.format(hours=1))
    assert meta.reviewed == date(2026, 11, 20) and problems == ()
    for bad in ("20/11/2026", "2026-02-30", "ieri", "[2026]"):
        meta, problems = parse_course_meta(COURSE.format(hours=1).replace("2026-11-20", bad))
        assert meta is None
        assert [(p.line, p.severity) for p in problems] == [(5, "error")]
        assert "AAAA-MM-GG" in problems[0].message
    _, problems = parse_course_meta("---\ntitle: Corso\ncycle: 2025-2026\nhours: 1\n---\n")
    assert [(p.line, p.severity, p.code) for p in problems] == [(1, "warning", "W9")]


# --------------------------------------------------------------------------- items (W1-W7)


def test_w1_correct_option_longest_in_most_items():
    long_right = "? Chi?\n- [x] La risposta giusta molto lunga\n- [ ] No\n- [ ] Mai\n- [ ] Poi\n"
    short_right = "? Chi?\n- [x] Sì\n- [ ] Una risposta lunga\n- [ ] Mai\n- [ ] Poi\n"
    assert problems_of(quiz_module(long_right * 2 + short_right, "pass=60% shuffle")) == [(6, "W1")]
    assert (
        problems_of(quiz_module(long_right + short_right, "pass=50% shuffle")) == []
    )  # not more than half
    assert problems_of(quiz_module(long_right)) == []  # one item is not a pattern
    tie = "? Chi?\n- [x] Roma\n- [ ] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    assert problems_of(quiz_module(tie * 3, "pass=60% shuffle")) == []  # strictly the longest


def test_w2_predictable_positions_without_shuffle():
    first = "? Chi?\n- [x] Roma\n- [ ] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    second = "? Chi?\n- [ ] Pisa\n- [x] Roma\n- [ ] Bari\n- [ ] Asti\n"
    third = "? Chi?\n- [ ] Pisa\n- [ ] Bari\n- [x] Roma\n- [ ] Asti\n"
    assert problems_of(quiz_module(second + second, info="pass=50%")) == [(6, "W2")]
    assert "stessa posizione" in messages(quiz_module(second + second, info="pass=50%"), "W2")[0]
    assert problems_of(quiz_module(first + third, info="pass=50%")) == [(6, "W2")]  # half first
    assert "prima di tutte" in messages(quiz_module(first + third, info="pass=50%"), "W2")[0]
    assert problems_of(quiz_module(second + third + first, info="pass=60%")) == []
    assert problems_of(quiz_module(second + second, "pass=50% shuffle")) == []  # shuffled


def test_w3_multiple_answer_with_one_wrong_option():
    one_wrong = "? Quali?\n- [x] Roma\n- [x] Pisa\n- [x] Bari\n- [ ] Asti\n"
    two_wrong = "? Quali?\n- [x] Roma\n- [x] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    assert problems_of(quiz_module(one_wrong)) == [(7, "W3")]
    assert problems_of(quiz_module(two_wrong)) == []


def test_w4_pass_mark_that_needs_every_question():
    items = f"? Quale città?\n{FOUR}\n" * 4
    assert problems_of(quiz_module(items, "pass=80% attempts=3 shuffle")) == [(6, "W4")]
    assert (
        "soglia che equivale al 100%" in messages(quiz_module(items, "pass=80% shuffle"), "W4")[0]
    )
    assert problems_of(quiz_module(items, "pass=75% shuffle")) == []
    assert problems_of(quiz_module(f"? Quale città?\n{FOUR}", "pass=100% shuffle")) == []  # n=1


@SETTINGS
@given(st.integers(1, 100), st.integers(1, 30))
def test_required_points_is_what_grading_needs(percent, total):
    quiz = Quiz(
        percent / 100,
        None,
        False,
        tuple(Question(n, "short", "D", "D", (), ("a",), "", "", n) for n in range(1, total + 1)),
        1,
    )
    needed = required_points(percent / 100, total)
    right = {n: "a" if n <= needed else "b" for n in range(1, total + 1)}
    assert grade(quiz, right).passed
    if needed:
        fewer = {n: "a" if n < needed else "b" for n in range(1, total + 1)}
        assert not grade(quiz, fewer).passed


def test_w5_high_pass_mark_needs_three_attempts():
    items = f"? Quale città?\n{FOUR}\n" * 5
    assert problems_of(quiz_module(items, "pass=80% attempts=2 shuffle")) == [(6, "W5")]
    assert problems_of(quiz_module(items, "pass=80% attempts=3 shuffle")) == []
    assert problems_of(quiz_module(items, "pass=80% shuffle")) == []  # unlimited
    assert problems_of(quiz_module(items, "pass=60% attempts=1 shuffle")) == []


def test_w6_stem_gives_the_answer_away():
    giveaway = (
        "? Quale ufficio rilascia il permesso?\n- [x] L'ufficio immigrazione della Questura\n"
        "- [ ] Il Comune\n- [ ] La Prefettura\n- [ ] L'INPS\n"
    )
    assert problems_of(quiz_module(giveaway)) == [(7, "W6")]
    assert "'ufficio'" in messages(quiz_module(giveaway), "W6")[0]
    # the same word in a wrong option gives nothing away; short and stop words do not count
    fair = giveaway.replace("- [ ] Il Comune", "- [ ] L'ufficio anagrafe del Comune")
    assert problems_of(quiz_module(fair)) == []
    accents = "? Qual è la città?\n- [x] Città di Roma\n- [ ] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    assert problems_of(quiz_module(accents)) == [(7, "W6")]  # "città" is "citta"
    accents_key = (
        "? Che cosa è l'identità?\n- [x] Un'IDENTITÀ\n- [ ] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    )
    assert problems_of(quiz_module(accents_key)) == [(7, "W6")]
    stop = "? Quale delle seguenti?\n- [x] Quale delle due\n- [ ] Pisa\n- [ ] Bari\n- [ ] Asti\n"
    assert problems_of(quiz_module(stop)) == []
    short = "? Chi rilascia il permesso di soggiorno?\n= la Questura\n= il questore\n"
    assert problems_of(quiz_module(short)) == []
    short_giveaway = "? Che cosa rilascia la Questura?\n= il permesso della Questura\n"
    assert problems_of(quiz_module(short_giveaway)) == [(7, "W6")]


def test_key_words():
    assert key_words("Il Ministero dell'Interno, perché è così") == {"ministero", "interno"}


def test_w7_fewer_than_four_options_unless_true_false():
    three = "? Chi?\n- [x] Roma\n- [ ] Pisa\n- [ ] Bari\n"
    true_false = "? Vero o falso: Roma è la capitale.\n- [x] Vero\n- [ ] Falso\n"
    assert problems_of(quiz_module(three)) == [(7, "W7")]
    assert problems_of(quiz_module(true_false)) == []


# --------------------------------------------------------------------------- sources (W8)


@pytest.mark.parametrize(
    "heading",
    [
        "## Fonti e aggiornamento",
        "# fonti e aggiornamento #",
        "#### Fonti E Aggiornamento",
        "Fonti e aggiornamento\n---------------------",
        "Fonti e aggiornamento\n===",
    ],
)
def test_w8_sources_heading_at_any_level(heading):
    assert has_sources_heading(["Testo", "", *heading.split("\n"), "", "- una fonte"])
    assert problems_of(module(f"Testo.\n\n{heading}\n\n- fonte\n")) == []


def test_w8_module_without_sources():
    text = module("Testo.\n\nFonti e aggiornamento\n\n```\n## Fonti e aggiornamento\n```\n")
    assert problems_of(text) == [(11, "W8")]  # a paragraph or code is not a heading (last line)


def test_review_warnings_do_not_block_the_module():
    three = "? Chi?\n- [x] Roma\n- [ ] Pisa\n- [ ] Bari\n"
    doc, problems = parse_module_text("01-m.md", module(f"```quiz\n{three}```\n"), media=())
    assert doc is not None and problems and all(p.severity == "warning" for p in problems)
    assert str(problems[0]).endswith(f"[{problems[0].code}]")


# --------------------------------------------------------------------------- short answers


def short_quiz(*accepted: str) -> Quiz:
    question = Question(1, "short", "D", "D", (), accepted, "", "", 1)
    return Quiz(1.0, None, False, (question,), 1)


@pytest.mark.parametrize(
    ("accepted", "typed"),
    [
        ("art. 118", "art.118"),
        ("art.118", "Art. 118"),
        ("Ministero dell'Interno", "il Ministero dell'Interno"),
        ("il Ministero dell’Interno", "ministero dell interno"),
        ("286/98", "286 98"),
        ("L'Unione europea", "unione europea"),
        ("un'assistente sociale", "Assistente sociale!"),
        ("gli enti locali", "  Enti   LOCALI. "),
        ("tre mesi", "Tre mesi"),
        ("la Questura", "questura"),
    ],
)
def test_short_answers_match_reasonable_variants(accepted, typed):
    assert grade(short_quiz(accepted), {1: typed}).passed


@pytest.mark.parametrize(
    ("accepted", "typed"),
    [("48 ore", "48h"), ("Questura", "Prefettura"), ("art. 118", "art. 11 8")],
)
def test_short_answers_still_differ(accepted, typed):
    assert not grade(short_quiz(accepted), {1: typed}).passed


def test_an_article_alone_is_still_an_answer():
    assert normalise_answer("  La ") == "la"
    assert normalise_answer("il il Comune") == "comune"


def test_an_accepted_answer_of_only_punctuation_is_an_error():
    doc, problems = parse_module_text(
        "01-m.md", module("```quiz\n? Domanda?\n= ...\n= sì\n```\n"), media=()
    )
    assert doc is None
    assert [(p.line, "senza lettere" in p.message) for p in problems if not p.code] == [(7, True)]


LETTERS = "abcdefghilmnopqrstuvzàèéìòùABCDEFGHILMNOPQRSTUVZ0123456789"
word = st.text(alphabet=LETTERS, min_size=1, max_size=8)
ARTICLES = ["il", "lo", "la", "i", "gli", "le", "l'", "un", "uno", "una", "un'", "Il", "L’"]


@SETTINGS
@given(
    words=st.lists(word, min_size=1, max_size=5),
    article=st.sampled_from(["", *ARTICLES]),
    separators=st.lists(st.sampled_from([" ", "  ", ".", ", ", "/", " - ", "!", "\t"]), max_size=5),
    upper=st.booleans(),
)
def test_short_answer_variants_property(words, article, separators, upper):
    accepted = " ".join(words)
    typed_words = [w.upper() if upper else w for w in words]
    typed = typed_words[0]
    for index, w in enumerate(typed_words[1:]):
        typed += separators[index] if index < len(separators) else " "
        typed += w
    if article:
        space = "" if article[-1] in "'’" else " "
        typed = f"  {article}{space}{typed} "
    assert normalise_answer(typed) == normalise_answer(accepted)
    assert normalise_answer(normalise_answer(typed)) == normalise_answer(typed)
