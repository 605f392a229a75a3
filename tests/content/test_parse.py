"""The validator: every rule of docs/course-format.md, with the exact file line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lgnetforma.content import (
    CourseDoc,
    ParseResult,
    Problem,
    parse_course_dir,
    parse_course_files,
    parse_course_meta,
    parse_courses_dir,
    parse_module_text,
)
from tests.content import syntax

COURSE_MD = """\
---
title: Il monitoraggio come buona pratica
summary: Strumenti e indicatori per seguire un progetto FAMI.
cycle: 2025-2026          # the training cycle
hours: 6
area: Gestione dei progetti
pass: 80%
status: published
reviewed: 2026-11-20
---

Per chi coordina un progetto. ![Il ciclo del progetto](media/ciclo.png)
"""

MODULE_MD = """\
---
title: Indicatori di risultato
duration: 30
objectives:
  - distinguere indicatori di realizzazione e di risultato
---

# Indicatori di risultato

Testo con ![Il ciclo del progetto](media/ciclo.png) e [una scheda](media/scheda.pdf).

```quiz attempts=3 shuffle
? Chi è il capofila del progetto LGNet?
- [ ] ANCI
- [x] Il Ministero dell'Interno
> Il Ministero coordina la rete.

? In quale anno inizia il biennio?
= 2025
```
"""

MEDIA = ("media/ciclo.png", "media/scheda.pdf")


def module(body: str = "Testo.\n", front: str = "title: Modulo\nduration: 30\n") -> str:
    """A module whose front matter takes lines 1..N+2 and whose body follows."""
    return f"---\n{front}---\n{body}"


def check_module(text: str, filename: str = "01-modulo.md", **kwargs) -> list[Problem]:
    kwargs.setdefault("media", MEDIA)
    _, problems = parse_module_text(filename, text, **kwargs)
    problems = syntax(problems)
    return list(syntax(problems))


def errors_at(problems: list[Problem] | tuple[Problem, ...]) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in problems if p.severity == "error"]


def assert_one_error(problems, line: int, fragment: str) -> None:
    found = errors_at(problems)
    assert len(found) == 1, found
    assert found[0][0] == line, found
    assert fragment in found[0][1], found


def matching_hours(course_md: str, modules: dict[str, str]) -> str:
    """``course_md`` with ``hours: 6`` replaced by the hours its modules add up to."""
    minutes = sum(
        int(m) for text in modules.values() for m in re.findall(r"^duration: (\d+)$", text, re.M)
    )
    if not minutes:
        return course_md
    return course_md.replace("hours: 6\n", f"hours: {minutes / 60:g}\n")


def parse(modules: dict[str, str] | None = None, course_md: str = COURSE_MD, **kw) -> ParseResult:
    """Parse a course; the default ``course.md`` certifies the hours its modules add up to."""
    if modules is None:
        modules = {"01-indicatori.md": MODULE_MD}
    course_md = matching_hours(course_md, modules)
    result = parse_course_files(
        kw.pop("slug", "monitoraggio-progetti"),
        course_md,
        modules,
        kw.pop("media", MEDIA),
        base_path=kw.pop("base_path", "courses/monitoraggio-progetti"),
        **kw,
    )
    return ParseResult(result.course, syntax(result.problems))


# --------------------------------------------------------------------------- a valid course


def test_valid_course_is_parsed_completely():
    result = parse({"02-secondo.md": module(), "01-indicatori.md": MODULE_MD})
    assert result.ok, result.problems
    assert result.problems == ()
    course = result.course
    assert isinstance(course, CourseDoc)
    assert course.slug == "monitoraggio-progetti"
    assert course.title == "Il monitoraggio come buona pratica"
    assert course.summary.startswith("Strumenti")
    assert course.cycle == "2025-2026"
    assert course.hours == 1  # matching_hours: two modules of 30 minutes
    assert course.area == "Gestione dei progetti"
    assert course.pass_mark == 0.8
    assert course.status == "published"
    assert course.source == COURSE_MD.replace("hours: 6\n", "hours: 1\n")
    assert 'src="media/ciclo.png"' in course.description_html
    assert course.media == MEDIA
    assert [m.filename for m in course.modules] == ["01-indicatori.md", "02-secondo.md"]

    first = course.modules[0]
    assert (first.slug, first.position, first.title, first.duration) == (
        "indicatori",
        1,
        "Indicatori di risultato",
        30,
    )
    assert first.objectives == ("distinguere indicatori di realizzazione e di risultato",)
    assert first.source == MODULE_MD
    assert '<h1 id="indicatori-di-risultato">' in first.body_html
    assert "Ministero" not in first.body_html  # the quiz is not part of the body
    assert first.quiz is not None
    assert first.quiz.line == 12
    assert first.quiz.pass_mark == 0.8  # the course's pass mark
    assert first.quiz.attempts == 3
    assert first.quiz.shuffle is True
    assert [q.line for q in first.quiz.questions] == [13, 18]
    assert course.modules[1].quiz is None


def test_defaults_of_optional_course_fields():
    course_md = "---\ntitle: Corso\ncycle: 2025-2026\nhours: 1.5\n---\n"
    text = module("```quiz\n? Domanda\n= sì\n```\n", front="title: Modulo\nduration: 90\n")
    result = parse({"01-a.md": text}, course_md=course_md)
    assert result.ok, result.problems
    course = result.course
    assert (course.summary, course.area, course.pass_mark, course.status) == (
        "",
        None,
        0.7,
        "published",
    )
    assert course.hours == 1.5
    assert course.description_html == ""
    assert course.modules[0].quiz.pass_mark == 0.7


def test_quiz_pass_overrides_course_pass():
    text = module("```quiz pass=55%\n? Domanda\n= sì\n```\n")
    result = parse({"01-a.md": text})
    assert result.course.modules[0].quiz.pass_mark == 0.55


def test_draft_status():
    result = parse(course_md=COURSE_MD.replace("status: published", "status: draft"))
    assert result.course.status == "draft"


def test_problem_str_formats():
    error = Problem("courses/x/02-b.md", 41, "la domanda non ha alcuna opzione corretta")
    warning = Problem("courses/x/02-b.md", 3, "immagine senza testo alternativo", "warning")
    assert str(error) == "courses/x/02-b.md:41: la domanda non ha alcuna opzione corretta"
    assert str(warning) == "courses/x/02-b.md:3: warning: immagine senza testo alternativo"


def test_problem_paths_use_base_path():
    bad = MODULE_MD.replace("- [x] Il Ministero", "- [ ] Il Ministero")
    result = parse({"02-indicatori.md": bad})
    assert not result.ok
    assert result.course is None
    assert [str(p) for p in result.problems] == [
        "courses/monitoraggio-progetti/02-indicatori.md:13: "
        "la domanda non ha alcuna opzione corretta"
    ]


def test_all_problems_are_collected_across_files():
    course_md = COURSE_MD.replace("hours: 6\n", "")
    modules = {
        "01-a.md": module(front="duration: 30\n"),
        "02-b.md": module("```quiz\n? Senza risposte\n```\n"),
    }
    result = parse(modules, course_md=course_md)
    assert [(p.path.rsplit("/", 1)[1], p.line) for p in result.errors] == [
        ("course.md", 1),
        ("01-a.md", 1),
        ("02-b.md", 6),
    ]


def test_crlf_and_bom_keep_line_numbers():
    text = "\ufeff" + MODULE_MD.replace("- [x] Il", "- [ ] Il").replace("\n", "\r\n")
    assert_one_error(check_module(text), 13, "opzione corretta")


# --------------------------------------------------------------------------- front matter


def test_missing_front_matter():
    assert_one_error(check_module("# Titolo\n\nTesto\n"), 1, "manca il front matter")


def test_front_matter_must_start_at_line_one():
    problems = check_module("\n" + module())
    assert_one_error(problems, 1, "senza righe vuote prima")


def test_unclosed_front_matter():
    assert_one_error(check_module("---\ntitle: Modulo\nduration: 30\n\nTesto\n"), 1, "non chiuso")


@pytest.mark.parametrize(
    ("front", "line", "fragment"),
    [
        ("title: Modulo: due punti\nduration: 30\n", 2, "virgolette"),
        ("title: Modulo\nduration: 30\nobjectives: [uno, due\n", 4, "YAML"),
        ("title: 'Modulo\nduration: 30\n", 2, "YAML"),
        ("title: Modulo\n\tduration: 30\n", 3, "tabulazioni"),
        ("title: Modulo\nduration: 30\nobjectives:\n  - a\n - b\n", 6, "YAML"),
        ("title: Modulo\nduration: 30\n}\n", 4, "YAML"),
    ],
)
def test_yaml_syntax_errors_point_at_the_file_line(front, line, fragment):
    assert_one_error(check_module(module(front=front)), line, fragment)


def test_front_matter_must_be_a_mapping():
    assert_one_error(check_module(module(front="- title\n- duration\n")), 2, "chiave: valore")


def test_unknown_key_in_module():
    problems = check_module(module(front="title: Modulo\nautore: Rossi\nduration: 30\n"))
    assert_one_error(problems, 3, "chiave sconosciuta nel front matter: 'autore'")


def test_unknown_key_in_course():
    result = parse(course_md=COURSE_MD.replace("hours: 6\n", "hours: 6\nlingua: it\n"))
    assert_one_error(result.problems, 6, "chiave sconosciuta nel front matter: 'lingua'")


def test_duplicate_key():
    problems = check_module(module(front="title: Modulo\nduration: 30\ntitle: Altro\n"))
    assert_one_error(problems, 4, "chiave ripetuta nel front matter: 'title'")


def test_non_text_key():
    problems = check_module(module(front="title: Modulo\nduration: 30\n[a]: b\n"))
    assert_one_error(problems, 4, "chiave non valida")


def test_unknown_key_does_not_hide_missing_required_key():
    problems = check_module(module(front="titolo: Modulo\nduration: 30\n"))
    assert errors_at(problems) == [
        (1, "manca il campo obbligatorio 'title'"),
        (
            2,
            "chiave sconosciuta nel front matter: 'titolo' (ammesse: title, duration, objectives, activity)",
        ),
    ]


@pytest.mark.parametrize("key", ["title", "hours", "cycle"])
def test_required_course_keys(key):
    lines = [line for line in COURSE_MD.split("\n") if not line.startswith(f"{key}:")]
    result = parse(course_md="\n".join(lines))
    assert_one_error(result.problems, 1, f"manca il campo obbligatorio '{key}'")


@pytest.mark.parametrize("key", ["title", "duration"])
def test_required_module_keys(key):
    front = "".join(f"{k}: {v}\n" for k, v in [("title", "Modulo"), ("duration", 30)] if k != key)
    assert_one_error(check_module(module(front=front)), 1, f"manca il campo obbligatorio '{key}'")


@pytest.mark.parametrize("value", ["", "~", "[Titolo]", "{a: b}"])
def test_title_must_be_non_empty_text(value):
    problems = check_module(module(front=f"title: {value}\nduration: 30\n"))
    assert_one_error(problems, 2, "'title'")


def test_title_keeps_the_text_as_written():
    doc, problems = parse_module_text(
        "01-a.md", module(front="title: yes\nduration: 30\n"), media=()
    )
    problems = syntax(problems)
    assert problems == ()
    assert doc.title == "yes"


@pytest.mark.parametrize("value", ["0", "-2", "sei", "1,5", "true", "[6]", "", ".inf", "'6'"])
def test_hours_must_be_a_positive_number(value):
    result = parse(course_md=COURSE_MD.replace("hours: 6", f"hours: {value}"))
    assert_one_error(result.problems, 5, "'hours'")


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "trenta", "30 min", "true", ""])
def test_duration_must_be_a_positive_whole_number(value):
    problems = check_module(module(front=f"title: Modulo\nduration: {value}\n"))
    assert_one_error(problems, 3, "'duration'")


@pytest.mark.parametrize("value", ["0%", "101%", "70", "settanta", "70.5%", "-5%", "[70%]"])
def test_course_pass_must_be_a_percentage(value):
    result = parse(course_md=COURSE_MD.replace("pass: 80%", f"pass: {value}"))
    assert_one_error(result.problems, 7, "'pass'")


@pytest.mark.parametrize("value", ["1%", "100%"])
def test_course_pass_bounds_are_accepted(value):
    result = parse(course_md=COURSE_MD.replace("pass: 80%", f"pass: {value}"))
    assert result.ok, result.problems


@pytest.mark.parametrize("value", ["bozza", "Published", "", "[draft]"])
def test_status_must_be_draft_or_published(value):
    result = parse(course_md=COURSE_MD.replace("status: published", f"status: {value}"))
    assert_one_error(result.problems, 8, "stato non valido")


@pytest.mark.parametrize("value", ["2025", "2026-2025", "2025/2026", "25-26", "2025-2025"])
def test_cycle_must_look_like_2025_2026(value):
    result = parse(course_md=COURSE_MD.replace("cycle: 2025-2026", f"cycle: {value}"))
    assert_one_error(result.problems, 4, "ciclo non valido")


def test_objectives_must_be_a_list_of_strings():
    problems = check_module(module(front="title: M\nduration: 30\nobjectives: capire\n"))
    assert_one_error(problems, 4, "'objectives' deve essere un elenco")


def test_objective_items_must_be_strings():
    front = "title: M\nduration: 30\nobjectives:\n  - capire\n  - [a, b]\n  -\n  - {a: b}\n"
    problems = check_module(module(front=front))
    assert [line for line, _ in errors_at(problems)] == [6, 7, 8]


def test_empty_objectives_are_allowed():
    doc, problems = parse_module_text(
        "01-a.md", module(front="title: M\nduration: 30\nobjectives:\n"), media=()
    )
    problems = syntax(problems)
    assert problems == ()
    assert doc.objectives == ()


# --------------------------------------------------------------------------- slugs and files


@pytest.mark.parametrize(
    "slug", ["Monitoraggio", "monitoraggio_progetti", "perché", "-a", "a-", "a--b", ""]
)
def test_bad_course_slug(slug):
    result = parse(slug=slug)
    assert_one_error(result.problems, 1, "slug del corso non valido")
    assert result.errors[0].path == "courses/monitoraggio-progetti/course.md"


@pytest.mark.parametrize(
    "filename", ["indicatori.md", "01_indicatori.md", "01-Indicatori.md", "01-.md", "01-a b.md"]
)
def test_bad_module_filename(filename):
    assert_one_error(check_module(module(), filename=filename), 1, "nome di file non valido")


def test_module_slug_media_is_reserved():
    assert_one_error(check_module(module(), filename="03-media.md"), 1, "riservato")


def test_duplicate_prefix():
    result = parse({"01-primo.md": module(), "1-secondo.md": module()})
    assert_one_error(result.problems, 1, "il prefisso 1 è già usato da 01-primo.md")
    assert result.errors[0].path.endswith("/1-secondo.md")


def test_duplicate_slug():
    result = parse({"01-primo.md": module(), "02-primo.md": module()})
    assert_one_error(result.problems, 1, "lo slug 'primo' è già usato da 01-primo.md")
    assert result.errors[0].path.endswith("/02-primo.md")


def test_course_without_modules():
    result = parse({})
    assert_one_error(result.problems, 1, "il corso non ha moduli")
    assert result.errors[0].path.endswith("/course.md")


def test_modules_are_ordered_by_prefix_not_name():
    result = parse({"10-dieci.md": module(), "9-nove.md": module(), "02-due.md": module()})
    assert [m.position for m in result.course.modules] == [2, 9, 10]


# --------------------------------------------------------------------------- quiz rules


def quiz_module(quiz: str, info: str = "") -> str:
    """Front matter lines 1-4, body line 5 is blank, the fence is on line 6."""
    return module(f"\n```quiz{info}\n{quiz}```\n")


def test_question_without_correct_option():
    text = quiz_module("? Domanda\n- [ ] a\n- [ ] b\n")
    assert_one_error(check_module(text), 7, "la domanda non ha alcuna opzione corretta")


def test_question_with_options_and_answers():
    text = quiz_module("? Domanda\n- [x] a\n- [ ] b\n\n? Altra\n- [x] a\n= a\n")
    assert_one_error(check_module(text), 11, "sia opzioni sia risposte")


def test_question_with_fewer_than_two_options():
    text = quiz_module("? Prima\n= a\n? Domanda\n- [x] unica\n")
    assert_one_error(check_module(text), 9, "una sola opzione")


def test_question_with_nothing_to_answer():
    text = quiz_module("? Prima\n= a\n\n? Domanda\n> un commento\n")
    assert_one_error(check_module(text), 10, "né opzioni")


def test_question_with_only_empty_answers():
    problems = check_module(quiz_module("? Domanda\n=\n"))
    assert errors_at(problems) == [
        (7, "la domanda non ha alcuna risposta accettata"),
        (8, "risposta accettata vuota: scrivi il testo dopo '= '"),
    ]


def test_empty_question_and_empty_option():
    problems = check_module(quiz_module("?\n- [x] a\n- [ ]\n"))
    assert [line for line, _ in errors_at(problems)] == [7, 9]


@pytest.mark.parametrize("marker", ["- [x] a", "- [ ] a", "= a", "> commento", "testo"])
def test_lines_before_the_first_question(marker):
    text = quiz_module(f"{marker}\n? Domanda\n= a\n")
    assert_one_error(check_module(text), 7, "domanda")


@pytest.mark.parametrize("line_text", ["- [v] a", "- [] a", "* [x] a", "-[x] a"])
def test_malformed_option(line_text):
    text = quiz_module(f"? Domanda\n- [x] a\n{line_text}\n- [ ] b\n")
    assert_one_error(check_module(text), 9, "opzione non valida")


def test_unrecognised_line_after_answer():
    text = quiz_module("? Domanda\n= a\nb\n")
    assert_one_error(check_module(text), 9, "dopo una risposta accettata")


@pytest.mark.parametrize(
    ("info", "fragment"),
    [
        (" pass=80", "'pass'"),
        (" pass=0%", "'pass'"),
        (" pass=101%", "'pass'"),
        (" pass", "'pass'"),
        (" attempts=0", "'attempts'"),
        (" attempts=tre", "'attempts'"),
        (" attempts=-1", "'attempts'"),
        (" attempts", "'attempts'"),
        (" shuffle=yes", "'shuffle'"),
        (" colore=blu", "attributo del quiz sconosciuto: 'colore'"),
        (" shuffle shuffle", "ripetuto"),
    ],
)
def test_bad_quiz_attributes(info, fragment):
    text = quiz_module("? Domanda\n= a\n", info=info)
    assert_one_error(check_module(text), 6, fragment)


def test_several_attribute_errors_are_all_reported():
    text = quiz_module("? Domanda\n= a\n", info=" pass=7 attempts=0 colore")
    assert [line for line, _ in errors_at(check_module(text))] == [6, 6, 6]


def test_quiz_without_questions():
    assert_one_error(check_module(quiz_module("\n")), 6, "non contiene domande")


def test_more_than_one_quiz_block():
    text = module("\n```quiz\n? Uno\n= a\n```\n\nTesto\n\n```quiz\n? Due\n= b\n```\n")
    assert_one_error(check_module(text), 13, "ammesso uno solo (il primo è alla riga 6)")


def test_unclosed_quiz_block():
    text = module("Testo\n\n```quiz\n? Domanda\n= a\n")
    assert_one_error(check_module(text), 7, "non chiuso")


def test_indented_quiz_block_is_an_error():
    text = module("Testo\n\n  ```quiz\n  ? Domanda\n  = segreto\n  ```\n")
    assert_one_error(check_module(text), 7, "senza rientro")


def test_quiz_inside_a_code_example_is_just_code():
    text = module("~~~markdown\n```quiz\n? Domanda\n- [x] a\n```\n~~~\n")
    doc, problems = parse_module_text("01-a.md", text, media=())
    problems = syntax(problems)
    assert problems == ()
    assert doc.quiz is None
    assert "```quiz" in doc.body_html


def test_quiz_fence_with_tildes_and_capitals():
    doc, problems = parse_module_text("01-a.md", module("~~~~Quiz\n? D\n= a\n~~~~\n"), media=())
    problems = syntax(problems)
    assert problems == ()
    assert doc.quiz.questions[0].answers == ("a",)


def test_quiz_in_course_md_is_an_error():
    course_md = COURSE_MD + "\n```quiz\n? Domanda\n= a\n```\n"
    result = parse(course_md=course_md)
    assert_one_error(result.problems, 14, "i quiz vanno nei moduli")


def test_problems_in_many_questions_are_all_reported():
    quiz = "? A\n- [ ] a\n- [ ] b\n\n? B\n- [x] a\n\n? C\n= x\n- [x] y\n- [ ] z\n"
    lines = [line for line, _ in errors_at(check_module(quiz_module(quiz)))]
    assert lines == [7, 11, 14]


# --------------------------------------------------------------------------- links and images


def test_missing_image_in_body():
    text = module("Testo\n\n![Grafico](media/grafico.png)\n")
    assert_one_error(check_module(text), 7, "'media/grafico.png'")


def test_missing_link_in_body():
    text = module("Testo\n\nScarica [la scheda](media/manca.pdf).\n")
    assert_one_error(check_module(text), 7, "'media/manca.pdf'")


def test_missing_media_in_raw_html_and_reference_links():
    text = module('<img src="media/a.png" alt="A">\n\n[scheda][s]\n\n[s]: media/b.pdf\n')
    assert [line for line, _ in errors_at(check_module(text))] == [5, 9]


def test_each_use_of_a_missing_file_points_at_its_line():
    text = module("![A](media/x.png)\n\nTesto\n\n![B](media/x.png)\n")
    assert [line for line, _ in errors_at(check_module(text))] == [5, 9]


def test_existing_media_in_any_spelling_is_fine():
    body = (
        "![Ciclo](media/ciclo.png) ![Ciclo](./media/ciclo.png) "
        "[doc](media/scheda.pdf#page=2) [foto](media/sub/una%20foto.jpg)\n"
    )
    media = (*MEDIA, "media/sub/una foto.jpg")
    assert check_module(module(body), media=media) == []


def test_media_outside_the_media_folder_is_missing():
    text = module("[corso](media/../course.md)\n")
    assert_one_error(check_module(text), 5, "non esiste")


def test_relative_link_to_unknown_file():
    text = module("Vedi [qui](www.example.org).\n")
    assert_one_error(check_module(text), 5, "https://")


def test_link_to_another_module_file_is_a_warning():
    result = parse({"01-a.md": module("Vedi [il modulo 2](02-b.md).\n"), "02-b.md": module()})
    assert result.ok
    assert [(p.line, p.severity) for p in result.problems] == [(5, "warning")]


def test_external_and_anchor_links_are_not_checked():
    body = "[a](https://example.org) [b](#sezione) [c](/corsi/) [d](mailto:a@b.it) ![e](http://x/y.png)"
    assert check_module(module(body + "\n")) == []


def test_missing_media_in_quiz_option_points_at_the_option():
    quiz = "? Quale grafico?\n- [x] ![Uno](media/uno.png)\n- [ ] ![Due](media/ciclo.png)\n"
    assert_one_error(check_module(quiz_module(quiz)), 8, "'media/uno.png'")


def test_missing_media_in_question_feedback_points_at_its_line():
    quiz = "? Domanda\ncon [un allegato](media/manca.pdf)\n= a\n> vedi ![x](media/nope.png)\n"
    assert [line for line, _ in errors_at(check_module(quiz_module(quiz)))] == [8, 10]


def test_image_without_alt_text_is_a_warning():
    text = module("Testo\n\n![](media/ciclo.png)\n")
    doc, problems = parse_module_text("01-a.md", text, media=MEDIA)
    problems = syntax(problems)
    assert doc is not None
    assert [(p.line, p.severity) for p in problems] == [(7, "warning")]
    assert "testo alternativo" in problems[0].message


def test_image_without_alt_text_in_raw_html_and_quiz():
    quiz = "? Domanda ![](media/ciclo.png)\n= a\n"
    text = module(f'<img src="media/ciclo.png">\n\n```quiz\n{quiz}```\n')
    _, problems = parse_module_text("01-a.md", text, media=MEDIA)
    problems = syntax(problems)
    assert [(p.line, p.severity) for p in problems] == [(5, "warning"), (8, "warning")]


def test_warnings_do_not_block_the_course():
    result = parse({"01-a.md": module("![](media/ciclo.png)\n")})
    assert result.ok
    assert result.course is not None
    assert len(result.warnings) == 1
    assert result.errors == ()


def test_links_in_code_are_not_checked():
    text = module("```\n![](media/nope.png)\n```\n\n`[x](media/nope.pdf)`\n")
    assert check_module(text) == []


def test_media_entries_without_prefix_are_accepted():
    assert check_module(module("![Ciclo](media/ciclo.png)\n"), media=["ciclo.png"]) == []


def test_paragraph_too_heavy_to_render():
    heavy = "[" * 600
    text = module(f"Testo\n\n```\n{heavy}{heavy}\n```\n\nprimo\nsecondo {heavy}\nterzo {heavy}\n")
    assert_one_error(check_module(text), 11, "parentesi quadre")
    fine = module(f"primo {heavy}\n\nsecondo {heavy}\n")
    assert check_module(fine) == []


def test_too_many_unclosed_code_fences():
    text = module("Testo\n\n```python\nx\n```\n\n" + "```js\n~~~py\n" * 11)
    assert_one_error(check_module(text), 11, "blocchi di codice")
    assert check_module(module("```js\n" * 20)) == []


def test_quiz_text_too_heavy_to_render():
    text = quiz_module(f"? Domanda\n- [x] a\n- [ ] {'[' * 1001}\n")
    assert_one_error(check_module(text), 9, "parentesi quadre")


def test_deeply_nested_yaml():
    problems = check_module(module(front="title: " + "[" * 3000 + "\n"))
    assert_one_error(problems, 2, "YAML")


# --------------------------------------------------------------------------- single module


def test_parse_module_text_returns_a_module():
    doc, problems = parse_module_text(
        "02-indicatori.md", MODULE_MD, media=MEDIA, default_pass=0.6, base_path="courses/x"
    )
    problems = syntax(problems)
    assert problems == ()
    assert doc.slug == "indicatori"
    assert doc.position == 2
    assert doc.quiz.pass_mark == 0.6
    assert doc.headings_count == 0
    assert doc.toc_html == ""


def test_parse_module_text_media_prefix_for_preview():
    doc, _ = parse_module_text("01-a.md", MODULE_MD, media=MEDIA, media_prefix="/anteprima/m/")
    assert 'src="/anteprima/m/ciclo.png"' in doc.body_html
    assert 'href="/anteprima/m/scheda.pdf"' in doc.body_html


def test_parse_module_text_paths():
    _, problems = parse_module_text("01-a.md", "x", media=(), base_path="courses/c")
    problems = syntax(problems)
    assert str(problems[0]).startswith("courses/c/01-a.md:1: ")


def test_module_toc_with_three_headings():
    body = "# T\n\n## Perché monitorare\n\n### Indicatori\n\n## Conclusioni\n"
    doc, _ = parse_module_text("01-a.md", module(body), media=())
    assert doc.headings_count == 3
    assert 'href="#perche-monitorare"' in doc.toc_html


# --------------------------------------------------------------------------- course.md alone


def test_parse_course_meta():
    meta, problems = parse_course_meta(COURSE_MD, media=MEDIA)
    problems = syntax(problems)
    assert problems == ()
    assert meta.title.startswith("Il monitoraggio")
    assert meta.pass_mark == 0.8


def test_parse_course_meta_without_media_does_not_check_links():
    meta, problems = parse_course_meta(COURSE_MD, base_path="courses/c")
    problems = syntax(problems)
    assert problems == ()
    meta, problems = parse_course_meta(COURSE_MD, media=(), base_path="courses/c")
    problems = syntax(problems)
    assert meta is None
    assert str(problems[0]).startswith("courses/c/course.md:12: ")


# --------------------------------------------------------------------------- file system


def write_course(root: Path, name: str = "monitoraggio-progetti") -> Path:
    folder = root / name
    (folder / "media" / "foto").mkdir(parents=True)
    course_md = matching_hours(COURSE_MD, {"01-indicatori.md": MODULE_MD})
    (folder / "course.md").write_text(course_md, encoding="utf-8")
    (folder / "01-indicatori.md").write_text(MODULE_MD, encoding="utf-8")
    (folder / "media" / "ciclo.png").write_bytes(b"\x89PNG")
    (folder / "media" / "scheda.pdf").write_bytes(b"%PDF")
    (folder / "media" / "foto" / "a.jpg").write_bytes(b"jpg")
    (folder / "media" / ".DS_Store").write_bytes(b"")
    return folder


def test_parse_course_dir(tmp_path):
    folder = write_course(tmp_path)
    result = parse_course_dir(folder)
    assert result.ok, result.problems
    assert result.course.slug == "monitoraggio-progetti"
    assert result.course.media == ("media/ciclo.png", "media/foto/a.jpg", "media/scheda.pdf")


def test_parse_course_dir_problem_paths(tmp_path):
    folder = write_course(tmp_path)
    (folder / "02-indicatori-di-risultato.md").write_text(
        MODULE_MD.replace("- [x] Il Ministero", "- [ ] Il Ministero"), encoding="utf-8"
    )
    result = parse_course_dir(folder)
    assert [str(p) for p in syntax(result.problems)] == [
        f"{folder}/02-indicatori-di-risultato.md:13: la domanda non ha alcuna opzione corretta"
    ]


def test_parse_course_dir_reports_stray_files_and_bad_encoding(tmp_path):
    folder = write_course(tmp_path)
    (folder / "note.txt").write_text("x", encoding="utf-8")
    (folder / "immagini").mkdir()
    (folder / "02-rotto.md").write_bytes(b"---\ntitle: x\n\xff\xfe\n---\n")
    result = parse_course_dir(folder)
    assert not result.ok
    assert result.course is None
    by_name = {(Path(p.path).name, p.line, p.severity) for p in syntax(result.problems)}
    assert by_name == {
        ("02-rotto.md", 3, "error"),
        ("immagini", 1, "warning"),
        ("note.txt", 1, "warning"),
    }


def test_parse_course_dir_without_course_md(tmp_path):
    (tmp_path / "vuoto").mkdir()
    result = parse_course_dir(tmp_path / "vuoto")
    assert_one_error(result.problems, 1, "course.md")


def test_parse_courses_dir(tmp_path):
    write_course(tmp_path, "b-corso")
    write_course(tmp_path, "a-corso")
    (tmp_path / "senza-corso").mkdir()
    (tmp_path / "README.md").write_text("Corsi", encoding="utf-8")
    results = parse_courses_dir(tmp_path)
    assert [r.course.slug for r in results[:2]] == ["a-corso", "b-corso"]
    assert results[2].course is None
    assert_one_error(results[2].problems, 1, "non contiene course.md")
    assert results[2].problems[0].path == str(tmp_path / "senza-corso")


def test_parse_courses_dir_missing(tmp_path):
    results = parse_courses_dir(tmp_path / "nessuna")
    assert len(results) == 1
    assert not results[0].ok
