-- Articles by host (issue #16): `host` is the canonical URL's host, and `site` falls back to it when the page names
-- no site. Rows loaded before this migration get both from their canonical URL here; rows without a URL keep NULL.

ALTER TABLE articles ADD COLUMN host VARCHAR;

UPDATE articles
SET host = lower(regexp_extract(canonical_url, '^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^:/?#]+)', 1))
WHERE canonical_url IS NOT NULL AND host IS NULL;

UPDATE articles SET site = host WHERE site IS NULL AND nullif(host, '') IS NOT NULL;

UPDATE articles SET host = NULL WHERE host = '';

CREATE OR REPLACE VIEW latest_articles AS
SELECT *
FROM articles
QUALIFY row_number() OVER (PARTITION BY coalesce(version_of, article_id) ORDER BY version DESC) = 1;

COMMENT ON VIEW latest_articles IS 'One row per page: its latest version (an article without versions is its own latest version).';
COMMENT ON COLUMN articles.host IS 'Host of canonical_url (lower case, no port; www, m and amp labels dropped), e.g. dw.com. NULL for an input without a URL.';
COMMENT ON COLUMN articles.site IS 'Site name the page gives (og:site_name, a title suffix, a masthead line), else its host; NULL when the input has neither.';
