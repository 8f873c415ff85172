-- Story terms (issue #17): each article's title+lead terms, stored when it is given a story, so story assignment
-- finds its candidates and document frequencies in SQL and reads only the candidates' terms, instead of reading and
-- tokenising every body of the date window in Python (5.8 GB at 100k articles in five days). Articles stored before
-- this migration get theirs the first time they fall in a new article's window.

CREATE TABLE IF NOT EXISTS story_terms (
    article_id  VARCHAR NOT NULL,
    term        VARCHAR NOT NULL,
    n           INTEGER NOT NULL
);

COMMENT ON TABLE story_terms IS 'Words of an article''s title and first 100 body words (folded; numbers and one-letter words left out) with how often each occurs: what story assignment compares. One row per article and term.';
COMMENT ON COLUMN story_terms.n IS 'Occurrences of the term in the title and lead.';
