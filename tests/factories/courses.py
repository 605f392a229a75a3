"""Small courses written in the real format and imported with the real importer.

The module durations (90 + 150 minutes) add up to the course's 4 hours, as the validator
requires.
"""

from __future__ import annotations

from pathlib import Path

COURSE_MD = """---
title: Corso di prova sull'accoglienza
summary: Un corso breve per i test.
cycle: 2025-2026
hours: 4
area: Servizi per l'integrazione
pass: 70%
status: {status}
reviewed: 2026-11-20
---

Per chi lavora allo sportello.
"""

READING_MD = """---
title: Lettura introduttiva
duration: 90
---

# Lettura introduttiva

Un modulo senza questionario: basta aprirlo.
"""

QUIZ_MD = """---
title: Il modulo con il questionario
duration: 150
objectives:
  - riconoscere i servizi
---

# Il modulo con il questionario

## Primo paragrafo

Testo.

```quiz pass=100% attempts={attempts}
? Chi coordina la rete LGNet?
- [ ] ANCI
- [x] Il Ministero dell'Interno
- [ ] Cittalia
> Il Ministero dell'Interno coordina la rete.

? Quali servizi offre lo sportello? (più risposte)
- [x] Pronta assistenza
- [x] Supporto abitativo
- [ ] Rilascio della cittadinanza
> Pronta assistenza e supporto abitativo.

? In che anno inizia il ciclo?
= 2025
= duemilaventicinque
> Il ciclo inizia nel 2025.
```
"""

CORRECT = {"q1": "2", "q2": ["1", "2"], "q3": "Duemilaventicinque"}
WRONG = {"q1": "1", "q2": ["1"], "q3": "2030"}


def write_course(
    root: Path, slug: str = "corso-prova", *, attempts: int = 2, status: str = "published"
) -> Path:
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.md").write_text(COURSE_MD.format(status=status), encoding="utf-8")
    (folder / "01-lettura.md").write_text(READING_MD, encoding="utf-8")
    (folder / "02-questionario.md").write_text(QUIZ_MD.format(attempts=attempts), encoding="utf-8")
    return folder


def import_courses(app, root: Path) -> None:  # noqa: ANN001
    from lgnetforma.services.catalogue.courses import import_directory

    with app.app_context():
        outcome = import_directory(root)
        assert outcome.ok, [str(p) for r in outcome.results for p in r.problems]
