"""Score an ingested database against a gold file like shared/acceptance/seeds_gold.json.

Every comparison folds case, accents, Unicode quotes/dashes and whitespace, as the gold file asks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.store import StoreLike, query
from pipeline.textnorm import fold

EDGE_CHARS = 150


@dataclass(frozen=True)
class Check:
    file: str
    kind: str  # loaded, title, language, body_starts/ends, not_in_body, published, person(_not), corpus kinds
    expected: str
    passed: bool
    got: str = ""

    @property
    def name(self) -> str:
        return f"{self.file}:{self.kind}:{self.expected[:40]}"


def load_gold(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def score(db_path: StoreLike, gold: dict) -> list[Check]:
    """One Check per gold assertion; an article missing from the database fails all of its checks."""
    _, rows = query(db_path, "SELECT source_uri, article_id, title, language, body, published_at FROM articles")
    by_file = {Path(uri).name: row for uri, *row in rows}
    _, mention_rows = query(db_path, "SELECT DISTINCT m.article_id, e.entity_id, e.name, e.aliases "
                                     "FROM entity_mentions m JOIN entities e USING (entity_id) "
                                     "WHERE e.label = 'PERSON'")
    persons: dict[str, set[str]] = {}
    entity_of: dict[str, str] = {}
    articles_of: dict[str, set[str]] = {}
    for article_id, entity_id, name, aliases in mention_rows:
        names = {fold(name), *map(fold, aliases or [])}
        persons.setdefault(article_id, set()).update(names)
        articles_of.setdefault(entity_id, set()).add(article_id)
        for folded in names:
            entity_of[folded] = entity_id
    checks = []
    for item in gold["articles"]:
        checks += _article_checks(item, by_file.get(item["file"]), persons)
    return checks + _corpus_checks(gold.get("corpus", {}), len(rows), entity_of, articles_of)


def _corpus_checks(corpus: dict, n_articles: int, entity_of: dict[str, str],
                   articles_of: dict[str, set[str]]) -> list[Check]:
    """Corpus-wide checks: article count, one entity per spelling group, articles per person.

    A spelling that occurs in no cleaned body (only in a stripped caption, say) cannot be tagged;
    the group passes when every spelling that was seen landed on the same entity.
    """
    checks = []
    if "unique_articles" in corpus:
        checks.append(Check("corpus", "unique_articles", str(corpus["unique_articles"]),
                            n_articles == corpus["unique_articles"], str(n_articles)))
    for group in corpus.get("variants_that_are_one_person", []):
        found = {entity_of[fold(name)] for name in group if fold(name) in entity_of}
        unseen = [name for name in group if fold(name) not in entity_of]
        checks.append(Check("corpus", "one_person", " / ".join(group), len(found) == 1,
                            f"{len(found)} entities; not in any body: {', '.join(unseen) or 'none'}"))
    for name, expected in corpus.get("person_article_counts", {}).items():
        got = len(articles_of.get(entity_of.get(fold(name), ""), ()))
        checks.append(Check("corpus", "person_articles", f"{name}={expected}", got == expected, str(got)))
    return checks


def _article_checks(item: dict, row: tuple | None, persons: dict[str, set[str]]) -> list[Check]:
    file = item["file"]
    article_id, title, language, body, published = row or (None, None, None, "", None)
    body_folded = fold(body)
    tagged = persons.get(article_id, set())
    published_text = published.isoformat() if published else ""
    checks = [
        Check(file, "loaded", "article", row is not None),
        Check(file, "title", item["title"], fold(title) == fold(item["title"]), title or ""),
        Check(file, "language", item["language"], language == item["language"], language or ""),
        Check(file, "body_starts", item["body_starts"], fold(item["body_starts"]) in body_folded[:EDGE_CHARS],
              body_folded[:EDGE_CHARS]),
        Check(file, "body_ends", item["body_ends"], fold(item["body_ends"]) in body_folded[-EDGE_CHARS:],
              body_folded[-EDGE_CHARS:]),
        Check(file, "published", ",".join(item["published"]) or "NULL",
              published_text in item["published"] if item["published"] else published is None,
              published_text or "NULL"),
    ]
    checks += [Check(file, "not_in_body", phrase, bool(body) and fold(phrase) not in body_folded)
               for phrase in item["not_in_body"]]
    checks += [Check(file, "person", name, fold(name) in tagged) for name in item["persons"]]
    checks += [Check(file, "person_not", name, fold(name) not in tagged) for name in item.get("persons_not", [])]
    return checks
