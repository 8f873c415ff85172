-- What was repaired on the way in (bad bytes replaced, a field of the wrong type dropped, entities missing after
-- a tagging error): the article loaded, and says so.
ALTER TABLE articles ADD COLUMN warnings VARCHAR[];
