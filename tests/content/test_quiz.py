"""The quiz block: structure, public view, storage round trip and grading."""

from __future__ import annotations

import json

import pytest

from lgnetforma.content import (
    AnswerError,
    Quiz,
    grade,
    normalise_answer,
    parse_module_text,
)
from tests.content import syntax

QUIZ_MODULE = """\
---
title: Indicatori
duration: 30
---

Testo del modulo.

```quiz pass=80% attempts=3 shuffle
? Chi è il **capofila** del progetto LGNet?
- [ ] ANCI
- [x] Il Ministero dell'Interno
- [ ] La fondazione Cittalia
> Il Ministero dell'Interno coordina la rete.
> Vedi il *modulo 1*.

? Quali servizi sono stati offerti ai beneficiari?
(più risposte)
- [x] Pronta assistenza
- [X] Supporto all'inclusione
  abitativa
- [ ] Rilascio del permesso di soggiorno

? Chi coordina la rete?
= Ministero dell'Interno
= il Viminale

? Una domanda con `codice`
- [x] sì
- [ ] no
```
"""


@pytest.fixture
def quiz() -> Quiz:
    doc, problems = parse_module_text("01-indicatori.md", QUIZ_MODULE, media=())
    assert syntax(problems) == ()
    assert doc.quiz is not None
    return doc.quiz


def test_quiz_structure(quiz):
    assert (quiz.pass_mark, quiz.attempts, quiz.shuffle, quiz.line) == (0.8, 3, True, 8)
    assert [q.number for q in quiz.questions] == [1, 2, 3, 4]
    assert [q.kind for q in quiz.questions] == ["single", "multiple", "short", "single"]
    assert [q.line for q in quiz.questions] == [9, 16, 23, 27]


def test_question_text_and_options(quiz):
    first = quiz.questions[0]
    assert first.text_md == "Chi è il **capofila** del progetto LGNet?"
    assert first.text_html == "Chi è il <strong>capofila</strong> del progetto LGNet?"
    assert [(o.key, o.text_md, o.correct) for o in first.options] == [
        ("1", "ANCI", False),
        ("2", "Il Ministero dell'Interno", True),
        ("3", "La fondazione Cittalia", False),
    ]
    assert first.answers == ()
    assert first.feedback_md == "Il Ministero dell'Interno coordina la rete.\nVedi il *modulo 1*."
    assert "<em>modulo 1</em>" in first.feedback_html
    assert quiz.questions[3].text_html == "Una domanda con <code>codice</code>"


def test_continuation_lines(quiz):
    second = quiz.questions[1]
    assert second.text_md == "Quali servizi sono stati offerti ai beneficiari?\n(più risposte)"
    assert second.options[1].text_md == "Supporto all'inclusione\nabitativa"
    assert second.correct_keys == {"1", "2"}


def test_short_answer_question(quiz):
    third = quiz.questions[2]
    assert third.options == ()
    assert third.answers == ("Ministero dell'Interno", "il Viminale")
    assert third.feedback_md == ""


def test_quiz_defaults():
    text = "---\ntitle: M\nduration: 5\n---\n```quiz\n? D\n= a\n```\n"
    doc, _ = parse_module_text("01-m.md", text, media=(), default_pass=0.65)
    assert (doc.quiz.pass_mark, doc.quiz.attempts, doc.quiz.shuffle) == (0.65, None, False)


def test_quiz_block_does_not_reach_the_body():
    doc, _ = parse_module_text("01-indicatori.md", QUIZ_MODULE, media=())
    assert doc.body_html == "<p>Testo del modulo.</p>"


# --------------------------------------------------------------------------- storage


def test_round_trip_through_json(quiz):
    stored = json.dumps(quiz.to_dict())
    assert Quiz.from_dict(json.loads(stored)) == quiz


def test_from_dict_rejects_malformed_data(quiz):
    data = quiz.to_dict()
    del data["questions"][0]["kind"]
    with pytest.raises(ValueError):
        Quiz.from_dict(data)
    data = quiz.to_dict()
    data["questions"][0]["kind"] = "essay"
    with pytest.raises(ValueError):
        Quiz.from_dict(data)


def _walk(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_public_dict_reveals_nothing_about_correctness(quiz):
    public = quiz.public_dict()
    keys = {key for key, _ in _walk(public)}
    assert keys.isdisjoint({"correct", "answers", "feedback_md", "feedback_html"})
    serialised = json.dumps(public, ensure_ascii=False)
    assert "Viminale" not in serialised
    assert "coordina la rete." not in serialised
    assert "true" not in serialised.replace('"shuffle": true', "")
    first = public["questions"][0]
    assert first == {
        "number": 1,
        "kind": "single",
        "text_html": quiz.questions[0].text_html,
        "options": [
            {"key": "1", "text_html": "ANCI"},
            {"key": "2", "text_html": "Il Ministero dell'Interno"},
            {"key": "3", "text_html": "La fondazione Cittalia"},
        ],
    }
    assert public["questions"][2]["options"] == []


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("ministero dell'interno", "Ministero dell'Interno"),
        ("  MINISTERO   dell'Interno ", "Ministero dell'Interno"),
        ("ministero dell’interno", "Ministero dell'Interno"),
        ("perche", "Perché"),
        ("Perché", "perche"),
        ("CITTÀ", "città"),
        ("Ｌｇｎｅｔ", "lgnet"),
        ("a\tb\nc", "a b c"),
    ],
)
def test_normalise_answer_equal(typed, accepted):
    assert normalise_answer(typed) == normalise_answer(accepted)


