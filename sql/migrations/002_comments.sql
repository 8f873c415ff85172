-- What every table and column holds, stored in the catalog so DESCRIBE, duckdb_columns() and GUI clients show it.

COMMENT ON TABLE ingest_runs IS 'One row per run (a DAG run or a news ingest/fetch): where it read and what became of its inputs. Re-running a run rewrites its row.';
COMMENT ON COLUMN ingest_runs.run_id IS 'The run: Airflow run id (manual__..., scheduled__...) or cli__/fetch__<UTC time>_<hex> from the CLI. Key.';
COMMENT ON COLUMN ingest_runs.source IS 'What the run read: folders and files, archives, or web listings (a label, not parsed).';
COMMENT ON COLUMN ingest_runs.started_at IS 'UTC time the run started planning.';
COMMENT ON COLUMN ingest_runs.finished_at IS 'UTC time the run''s load committed.';
COMMENT ON COLUMN ingest_runs.n_inputs IS 'Inputs the run read; equals n_loaded + n_duplicate + n_rejected + n_failed and the run''s ingest_log rows.';
COMMENT ON COLUMN ingest_runs.n_loaded IS 'Inputs loaded as a new article (or a new version of a page).';
COMMENT ON COLUMN ingest_runs.n_duplicate IS 'Inputs that duplicate an article already stored or earlier in the run.';
COMMENT ON COLUMN ingest_runs.n_rejected IS 'Inputs that are no article (unreadable, empty, too large ...): their bytes are in rejects.';
COMMENT ON COLUMN ingest_runs.n_failed IS 'Inputs that could not be read this time (a network error, a deadline): retried by the next run.';

COMMENT ON TABLE articles IS 'One row per loaded article: cleaned text and metadata. A changed page is a new row linked by version_of.';
COMMENT ON COLUMN articles.article_id IS 'Stable id: first 16 hex of the sha1 of doc_key. Key; entity_mentions, date_candidates, duplicates.duplicate_of and ingest_log point here.';
COMMENT ON COLUMN articles.doc_key IS 'Key of the input it came from: url:<canonical URL> or file:<name>, then #<first 16 hex of the sha1 of the bytes read>. Unique.';
COMMENT ON COLUMN articles.url IS 'URL the input names (feed link, WARC target, JSONL url); NULL for a file without one.';
COMMENT ON COLUMN articles.canonical_url IS 'url normalised by courlan (scheme, host case, tracking parameters removed) or the page''s rel=canonical; NULL without a URL.';
COMMENT ON COLUMN articles.source_uri IS 'Where the input was read: file path, archive#record, or fetched URL.';
COMMENT ON COLUMN articles.site IS 'Site name from the page (og:site_name and similar), else NULL.';
COMMENT ON COLUMN articles.title IS 'Headline; NULL when the input carries none.';
COMMENT ON COLUMN articles.byline IS 'Author(s) as the page states them; NULL when it states none.';
COMMENT ON COLUMN articles.published_at IS 'Publication date (UTC day) from the page''s metadata, URL or text; NULL when none is found, never a guess. Rule in published_rule.';
COMMENT ON COLUMN articles.published_rule IS 'Which rule found published_at (e.g. jsonl, meta, url, text, htmldate); NULL when published_at is NULL.';
COMMENT ON COLUMN articles.updated_at IS 'Date the page says it was last modified; NULL when it says none.';
COMMENT ON COLUMN articles.language IS 'ISO 639-1 code from langdetect (fixed seed); NULL when the detector is not sure enough (language_prob below NEWS_LANGUAGE_MIN_PROBABILITY).';
COMMENT ON COLUMN articles.language_prob IS 'langdetect probability (0-1) of its best language, also when language is NULL.';
COMMENT ON COLUMN articles.body IS 'Article text with boilerplate removed (paragraphs separated by blank lines).';
COMMENT ON COLUMN articles.body_chars IS 'Length of body in characters.';
COMMENT ON COLUMN articles.content_hash IS 'sha256 of the folded body (case, spacing and punctuation ignored): equal hashes are exact duplicates.';
COMMENT ON COLUMN articles.story_id IS 'The story (stories.story_id, the article_id of its first article) this article belongs to.';
COMMENT ON COLUMN articles.ingested_at IS 'UTC time the article was loaded.';
COMMENT ON COLUMN articles.run_id IS 'Run that loaded it (ingest_runs.run_id).';
COMMENT ON COLUMN articles.version_of IS 'article_id of the first version of the same page; NULL for a first version or an article without URL.';
COMMENT ON COLUMN articles.version IS '1 for a first version, then 2, 3 ... in the order changed bodies of the page were loaded.';
COMMENT ON COLUMN articles.warnings IS 'What was repaired on the way in (bad bytes replaced, a field of the wrong type dropped); NULL or empty when nothing was.';

