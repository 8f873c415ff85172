-- Story postings (issue #17): each article's TF-IDF term weights and its prefix keys, kept from when it got its story,
-- so a later load finds the stored articles a new one can join by reading the postings of the new one's keys instead
-- of weighing every article of the date window again (a load's memory and time grew with the window: 300 → 575 MiB
-- and 1.9 → 6.5 s a chunk over 20k articles in five days). Terms stored before this migration have no weight; they
-- are dropped and cut again, with their postings, the first time their article falls in a new article's window.

DELETE FROM story_terms;
ALTER TABLE story_terms ADD COLUMN weight DOUBLE;

CREATE TABLE IF NOT EXISTS story_postings (
    key           VARCHAR NOT NULL,
    is_term       BOOLEAN NOT NULL,
    published_at  DATE,
    article_id    VARCHAR NOT NULL,
    story_id      VARCHAR NOT NULL
);

COMMENT ON COLUMN story_terms.weight IS 'The term''s weight in the article''s unit TF-IDF vector, document frequencies taken over the articles it could join when it got its story.';
COMMENT ON TABLE story_postings IS 'The prefix keys of each article with a story: its rarest terms and entities, enough that any article it could be the same story as shares one. What story assignment looks new articles up by. One row per article and key.';
COMMENT ON COLUMN story_postings.key IS 'A term (is_term) or an entity_id.';
COMMENT ON COLUMN story_postings.published_at IS 'The article''s publication date (NULL: undated), so a lookup reads only the window''s days.';
COMMENT ON COLUMN story_postings.story_id IS 'The article''s story, so a key common on one day is met through one article of each story first.';
