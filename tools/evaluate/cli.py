"""The command line of the evaluations: `python -m tools.evaluate extraction|entities|dedup|ner` (or `make eval-...`).

Each target imports its evaluation only when chosen, so `entities` does not pay for trafilatura nor `extraction`
for the dedup timing store. A missing input file is exit 2 with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROG = "python -m tools.evaluate"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Measure the pipeline against a dev evaluation set.")
    targets = parser.add_subparsers(dest="target", required=True)
    extraction = targets.add_parser("extraction", help="Body, snippet, title, date and speed scores of extraction.")
    extraction.add_argument("--data", required=True, type=Path, help="eval folder with pages.jsonl and dates.jsonl")
    extraction.add_argument("--gold", type=Path,
                            help="seeds gold file (default: acceptance/seeds_gold.json beside the eval folder)")
    extraction.add_argument("--limit", type=int, help="read only the first N rows of pages.jsonl and dates.jsonl")
    extraction.add_argument("--json", action="store_true", help="print the metrics as JSON")
    extraction.set_defaults(handler=evaluate_extraction_command)
    entities = targets.add_parser("entities", help="Person scores, spelling groups and NER speed on the seeds.")
    entities.add_argument("--gold", type=Path,
                          help="seeds gold file (default: ../shared/acceptance/seeds_gold.json beside the repo)")
    entities.set_defaults(handler=evaluate_entities_command)
    dedup = targets.add_parser("dedup", help="Near-duplicate precision/recall, seeds stories, lookup cost.")
    dedup.add_argument("--data", required=True, type=Path, help="eval folder with pages.jsonl")
    dedup.add_argument("--gold", type=Path,
                       help="seeds gold file (default: acceptance/seeds_gold.json beside the eval folder)")
    dedup.add_argument("--limit", type=int, help="use only the first N dev articles")
    dedup.add_argument("--sizes", default="10000,100000",
                       help="stored-article counts to time the lookup against (comma-separated; '' skips)")
    dedup.set_defaults(handler=evaluate_dedup_command)
    ner = targets.add_parser("ner", help="Person F1 per document on the CoNLL-2003 dev stories: pipeline and bare "
                                         "model side by side.")
    ner.add_argument("--data", required=True, type=Path, help="eval folder with ner/persons.jsonl and ner/text/")
    ner.add_argument("--json", action="store_true", help="print the metrics as JSON")
    ner.set_defaults(handler=evaluate_ner_command)
    language = targets.add_parser("language", help="Language labels on 75 languages (two detectors and langdetect "
                                                   "alone side by side); NER kept off the dev pages' model-less "
                                                   "languages.")
    language.add_argument("--data", required=True, type=Path, help="eval folder with langid_sentences.jsonl, pages/")
    language.add_argument("--no-pages", action="store_true", help="skip ingesting the dev pages")
    language.add_argument("--json", action="store_true", help="print the metrics as JSON")
    language.set_defaults(handler=evaluate_language_command)
    return parser


def evaluate_extraction_command(args) -> int:
    from tools.evaluate.extraction import evaluate_extraction, format_report

    needed = (args.data / "pages.jsonl", args.data / "dates.jsonl", args.gold)
    missing = [str(p) for p in needed if p is not None and not p.is_file()]
    if missing:
        print(f"{PROG}: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    metrics = evaluate_extraction(args.data, gold=args.gold, limit=args.limit)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0


def evaluate_entities_command(args) -> int:
    from tools.evaluate.entities import DEFAULT_GOLD, evaluate_entities, format_report

    gold = args.gold or DEFAULT_GOLD
    if not gold.is_file():
        print(f"{PROG}: no seeds gold file at {gold}; pass --gold FILE", file=sys.stderr)
        return 2
    print(format_report(evaluate_entities(gold)))
    return 0


def evaluate_dedup_command(args) -> int:
    """The seeds' stories are scored only when the gold file exists; the near-duplicate figures need pages only."""
    from pipeline.settings import PROJECT_ROOT
    from tools.evaluate.dedup import evaluate_dedup, format_report

    if not (args.data / "pages.jsonl").is_file():
        print(f"{PROG}: no such file: {args.data / 'pages.jsonl'}", file=sys.stderr)
        return 2
    gold = args.gold or args.data.parent / "acceptance" / "seeds_gold.json"
    sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    metrics = evaluate_dedup(args.data, PROJECT_ROOT / "seeds", gold if gold.is_file() else None,
                             limit=args.limit, timing_sizes=sizes)
    print(format_report(metrics))
    return 0


def evaluate_ner_command(args) -> int:
    from tools.evaluate.ner import evaluate_ner, format_report

    if not (args.data / "ner" / "persons.jsonl").is_file():
        print(f"{PROG}: no such file: {args.data / 'ner' / 'persons.jsonl'}", file=sys.stderr)
        return 2
    report = evaluate_ner(args.data)
    print(json.dumps(report.metrics(), indent=2) if args.json else format_report(report))
    return 0


def evaluate_language_command(args) -> int:
    from tools.evaluate.language import evaluate_language, format_report

    if not (args.data / "langid_sentences.jsonl").is_file():
        print(f"{PROG}: no such file: {args.data / 'langid_sentences.jsonl'}", file=sys.stderr)
        return 2
    metrics = evaluate_language(args.data, pages=not args.no_pages)
    print(json.dumps(metrics, indent=2) if args.json else format_report(metrics))
    return 0
