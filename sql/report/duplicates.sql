-- The run's duplicates (not the inputs seen before, which the ledger counts): what each copied, by which rule.
SELECT d.rule, d.similarity, l.source_uri, a.title AS original_title, a.source_uri AS original_uri
FROM duplicates d
JOIN ingest_log l ON l.run_id = d.run_id AND l.doc_key = d.doc_key
LEFT JOIN articles a ON a.article_id = d.duplicate_of
WHERE d.run_id = getvariable('run_id')
ORDER BY d.rule, d.similarity DESC NULLS LAST, l.source_uri
LIMIT 50;
