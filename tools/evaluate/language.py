"""`python -m tools.evaluate language`: does the language column abstain instead of guessing, and do model-less
languages stay out of NER?

Two parts, both on the dev set read in place:

- ``langid_sentences.jsonl``: 60 sentences in each of 75 languages. A language is *known* when langdetect or
  fastText's lid.176 can name it; the others (Luganda, Maori, Shona, Sesotho, Tswana, Tsonga, Xhosa, Zulu) can only
  be abstained on or mislabelled. Measured: the precision of the labels given on known languages (``no`` is right
  for Bokmål and Nynorsk, the ISO 639 macrolanguage holding both), the share of known-language sentences labelled,
  and the share of unknown-language sentences *not* given a wrong label; langdetect alone, as the pipeline used it
  before (probability 0.8 or more), side by side.
- ``pages/text/``: the 258 dev pages (mostly German) ingested into a throw-away store: PERSON mentions the model
  found in articles whose language has no model must be 0, and the pages' languages and entity statuses are shown.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from pipeline.enrich.language import detect_language, langdetect_languages, load_profiles
from pipeline.settings import load_settings
from pipeline.stages.run import run_pipeline
from pipeline.store import query

FASTTEXT_LANGUAGES = frozenset(
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs cv cy da "
    "de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif hr hsb ht hu hy ia id ie "
    "ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr "
    "mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah "
    "sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu "
    "xal xmf yi yo yue zh".split()
)
"""The 176 labels of fastText's lid.176 model (fasttext.cc/docs/en/language-identification.html); the model file
the pipeline reads does not list them."""
MACROLANGUAGES = {"nb": "no", "nn": "no"}
"""A label of the macrolanguage is right for its members: detectors say "Norwegian", not which written form."""
LANGDETECT_ALONE_PROBABILITY = 0.8


def evaluate_language(data_dir: Path, pages: bool = True) -> dict[str, float]:
    rows = [json.loads(line) for line in (data_dir / "langid_sentences.jsonl").read_text().splitlines()
            if line.strip()]
    load_profiles()
    metrics: dict[str, float] = {}
    for name, detect in (("language", lambda text: detect_language(text).language),
                         ("language.langdetect_alone", _langdetect_alone)):
        metrics |= _sentence_scores(name, rows, detect)
    if pages:
        metrics |= _page_figures(data_dir / "pages" / "text")
    return metrics


def _langdetect_alone(text: str) -> str | None:
    from pipeline.enrich.language import _langdetect

    found = _langdetect(text[:2000]) if len(text.strip()) >= 40 else []
    return found[0][0] if found and found[0][1] >= LANGDETECT_ALONE_PROBABILITY else None


def _sentence_scores(name: str, rows: list[dict], detect) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for row in rows:
        gold = row["lang_iso639_1"]
        known = gold in langdetect_languages() or gold in FASTTEXT_LANGUAGES
        label = detect(row["text"])
        group = "known" if known else "unknown"
        counts[group] += 1
        if label is None:
            continue
        right = label in (gold, MACROLANGUAGES.get(gold))
        counts[f"{group}_labelled"] += 1
        counts[f"{group}_right"] += right
    labelled = counts["known_labelled"]
    return {
        f"{name}.known_precision": counts["known_right"] / labelled if labelled else 0.0,
        f"{name}.known_coverage": counts["known_right"] / counts["known"] if counts["known"] else 0.0,
        f"{name}.unknown_not_wrong": 1 - (counts["unknown_labelled"] - counts["unknown_right"]) / counts["unknown"]
        if counts["unknown"] else 1.0,
    }


def _page_figures(texts: Path) -> dict[str, float]:
    """Ingest the dev pages; count PERSON mentions the model found where the article's language has no model."""
    with tempfile.TemporaryDirectory(prefix="news-eval-language-") as tmp:
        settings = load_settings().under(Path(tmp))
        run_pipeline([str(texts)], settings, "eval_language")
        languages = [language for language, _ in settings.ner_models]
        _, rows = query(settings.store,
                        "SELECT count(*) FILTER (m.linked_by = 'ner' AND m.label = 'PERSON' "
                        "AND (a.language IS NULL OR NOT list_contains(?, a.language))), "
                        "count(*) FILTER (m.linked_by = 'name') "
                        "FROM entity_mentions m JOIN articles a USING (article_id)",
                        [languages])
        _, statuses = query(settings.store, "SELECT entity_status, count(*) FROM articles GROUP BY ALL")
    without_model, by_name = rows[0]
    figures = {"pages.persons_without_model": float(without_model), "pages.name_linked_mentions": float(by_name)}
    return figures | {f"pages.articles[{status}]": float(count) for status, count in statuses}


def format_report(metrics: dict[str, float]) -> str:
    lines = ["75-language dev sentences          two detectors   langdetect alone (>= 0.8)"]
    for measure, label in (("known_precision", "known languages: precision"),
                           ("known_coverage", "known languages: labelled right"),
                           ("unknown_not_wrong", "unknown languages: no wrong label")):
        lines.append(f"{label:<34} {metrics[f'language.{measure}']:13.3f}   "
                     f"{metrics[f'language.langdetect_alone.{measure}']:16.3f}")
    pages = {name: value for name, value in metrics.items() if name.startswith("pages.")}
    if pages:
        lines.append("\ndev pages (pages/text, ingested):")
        lines += [f"  {name.removeprefix('pages.')}: {value:.0f}" for name, value in sorted(pages.items())]
    return "\n".join(lines)
