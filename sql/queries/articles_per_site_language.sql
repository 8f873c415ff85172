-- Articles per site and language; NULL means the input did not say.
SELECT site, language, count(*) AS articles
FROM articles
GROUP BY ALL
ORDER BY articles DESC, site NULLS LAST, language;
