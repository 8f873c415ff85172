-- Stories: articles about the same event, grouped by pipeline/stories.py (assign_stories), which also sets
-- articles.story_id. story_id is the article_id of the story's first article and never changes.
-- first_seen/last_seen: earliest/latest publication date of its articles (NULL when none is dated);
-- size: its number of articles; representative_title: title of its earliest article;
-- top_entities: names of the PERSON/ORG/GPE entities in most of its articles, then with most mentions (at most 5).

CREATE TABLE IF NOT EXISTS stories (
    story_id              VARCHAR PRIMARY KEY,
    first_seen            DATE,
    last_seen             DATE,
    size                  INTEGER NOT NULL,
    representative_title  VARCHAR,
    top_entities          VARCHAR[]
);
