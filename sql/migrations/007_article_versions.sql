-- Versions of a page (pipeline/dedup.py, pipeline/loader.py): an input whose canonical URL is already loaded but
-- whose body differs from every version of that page is loaded as a new article, linked to the first one.
-- version_of: article_id of the page's first version; NULL for a first version (and for articles without a URL).
-- version: 1 for a first version, then 2, 3, ... in the order the changed bodies were loaded.

ALTER TABLE articles ADD COLUMN version_of VARCHAR;
ALTER TABLE articles ADD COLUMN version INTEGER DEFAULT 1;
UPDATE articles SET version = 1 WHERE version IS NULL;

-- One row per page: its latest version (an article without versions is its own latest version).
CREATE OR REPLACE VIEW latest_articles AS
SELECT *
FROM articles
QUALIFY row_number() OVER (PARTITION BY coalesce(version_of, article_id) ORDER BY version DESC) = 1;