@pytest.mark.parametrize(("typed", "accepted"), [("286", "2 86"), ("d.lgs. 286", "dlgs 286")])
def test_normalise_answer_keeps_meaningful_differences(typed, accepted):
    assert normalise_answer(typed) != normalise_answer(accepted)


def all_right() -> dict[int, object]:
    return {1: "2", 2: ["1", "2"], 3: "il viminale", 4: ["1"]}


def test_grade_all_correct(quiz):
    result = grade(quiz, all_right())
    assert (result.score, result.points, result.total, result.passed) == (1.0, 4, 4, True)
    assert [r.correct for r in result.per_question] == [True, True, True, True]
    assert result.per_question[0].chosen == ("2",)
    assert result.per_question[0].feedback_html == quiz.questions[0].feedback_html
    assert result.per_question[2].chosen == ("il viminale",)


def test_single_choice_wrong(quiz):
    result = grade(quiz, {**all_right(), 1: ["1"]})
    assert result.per_question[0].correct is False
    assert result.per_question[0].chosen == ("1",)
    assert result.points == 3


@pytest.mark.parametrize("chosen", [["1"], ["2"], ["1", "2", "3"], ["3"]])
def test_multiple_choice_is_all_or_nothing(quiz, chosen):
    result = grade(quiz, {**all_right(), 2: chosen})
    assert result.per_question[1].correct is False
    assert result.points == 3


def test_multiple_choice_order_and_duplicates_do_not_matter(quiz):
    result = grade(quiz, {**all_right(), 2: ["2", "1", "2"]})
    assert result.per_question[1].correct is True
    assert result.per_question[1].chosen == ("1", "2")


@pytest.mark.parametrize(
    ("typed", "correct"),
    [
        ("  MINISTERO   DELL'INTERNO  ", True),
        ("Il Viminàle", True),
        ("ministero dell’interno", True),
        ("Ministero", False),
        ("Viminale", True),  # the leading article of "il Viminale" does not count
        ("Viminale centrale", False),
    ],
)
def test_short_answer(quiz, typed, correct):
    result = grade(quiz, {**all_right(), 3: typed})
    assert result.per_question[2].correct is correct


def test_pass_mark_boundary_score_equal_to_pass_passes():
    text = "---\ntitle: M\nduration: 5\n---\n```quiz pass=80%\n" + "".join(
        f"? D{n}\n= {n}\n" for n in range(1, 6)
    )
    doc, problems = parse_module_text("01-m.md", text + "```\n", media=())
    assert syntax(problems) == ()
    answers = {n: str(n) for n in range(1, 6)}
    four_of_five = grade(doc.quiz, {**answers, 5: "no"})
    assert (four_of_five.score, four_of_five.passed) == (0.8, True)
    three_of_five = grade(doc.quiz, {**answers, 4: "no", 5: "no"})
    assert (three_of_five.score, three_of_five.passed) == (0.6, False)


@pytest.mark.parametrize(("points", "passed"), [(6, False), (7, True), (10, True)])
def test_default_pass_mark_seventy_percent(points, passed):
    text = "---\ntitle: M\nduration: 5\n---\n```quiz\n" + "".join(
        f"? D{n}\n= ok\n" for n in range(1, 11)
    )
    doc, _ = parse_module_text("01-m.md", text + "```\n", media=())
    answers = {n: "ok" if n <= points else "no" for n in range(1, 11)}
    assert grade(doc.quiz, answers).passed is passed


@pytest.mark.parametrize(
    ("change", "number"),
    [
        ({1: "9"}, 1),  # an option key that does not exist
        ({1: ["2", "x"]}, 1),
        ({2: ["1", "4"]}, 2),
        ({4: "3"}, 4),
        ({1: ["1", "2"]}, 1),  # two keys for a single-choice question
        ({1: []}, 1),  # nothing chosen
        ({2: []}, 2),
        ({3: "   "}, 3),  # empty text
        ({3: ["a", "b"]}, 3),
        ({1: [2]}, 1),  # not a string key
        ({7: "1"}, 7),  # a question that does not exist
    ],
)
def test_answer_errors(quiz, change, number):
    with pytest.raises(AnswerError) as info:
        grade(quiz, {**all_right(), **change})
    assert info.value.question_number == number
    assert info.value.message
    assert str(info.value) == info.value.message


def test_missing_answer_is_an_error(quiz):
    answers = all_right()
    del answers[3]
    with pytest.raises(AnswerError) as info:
        grade(quiz, answers)
    assert info.value.question_number == 3
    assert "manca la risposta" in info.value.message


def test_string_question_numbers_are_accepted(quiz):
    answers = {str(k): v for k, v in all_right().items()}
    assert grade(quiz, answers).points == 4


def test_grade_works_on_a_stored_quiz(quiz):
    stored = Quiz.from_dict(json.loads(json.dumps(quiz.to_dict())))
    assert grade(stored, all_right()).passed
