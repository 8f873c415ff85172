-- What an analyst needs to trust a row (issue #15): which rule chose an article's body, what both language detectors
-- said when they did not agree, whether its entities come from a model or from names already known, and, per
-- mention, how it was linked. Rows loaded before this migration keep NULL in the new columns: unknown, not guessed.

ALTER TABLE articles ADD COLUMN body_rule VARCHAR;
ALTER TABLE articles ADD COLUMN language_candidates VARCHAR;
ALTER TABLE articles ADD COLUMN entity_status VARCHAR;
ALTER TABLE entity_mentions ADD COLUMN linked_by VARCHAR;

CREATE OR REPLACE VIEW latest_articles AS
SELECT *
FROM articles
QUALIFY row_number() OVER (PARTITION BY coalesce(version_of, article_id) ORDER BY version DESC) = 1;

COMMENT ON VIEW latest_articles IS 'One row per page: its latest version (an article without versions is its own latest version).';
COMMENT ON COLUMN articles.body_rule IS 'Rule that chose the body: prose (densest run of paragraphs of a plain text), whole text (every line of a plain text: briefs, results tables), html (trafilatura), record (a JSONL text field). NULL: loaded before the column existed.';
COMMENT ON COLUMN articles.language_candidates IS 'What each language detector said, e.g. langdetect:so=0.99,sw=0.01 fasttext:sw=0.41,so=0.20; when language is NULL it says why the detectors abstained. NULL for a text too short to call.';
COMMENT ON COLUMN articles.entity_status IS 'How entities were found: ner (the statistical model for the article''s language), or no NER model for <language> / no NER: language unknown (then only names already known were linked, linked_by = name).';
COMMENT ON COLUMN entity_mentions.linked_by IS 'ner: a span the NER model found; name: a known entity''s name or alias found in an article whose language has no NER model.';
