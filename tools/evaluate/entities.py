"""`python -m tools.evaluate entities`: are the seeds' people tagged and linked as the acceptance gold says, and at
what speed.

The repo's seeds are ingested into a throw-away DuckDB (`seeds_database`, shared with the extraction evaluation) and
the gold's person assertions are scored with `tools.gold.score`, so this report and the acceptance test agree:

- recall of an article: its gold ``persons`` tagged as a PERSON entity in it, over its gold ``persons``;
- precision of an article: gold persons tagged, over gold persons tagged plus ``persons_not`` tagged. Only the
  PERSON entities the gold judges count; any other PERSON entity of the article is listed as unjudged;
- each ``variants_that_are_one_person`` group must be one entity, each ``person_article_counts`` exact.

Speed compares `tag_entities` with bare ``nlp.pipe`` of the same model over the same bodies (the seed bodies
repeated to about `SPEED_WORDS` words), alternated round by round, best of `SPEED_ROUNDS` wall-clock times: the
difference is what the title pass and the canonicalizer cost.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language

from pipeline.enrich.entities import load_model, tag_entities
from pipeline.settings import PROJECT_ROOT, load_settings
from pipeline.store import StoreLike, query
from pipeline.textnorm import fold
from tools.evaluate.extraction import seeds_database
from tools.gold import Check, load_gold, score

DEFAULT_GOLD = PROJECT_ROOT.parent / "shared" / "acceptance" / "seeds_gold.json"
SPEED_WORDS = 50_000
SPEED_ROUNDS = 3


@dataclass(frozen=True)
class ArticleScore:
    """The gold's person assertions for one article, split by outcome."""

    file: str
    found: tuple[str, ...]
    missed: tuple[str, ...]
    wrongly_tagged: tuple[str, ...]
    unjudged: tuple[str, ...]

    @property
    def recall(self) -> float | None:
        gold = len(self.found) + len(self.missed)
        return len(self.found) / gold if gold else None

    @property
    def precision(self) -> float | None:
        judged = len(self.found) + len(self.wrongly_tagged)
        return len(self.found) / judged if judged else None


@dataclass(frozen=True)
class Speed:
    """Words per second of each way of running NER over the same ``words`` words of body text."""

    words: int
    tag_entities: float
    bare_pipe: float


@dataclass(frozen=True)
class EntityReport:
    gold: Path
    articles: tuple[ArticleScore, ...]
    groups: tuple[Check, ...]
    article_counts: tuple[Check, ...]
    speed: Speed | None

    @property
    def recall(self) -> float | None:
        """Over all articles' gold persons at once (micro-average)."""
        return _total_score(self.articles, "missed")

    @property
    def precision(self) -> float | None:
        return _total_score(self.articles, "wrongly_tagged")


def _total_score(articles: tuple[ArticleScore, ...], misses: str) -> float | None:
    found = sum(len(a.found) for a in articles)
    judged = found + sum(len(getattr(a, misses)) for a in articles)
    return found / judged if judged else None


def evaluate_entities(gold: Path = DEFAULT_GOLD, speed_words: int = SPEED_WORDS) -> EntityReport:
    """Score the seeds against ``gold``; ``speed_words`` 0 skips the speed measurement."""
    gold_data = load_gold(gold)
    with seeds_database() as db_path:
        checks = score(db_path, gold_data)
        persons = persons_by_file(db_path)
        _, docs = query(db_path, "SELECT title, body FROM articles ORDER BY source_uri")
    by_kind: dict[str, list[Check]] = defaultdict(list)
    for check in checks:
        by_kind[check.kind].append(check)
    articles = tuple(_article_score(item, by_kind, persons.get(item["file"], [])) for item in gold_data["articles"])
    speed = measure_speed(load_model(load_settings().spacy_model), docs, speed_words) if speed_words else None
    return EntityReport(Path(gold), articles, tuple(by_kind["one_person"]), tuple(by_kind["person_articles"]), speed)