COMMENT ON TABLE entities IS 'One row per canonical entity (person, organisation, place ...): spellings of the same one are merged through aliases.';
COMMENT ON COLUMN entities.entity_id IS 'Stable id: hash of label and name_key. Key; entity_mentions.entity_id points here.';
COMMENT ON COLUMN entities.name IS 'Canonical name shown to people (the fullest, most frequent spelling).';
COMMENT ON COLUMN entities.label IS 'spaCy label: PERSON, ORG, GPE, LOC, NORP, ...';
COMMENT ON COLUMN entities.name_key IS 'Folded name used to merge spellings (case, accents and punctuation ignored).';
COMMENT ON COLUMN entities.aliases IS 'Other spellings seen or curated (sql/seed_data/entity_aliases.csv) for this entity.';
COMMENT ON COLUMN entities.country_code IS 'ISO 3166-1 alpha-2 code of a GPE/LOC/NORP entity; NULL when it is no single country or not a place.';
COMMENT ON COLUMN entities.first_seen IS 'Publication date of the earliest article mentioning it; NULL when none of its articles is dated.';
COMMENT ON COLUMN entities.last_seen IS 'Publication date of the latest article mentioning it; NULL when none of its articles is dated.';

COMMENT ON TABLE entity_mentions IS 'One row per entity mention in an article body, keyed by (article_id, start_char, end_char).';
COMMENT ON COLUMN entity_mentions.article_id IS 'Article mentioning it (articles.article_id).';
COMMENT ON COLUMN entity_mentions.entity_id IS 'Canonical entity mentioned (entities.entity_id).';
COMMENT ON COLUMN entity_mentions.surface IS 'Text as written in the body.';
COMMENT ON COLUMN entity_mentions.label IS 'spaCy label of this mention.';
COMMENT ON COLUMN entity_mentions.start_char IS 'Offset (characters, 0-based) of the mention''s first character in articles.body.';
COMMENT ON COLUMN entity_mentions.end_char IS 'Offset (characters) just past the mention''s last character in articles.body.';

COMMENT ON TABLE duplicates IS 'One row per input that was not loaded because it duplicates an article: which one, and by which rule.';
COMMENT ON COLUMN duplicates.doc_key IS 'Key of the duplicate input (not loaded). Key.';
COMMENT ON COLUMN duplicates.duplicate_of IS 'article_id (articles.article_id) of the stored article it duplicates.';
COMMENT ON COLUMN duplicates.rule IS 'canonical_url (same page, same body), content_hash (same folded body), near_duplicate (MinHash), degraded_version (a cut re-capture of a page).';
COMMENT ON COLUMN duplicates.similarity IS 'Estimated Jaccard or containment (0-1) for near_duplicate and degraded_version; NULL for exact rules.';
COMMENT ON COLUMN duplicates.run_id IS 'Run that found it.';

COMMENT ON TABLE ingest_log IS 'The ledger: one row per input per run, so every input read ends in exactly one state. Keyed by (run_id, source_uri).';
COMMENT ON COLUMN ingest_log.run_id IS 'Run that read the input (ingest_runs.run_id).';
COMMENT ON COLUMN ingest_log.doc_key IS 'Key of the input (articles.doc_key when loaded).';
COMMENT ON COLUMN ingest_log.source_uri IS 'Where the input was read (file path, archive#record, URL).';
COMMENT ON COLUMN ingest_log.state IS 'loaded, duplicate, rejected or failed.';
COMMENT ON COLUMN ingest_log.reason IS 'Why: a duplicate rule (seen_before, content_hash ...), new_version, a rejection or failure message; NULL for a plain load.';
COMMENT ON COLUMN ingest_log.article_id IS 'Article it became (loaded) or duplicates (duplicate); NULL when rejected or failed.';
COMMENT ON COLUMN ingest_log.logged_at IS 'UTC time the ledger row was written.';

COMMENT ON TABLE rejects IS 'Inputs that are no article, with their reason and raw bytes, so nothing is lost. Keyed by doc_key.';
COMMENT ON COLUMN rejects.doc_key IS 'Key of the rejected input. Key.';
COMMENT ON COLUMN rejects.source_uri IS 'Where it was read.';
COMMENT ON COLUMN rejects.reason IS 'Which rule rejected it, in one line.';
COMMENT ON COLUMN rejects.raw IS 'Raw bytes as read, up to NEWS_INLINE_REJECT_BYTES; NULL when they are in raw_file.';
COMMENT ON COLUMN rejects.raw_file IS 'Larger raw bytes: file (content-addressed) relative to the data folder, e.g. rejects/<sha256>.bin; NULL when inline.';

