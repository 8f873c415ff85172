"""Process: extraction, language and NER for one raw batch; opens no store, so batches run in parallel.

Every input of the batch comes out either as an article row or as an outcome row (rejected with a reason, or
failed with the error), never silently dropped, and what goes wrong with one input stays with it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import progress, run_folder
from pipeline.budget import OverBudget, time_budget
from pipeline.dedup import content_hash
from pipeline.enrich.entities import load_model, tag_entities
from pipeline.enrich.language import detect_language, load_profiles
from pipeline.extract.dispatch import Rejected, extract
from pipeline.records import LedgerEntry, LedgerState, RawDoc, article_id_for
from pipeline.run_folder import ProcessedBatch
from pipeline.settings import Settings
from pipeline.urls import canonical_url, url_host

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)
PROGRESS_EVERY = 50
"""Inputs extracted between two progress lines in the log (what a `process` task log shows)."""
NER_CHUNK = 64
"""Articles tagged per call: a progress line after each, and a failure looked for article by article only there."""


def process_batch(batch_path: Path, settings: Settings, today: dt.date | None = None) -> Path:
    """Extract, detect language and tag entities for one raw batch; returns the output folder.

    Every input of the batch comes out either as an article row or as an outcome row (rejected with a reason,
    or failed with the error), never silently dropped, and what goes wrong with one input stays with it: each
    is extracted under its own time budget, and an error tagging one article's entities costs only that
    article its entities (recorded in its warnings).
    """
    out = ProcessedBatch.of(Path(batch_path))
    articles, outcomes, dates = [], [], []
    load_profiles()
    started = time.monotonic()
    name = Path(batch_path).stem
    for number, row in enumerate(run_folder.rows(Path(batch_path)), start=1):
        progress.advance("extracting")
        if number % PROGRESS_EVERY == 0:
            log.info("%s: extracted %d inputs (%.1f/s)", name, number, number / (time.monotonic() - started))
        raw = RawDoc(**row)
        if raw.transient:
            outcomes.append(_outcome(raw, LedgerState.FAILED, raw.problem or "transient error"))
            continue
        state, detail = LedgerState.LOADED, ""
        try:
            with time_budget(settings.input_time_budget):
                article, candidates = _article_row(raw, settings, today)
        except (Rejected, OverBudget) as reason:
            state, detail = LedgerState.REJECTED, str(reason)
        except (OSError, MemoryError) as error:
            state, detail = LedgerState.FAILED, _one_line(error)
        except Exception as error:  # noqa: BLE001 - the same bytes would fail again: reject them, keep them
            state, detail = LedgerState.REJECTED, f"extraction error: {_one_line(error)}"
        if state is LedgerState.LOADED:
            articles.append(article)
            dates.extend(candidates)
        else:
            outcomes.append(_outcome(raw, state, detail))
    extracted = time.monotonic()
    mentions = _mention_rows(articles, settings, name)
    log.info("%s: %d inputs: %d articles, %d rejected or failed; extraction %.1f s, NER %.1f s", name,
             len(articles) + len(outcomes), len(articles), len(outcomes), extracted - started,
             time.monotonic() - extracted)
    run_folder.write(articles, run_folder.ARTICLE_SCHEMA, out.articles)
    run_folder.write(mentions, run_folder.MENTION_SCHEMA, out.mentions)
    run_folder.write(dates, run_folder.DATE_SCHEMA, out.dates)
    run_folder.write(outcomes, run_folder.OUTCOME_SCHEMA, out.outcomes)
    return out.folder


def _article_row(raw: RawDoc, settings: Settings, today: dt.date | None) -> tuple[dict, list[dict]]:
    extraction = extract(raw, settings.min_body_chars, today)
    if len(extraction.body) > settings.max_body_chars:
        raise Rejected(f"body too long: {len(extraction.body)} chars of text after cleaning "
                       f"(> {settings.max_body_chars}), not one article")
    language = detect_language(extraction.body, settings.language_min_probability)
    url = raw.url or extraction.url
    canonical = canonical_url(url)
    host = url_host(canonical)
    article_id = article_id_for(raw.doc_key)
    dates = [{"article_id": article_id, "value": c.value, "kind": c.kind, "rule": c.rule}
             for c in extraction.date_candidates]
    article = {
        "article_id": article_id, "doc_key": raw.doc_key, "url": url, "canonical_url": canonical, "host": host,
        "source_uri": raw.source_uri, "site": extraction.site or host, "title": extraction.title,
        "byline": extraction.byline, "published_at": extraction.published_at,
        "published_rule": extraction.published_rule, "updated_at": extraction.updated_at,
        "language": language.language, "language_prob": language.probability,
        "language_candidates": language.candidates, "body": extraction.body, "body_rule": extraction.body_rule,
        "body_chars": len(extraction.body), "content_hash": content_hash(extraction.body),
        "warnings": list(extraction.warnings), "entity_status": entity_status(language.language, settings),
    }
    return article, dates


def _tagged_chunk(nlp: Language, articles: list[dict]) -> list[tuple]:
    try:
        return list(tag_entities(nlp, [(a["title"], a["body"]) for a in articles], batch_size=NER_CHUNK))
    except Exception:  # noqa: BLE001 - find the article at fault below
        tagged: list[tuple] = []
        for article in articles:
            try:
                tagged.append(tag_entities(nlp, [(article["title"], article["body"])])[0])
            except Exception as error:  # noqa: BLE001 - the article loads without entities, and says so
                article["warnings"].append(f"no entities: tagging failed: {_one_line(error)}")
                tagged.append(())
        return tagged


def _one_line(error: BaseException) -> str:
    return " ".join("".join(traceback.format_exception_only(error)).split())[:500]


def _outcome(raw: RawDoc, state: LedgerState, reason: str) -> dict:
    return {**LedgerEntry(raw.doc_key, raw.source_uri, state, reason).row(), "raw": raw.content}


def entity_status(language: str | None, settings: Settings) -> str:
    """``ner`` when a model tags the language's entities; else why not (the load then links known names only)."""
    if settings.ner_model(language):
        return "ner"
    return f"no NER model for {language}" if language else "no NER: language unknown"


