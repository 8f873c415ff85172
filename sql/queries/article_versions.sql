-- Pages loaded in more than one version: every version with its title, length and when it arrived.
SELECT coalesce(a.version_of, a.article_id) AS first_version, a.version, a.article_id, a.canonical_url,
       a.title, a.body_chars, a.published_at, a.updated_at, a.ingested_at
FROM articles a
WHERE coalesce(a.version_of, a.article_id) IN (SELECT version_of FROM articles WHERE version_of IS NOT NULL)
ORDER BY first_version, a.version;