COMMENT ON TABLE quality_results IS 'Great-expectations results: one row per expectation per check of a run.';
COMMENT ON COLUMN quality_results.run_id IS 'Run checked.';
COMMENT ON COLUMN quality_results.suite IS 'Expectation suite (articles, entities, ledger ...).';
COMMENT ON COLUMN quality_results.expectation IS 'Expectation name within the suite.';
COMMENT ON COLUMN quality_results.success IS 'Whether it held.';
COMMENT ON COLUMN quality_results.observed IS 'What was observed (a count, a share, example values); NULL when there is nothing to show.';
COMMENT ON COLUMN quality_results.checked_at IS 'UTC time of the check.';

COMMENT ON TABLE date_candidates IS 'Every date found for an article, with the rule that found it; published_at is the chosen one.';
COMMENT ON COLUMN date_candidates.article_id IS 'Article (articles.article_id).';
COMMENT ON COLUMN date_candidates.value IS 'The date found (a day).';
COMMENT ON COLUMN date_candidates.kind IS 'published or updated.';
COMMENT ON COLUMN date_candidates.rule IS 'Where it was found (metadata, URL, text ...).';

COMMENT ON TABLE minhash_signatures IS 'Near-duplicate index: one MinHash signature per loaded article.';
COMMENT ON COLUMN minhash_signatures.article_id IS 'Article (articles.article_id). Key.';
COMMENT ON COLUMN minhash_signatures.shingles IS 'Distinct 5-token shingles of the folded body (to estimate containment).';
COMMENT ON COLUMN minhash_signatures.signature IS '128 little-endian uint32 minima (fixed seed: never change it in place).';

COMMENT ON TABLE minhash_bands IS 'Near-duplicate index: one row per (LSH band key, article); the layout is in index_layout.';
COMMENT ON COLUMN minhash_bands.band_key IS 'Hash of one band of a signature together with the band layout.';
COMMENT ON COLUMN minhash_bands.article_id IS 'Article (articles.article_id).';

COMMENT ON TABLE stories IS 'Articles about the same event grouped into a story (pipeline/stories.py).';
COMMENT ON COLUMN stories.story_id IS 'article_id of the story''s first article; never changes. Key; articles.story_id points here.';
COMMENT ON COLUMN stories.first_seen IS 'Earliest publication date of its articles; NULL when none is dated.';
COMMENT ON COLUMN stories.last_seen IS 'Latest publication date of its articles; NULL when none is dated.';
COMMENT ON COLUMN stories.size IS 'Number of articles in the story.';
COMMENT ON COLUMN stories.representative_title IS 'Title of its earliest article; NULL when that has none.';
COMMENT ON COLUMN stories.top_entities IS 'Names of the PERSON/ORG/GPE entities in most of its articles, then with most mentions (at most 5).';

COMMENT ON TABLE source_state IS 'What each source resumes from next run (a listing''s validators, a stream''s offsets), written in the same transaction as its rows.';
COMMENT ON COLUMN source_state.source_id IS 'The source: a listing URL, a stream and consumer group. Key.';
COMMENT ON COLUMN source_state.kind IS 'Source kind (web, stream ...), as in pipeline/sources/registry.py.';
COMMENT ON COLUMN source_state.value IS 'The state as JSON, in the source kind''s own shape.';
COMMENT ON COLUMN source_state.run_id IS 'Run that committed it; NULL for state carried over from an older store.';
COMMENT ON COLUMN source_state.updated_at IS 'UTC time it was committed.';

COMMENT ON TABLE index_layout IS 'The LSH band layout the stored band keys were made with (news reindex changes it).';
COMMENT ON COLUMN index_layout.name IS 'Index name (minhash_bands). Key.';
COMMENT ON COLUMN index_layout.bands IS 'Number of bands per signature.';
COMMENT ON COLUMN index_layout."rows" IS 'Signature values per band.';

COMMENT ON TABLE schema_migrations IS 'Migrations from sql/migrations applied to this store.';
COMMENT ON COLUMN schema_migrations.version IS 'Migration number (the file name''s prefix).';
COMMENT ON COLUMN schema_migrations.name IS 'Migration file name.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'UTC time it was applied.';