def _mention_rows(articles: list[dict], settings: Settings, name: str = "") -> list[dict]:
    """NER over the cleaned bodies of each language with a model, one model at a time."""
    by_model: dict[str, list[dict]] = {}
    for article in articles:
        if model := settings.ner_model(article["language"]):
            by_model.setdefault(model, []).append(article)
    return [row for model, tagged in sorted(by_model.items()) for row in _model_mentions(tagged, model, name)]


def _model_mentions(articles: list[dict], model: str, name: str = "") -> list[dict]:
    """NER over the cleaned bodies (title as extra evidence), `NER_CHUNK` articles per nlp.pipe call; should a
    chunk fail, article by article, so an error costs one article its entities and is written into its warnings.

    Each chunk is tagged in a spaCy memory zone, which forgets the strings its texts added to the vocabulary:
    otherwise every new word stays for the process's life (98,000 strings, 24 MB, after the 474 dev documents),
    and a worker grows with the corpus."""
    nlp = load_model(model)
    started = time.monotonic()
    tagged: list[tuple] = []
    for first in range(0, len(articles), NER_CHUNK):
        chunk = articles[first : first + NER_CHUNK]
        with nlp.memory_zone():
            tagged += _tagged_chunk(nlp, chunk)
        progress.advance("tagging", len(chunk))
        if len(articles) > NER_CHUNK:
            log.info("%s: tagged %d of %d articles (%.1f/s)", name, len(tagged), len(articles),
                     len(tagged) / (time.monotonic() - started))
    return [
        {"article_id": article["article_id"], "surface": m.surface, "label": m.label,
         "start_char": m.start_char, "end_char": m.end_char, "canonical": m.canonical, "linked_by": "ner"}
        for article, mentions in zip(articles, tagged, strict=True)
        for m in mentions
    ]