def persons_by_file(db_path: StoreLike) -> dict[str, list[tuple[str, ...]]]:
    """Each seed file's PERSON entities, as the names (display name and aliases) each goes by."""
    _, rows = query(db_path, "SELECT DISTINCT a.source_uri, e.entity_id, e.name, e.aliases FROM entity_mentions m "
                             "JOIN entities e USING (entity_id) JOIN articles a USING (article_id) "
                             "WHERE e.label = 'PERSON' ORDER BY e.name")
    persons: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for uri, _, name, aliases in rows:
        persons[Path(uri).name].append((name, *(aliases or ())))
    return persons


def _article_score(item: dict, by_kind: dict[str, list[Check]], persons: list[tuple[str, ...]]) -> ArticleScore:
    file = item["file"]
    person = [c for c in by_kind["person"] if c.file == file]
    person_not = [c for c in by_kind["person_not"] if c.file == file]
    judged = {fold(name) for name in (*item["persons"], *item.get("persons_not", []))}
    return ArticleScore(
        file=file,
        found=tuple(c.expected for c in person if c.passed),
        missed=tuple(c.expected for c in person if not c.passed),
        wrongly_tagged=tuple(c.expected for c in person_not if not c.passed),
        unjudged=tuple(names[0] for names in persons if not judged & {fold(n) for n in names}),
    )


def measure_speed(nlp: Language, docs: list[tuple[str | None, str]], target_words: int,
                  rounds: int = SPEED_ROUNDS) -> Speed:
    """`tag_entities` and bare ``nlp.pipe`` over ``docs`` repeated to ``target_words`` body words, best of ``rounds``.

    Both run in every round, one after the other, so a slower or busier moment of the machine hits both alike.
    """
    texts = _repeat(docs, target_words)
    bodies = [body for _, body in texts]
    words = sum(len(body.split()) for body in bodies)
    tagged, bare = [], []
    for _ in range(rounds):
        tagged.append(_seconds(lambda: tag_entities(nlp, texts)))
        bare.append(_seconds(lambda: deque(nlp.pipe(bodies, batch_size=64), maxlen=0)))
    return Speed(words, words / min(tagged), words / min(bare))


def _repeat(docs: list[tuple[str | None, str]], target_words: int) -> list[tuple[str | None, str]]:
    texts, words = [], 0
    for doc in itertools.cycle(docs):
        if words >= target_words:
            break
        texts.append(doc)
        words += len(doc[1].split())
    return texts


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def format_report(report: EntityReport) -> str:
    lines = [
        f"person tagging of the seeds against {report.gold}",
        "  recall    = gold persons tagged as PERSON in the article / gold persons",
        "  precision = gold persons tagged / (gold persons tagged + persons_not tagged); other PERSON entities of",
        "              the article are not judged by the gold and are listed as unjudged",
        f"{'file':28}{'recall':>8}{'precision':>11}  notes",
    ]
    for article in report.articles:
        row = f"{article.file:28}{_cell(article.recall):>8}{_cell(article.precision):>11}  {_notes(article)}"
        lines.append(row.rstrip())
    lines.append(f"{'all articles':28}{_cell(report.recall):>8}{_cell(report.precision):>11}")
    lines += _checks("spelling groups that are one entity", report.groups)
    lines += _checks("person article counts exact", report.article_counts)
    if report.speed:
        speed = report.speed
        lines.append(f"NER speed over {speed.words:,} words (best of {SPEED_ROUNDS}, wall clock): "
                     f"tag_entities {speed.tag_entities:,.0f} words/s, bare nlp.pipe {speed.bare_pipe:,.0f} words/s "
                     f"(tag_entities at {speed.tag_entities / speed.bare_pipe:.2f}x)")
    return "\n".join(lines)


def _notes(article: ArticleScore) -> str:
    notes = [("missed", article.missed), ("wrongly tagged", article.wrongly_tagged), ("unjudged", article.unjudged)]
    return "; ".join(f"{label}: {', '.join(names)}" for label, names in notes if names)


def _checks(title: str, checks: tuple[Check, ...]) -> list[str]:
    lines = [f"{title}: {sum(c.passed for c in checks)}/{len(checks)}"]
    lines += [f"  {'ok  ' if c.passed else 'FAIL'} {c.expected}  ({c.got})" for c in checks]
    return lines


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
