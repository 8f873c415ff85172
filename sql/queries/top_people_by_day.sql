-- Most-mentioned people per publication day (articles without a date fall under NULL).
SELECT day, name, mentions, articles
FROM entity_daily
WHERE label = 'PERSON'
QUALIFY row_number() OVER (PARTITION BY day ORDER BY mentions DESC, name) <= 5
ORDER BY day NULLS LAST, mentions DESC, name;
