"""Aggregates of the entity mentions that the named queries read (issue #13), kept exact as articles arrive.

`entity_day_counts` (behind the view `entity_daily`), `entity_counts`, `entity_pair_counts` (behind the view
`entity_pairs`) and `country_counts` hold counts of mentions and of distinct articles per key. A count of distinct
articles is additive over disjoint sets of articles, and each article is inserted by exactly one load (a re-run or
a replay keeps no article twice), so the loader adds the contribution of the articles it keeps, in its own
transaction (`add_articles`): the aggregates commit with the rows they count, or not at all.

Two things are not additive, and are handled here:

- a place's `entities.country_code` may be set after its mentions were counted (an entity created before codes
  existed): `entity_counts.counted_country` remembers the code each entity was counted under, and a load that finds
  it changed recounts both countries from the rows;
- entities merged or renamed (the trust work), or rows copied in by `news import`: `rebuild_aggregates` recomputes
  everything from entity_mentions, articles and entities, with the SQL of migration 004's backfill.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from pipeline.store import MIGRATIONS_DIR, execute

AGGREGATE_TABLES = ("entity_day_counts", "entity_counts", "entity_pair_counts", "country_counts")
"""Tables derived from the rows: `news import` does not copy them, it rebuilds them."""
PLACE_LABELS = ("GPE", "LOC", "NORP")
"""Entity labels counted in `country_counts` (the places_by_country query's)."""
_PLACES = ", ".join(f"'{label}'" for label in PLACE_LABELS)
_REBUILD_BEGIN, _REBUILD_END = "-- REBUILD BEGIN", "-- REBUILD END"


def rebuild_sql() -> str:
    """The statements that recompute every aggregate from the rows: migration 004's backfill, read from it so the
    two never differ."""
    text = (MIGRATIONS_DIR / "004_aggregates.sql").read_text()
    begin, end = text.index(_REBUILD_BEGIN), text.index(_REBUILD_END)
    return text[begin + len(_REBUILD_BEGIN):end]


def rebuild_aggregates(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every aggregate from entity_mentions, articles and entities, in the caller's transaction."""
    con.execute(rebuild_sql())


def add_articles(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> None:
    """Add to the aggregates the articles a load has just inserted (with their mentions), in its transaction.

    `article_ids` must be articles no earlier load inserted (the loader's `keep`): their mentions are counted
    once, here. Then countries whose places' codes changed since they were counted are recounted."""
    changed = _country_changes(con)
    if article_ids:
        rows = execute(
            con, "SELECT m.article_id, m.entity_id, any_value(a.published_at) AS day, count(*) AS mentions "
            "FROM entity_mentions m JOIN articles a USING (article_id) "
            "WHERE m.article_id IN (SELECT article_id FROM aggregate_articles) "
            "GROUP BY m.article_id, m.entity_id",
            tables={"aggregate_articles": pa.table({"article_id": pa.array(list(article_ids), pa.string())})},
        ).to_arrow_table()
        if rows.num_rows:
            _add(con, rows)
    if changed:
        _recount_countries(con, changed)


def _add(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    """Merge the contribution of `rows` (one per new article and entity it mentions, with its mentions)."""
    tables = {"aggregate_rows": rows}
    _merge_add(con, "entity_day_counts", ["entity_id", "day"], ["mentions", "articles"],
               "SELECT r.entity_id, r.day, r.mentions, r.articles, e.label "
               "FROM (SELECT entity_id, day, sum(mentions) AS mentions, count(*) AS articles "
               "      FROM aggregate_rows GROUP BY entity_id, day) r "
               "LEFT JOIN entities e USING (entity_id)",
               tables, inserted=["label"], nullable=["day"])
    _merge_add(con, "entity_counts", ["entity_id"], ["mentions", "articles"],
               "SELECT r.entity_id, r.mentions, r.articles, e.country_code AS counted_country "
               "FROM (SELECT entity_id, sum(mentions) AS mentions, count(*) AS articles "
               "      FROM aggregate_rows GROUP BY entity_id) r "
               "LEFT JOIN entities e USING (entity_id)",
               tables, inserted=["counted_country"])
    _merge_add(con, "entity_pair_counts", ["entity_a", "entity_b"], ["articles"],
               "SELECT p.entity_a, p.entity_b, ea.label AS label_a, eb.label AS label_b, p.articles "
               "FROM (SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(*) AS articles "
               "      FROM aggregate_rows a JOIN aggregate_rows b "
               "        ON a.article_id = b.article_id AND a.entity_id < b.entity_id "
               "      GROUP BY ALL) p "
               "LEFT JOIN entities ea ON ea.entity_id = p.entity_a "
               "LEFT JOIN entities eb ON eb.entity_id = p.entity_b",
               tables, inserted=["label_a", "label_b"])
    _merge_add(con, "country_counts", ["country_code"], ["mentions", "articles"],
               "SELECT e.country_code, sum(r.mentions) AS mentions, count(DISTINCT r.article_id) AS articles "
               f"FROM aggregate_rows r JOIN entities e USING (entity_id) WHERE e.label IN ({_PLACES}) "
               "GROUP BY e.country_code", tables, nullable=["country_code"])


def _merge_add(con: duckdb.DuckDBPyConnection, table: str, keys: list[str], counts: list[str], rows_sql: str,
               tables: dict[str, pa.Table], inserted: Sequence[str] = (), nullable: Sequence[str] = ()) -> None:
    """Add the counts `rows_sql` (reading `tables`) gives (one row per key) to `table`'s row of that key, or insert it
    (with the `inserted` columns too). A `nullable` key matches NULL to NULL (an undated day, a place of no country)."""
    on = " AND ".join(f"t.{key} IS NOT DISTINCT FROM s.{key}" if key in nullable else f"t.{key} = s.{key}"
                      for key in keys)
    add = ", ".join(f"{count} = t.{count} + s.{count}" for count in counts)
    columns = [*keys, *counts, *inserted]
    execute(con, f"MERGE INTO {table} AS t USING ({rows_sql}) AS s ON ({on}) "
            f"WHEN MATCHED THEN UPDATE SET {add} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join('s.' + c for c in columns)})",
            tables=tables)


def _country_changes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str | None, str | None]]:
    """Places whose country code is not the one their mentions were counted under: (entity_id, counted, now)."""
    return con.execute(
        "SELECT c.entity_id, c.counted_country, e.country_code FROM entity_counts c JOIN entities e USING (entity_id) "
        f"WHERE e.label IN ({_PLACES}) AND c.counted_country IS DISTINCT FROM e.country_code").fetchall()


def _recount_countries(con: duckdb.DuckDBPyConnection, changed: list[tuple[str, str | None, str | None]]) -> None:
    """Recount, from the rows, every country an entity of `changed` was counted under or now belongs to."""
    codes = list({code for _, counted, now in changed for code in (counted, now)})
    tables = {"recounted_countries": pa.table({"country_code": pa.array(codes, pa.string())}),
              "recounted_entities": pa.table({"entity_id": pa.array([e for e, _, _ in changed], pa.string())})}
    touched = "EXISTS (SELECT 1 FROM recounted_countries r WHERE r.country_code IS NOT DISTINCT FROM {0}.country_code)"
    execute(con, f"DELETE FROM country_counts WHERE {touched.format('country_counts')}", tables=tables)
    execute(
        con, "INSERT INTO country_counts "
        "SELECT e.country_code, count(*) AS mentions, count(DISTINCT m.article_id) AS articles "
        f"FROM entity_mentions m JOIN entities e USING (entity_id) WHERE e.label IN ({_PLACES}) "
        f"AND {touched.format('e')} GROUP BY e.country_code", tables=tables)
    execute(con, "UPDATE entity_counts SET counted_country = e.country_code FROM entities e "
            "WHERE e.entity_id = entity_counts.entity_id "
            "AND entity_counts.entity_id IN (SELECT entity_id FROM recounted_entities)", tables=tables)
