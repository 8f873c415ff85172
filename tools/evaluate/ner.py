"""`python -m tools.evaluate ner`: people found in real wire stories, by the whole pipeline and by the bare model.

The dev set's `ner/` holds the CoNLL-2003 English development split as plain-text articles (first line the
headline) with, per file, the people named as clusters of folded name forms. The folder is ingested into a
throw-away store like any replay; then, per document:

- the pipeline's predictions are its PERSON entities mentioned in the article, each with the names it goes by (its
  display name and aliases), and the article's byline when it is a name of two words or more (the reporter, whom
  CoNLL counts among the story's people and the pipeline stores as the author); an entity is right when one of its
  names is a form of a gold cluster, a cluster is found when one entity's name is among its forms. A story the
  pipeline did not load predicts nothing;
- the bare model's predictions are the distinct PERSON spans `en_core_web_sm` finds in the same file's text,
  each right when it is a form of a gold cluster.

Precision, recall and F1 are computed per document and averaged over the documents with a gold person or a
prediction (a document with neither says nothing about people). `loaded_share` is the share of stories loaded.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import spacy

from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import query
from pipeline.textnorm import fold
from tools.evaluate.entities import persons_by_file


@dataclass(frozen=True)
class DocScore:
    file: str
    precision: float
    recall: float
    f1: float
    predicted: tuple[str, ...]
    missed: tuple[str, ...]
    wrong: tuple[str, ...]


@dataclass(frozen=True)
class NerReport:
    documents: int
    loaded: int
    pipeline: tuple[DocScore, ...]
    bare: tuple[DocScore, ...]
    rejected: tuple[tuple[str, str], ...]
    """(file, reason) of the stories the pipeline did not load."""

    def metrics(self) -> dict[str, float]:
        result = {"ner.loaded_share": self.loaded / self.documents if self.documents else 0.0}
        for name, scores in (("ner.pipeline", self.pipeline), ("ner.bare_model", self.bare)):
            for measure in ("precision", "recall", "f1"):
                values = [getattr(score, measure) for score in scores]
                result[f"{name}.person_{measure}"] = sum(values) / len(values) if values else 0.0
        return result


def load_clusters(data_dir: Path) -> dict[str, list[set[str]]]:
    """File name → its gold person clusters (sets of folded forms)."""
    clusters: dict[str, list[set[str]]] = {}
    for line in (data_dir / "ner" / "persons.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            clusters[Path(row["file"]).name] = [{fold(form) for form in cluster} for cluster in row["persons"]]
    return clusters


def score_document(file: str, predictions: list[set[str]], clusters: list[set[str]]) -> DocScore | None:
    """Score one document's predictions (each a set of the folded names one predicted person goes by)."""
    if not predictions and not clusters:
        return None
    forms = set().union(*clusters) if clusters else set()
    right = [names for names in predictions if names & forms]
    found = [cluster for cluster in clusters if any(names & cluster for names in predictions)]
    precision = len(right) / len(predictions) if predictions else 0.0
    recall = len(found) / len(clusters) if clusters else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return DocScore(file, precision, recall, f1,
                    predicted=tuple(sorted(min(names) for names in predictions)),
                    missed=tuple(sorted(min(cluster) for cluster in clusters if cluster not in found)),
                    wrong=tuple(sorted(min(names) for names in predictions if not names & forms)))


def pipeline_predictions(texts: Path) -> tuple[dict[str, list[set[str]]], dict[str, str], int]:
    """Ingest the stories: file → its PERSON entities' names; file → reason, of those not loaded; loaded count."""
    with tempfile.TemporaryDirectory(prefix="news-eval-ner-") as tmp:
        settings = load_settings().under(Path(tmp))
        run_pipeline([str(texts)], settings, "eval_ner")
        persons = persons_by_file(settings.store)
        _, ledger = query(settings.store, "SELECT source_uri, state, coalesce(reason, '') FROM ingest_log")
        _, bylines = query(settings.store, "SELECT source_uri, byline FROM articles WHERE byline LIKE '% %'")
    predictions = {file: [{fold(name) for name in names} for names in entities] for file, entities in persons.items()}
    for uri, byline in bylines:
        found = predictions.setdefault(Path(uri).name, [])
        if not any(fold(byline) in names for names in found):
            found.append({fold(byline)})
    not_loaded = {Path(uri).name: f"{state}: {reason}" for uri, state, reason in ledger if state != "loaded"}
    loaded = sum(1 for _, state, _ in ledger if state == "loaded")
    return predictions, not_loaded, loaded


def bare_predictions(texts: Path) -> dict[str, list[set[str]]]:
    """File → the distinct PERSON spans the bare model, as shipped (every component on), finds in the file's whole
    text."""
    nlp = spacy.load(load_settings().spacy_model)
    files = sorted(texts.glob("*.txt"))
    predictions: dict[str, list[set[str]]] = {}
    for path, doc in zip(files, nlp.pipe(path.read_text() for path in files), strict=True):
        names = {fold(ent.text) for ent in doc.ents if ent.label_ == "PERSON"}
        predictions[path.name] = [{name} for name in sorted(names)]
    return predictions


def evaluate_ner(data_dir: Path) -> NerReport:
    clusters = load_clusters(data_dir)
    texts = data_dir / "ner" / "text"
    pipeline, not_loaded, loaded = pipeline_predictions(texts)
    bare = bare_predictions(texts)
    files = sorted(clusters)

    def scores(predicted: dict[str, list[set[str]]]) -> tuple[DocScore, ...]:
        scored = (score_document(file, predicted.get(file, []), clusters[file]) for file in files)
        return tuple(score for score in scored if score is not None)

    return NerReport(len(files), loaded, scores(pipeline), scores(bare), tuple(sorted(not_loaded.items())))


def format_report(report: NerReport, worst: int = 10) -> str:
    metrics = report.metrics()
    lines = [f"CoNLL-2003 dev split: {report.documents} stories, {report.loaded} loaded "
             f"({metrics['ner.loaded_share']:.1%})",
             f"{'person, per document':<22} {'precision':>9} {'recall':>7} {'F1':>6}"]
    for label, name in (("pipeline", "ner.pipeline"), ("bare en_core_web_sm", "ner.bare_model")):
        lines.append(f"{label:<22} {metrics[f'{name}.person_precision']:9.3f} "
                     f"{metrics[f'{name}.person_recall']:7.3f} {metrics[f'{name}.person_f1']:6.3f}")
    if report.rejected:
        lines.append(f"\nnot loaded ({len(report.rejected)}):")
        lines += [f"  {file}: {reason}" for file, reason in report.rejected[:worst]]
    lines.append(f"\nlowest pipeline F1 ({worst}):")
    for score in sorted(report.pipeline, key=lambda s: (s.f1, s.file))[:worst]:
        lines.append(f"  {score.file} F1 {score.f1:.2f}  missed {', '.join(score.missed[:4]) or '-'}  "
                     f"wrong {', '.join(score.wrong[:4]) or '-'}")
    return "\n".join(lines)
