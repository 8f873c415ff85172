"""A load goes a chunk of processed batches at a time inside its one transaction (`LOAD_CHUNK_ARTICLES`), so its
memory holds one chunk: a run cut into many chunks stores what one chunk stores, and a cut copy in a later chunk
is a near-duplicate of the article an earlier chunk loaded."""

from __future__ import annotations

from dataclasses import replace

from pipeline.sources.files import FileSource
from pipeline.stages import load as load_module
from pipeline.stages.run import run_source
from pipeline.store import Store, query
from tests.test_progress import stories

ROWS = {
    "articles": "SELECT doc_key, title, body, content_hash, story_id IS NOT NULL, version FROM articles "
                "ORDER BY doc_key",
    "ledger": "SELECT doc_key, state, reason, article_id FROM ingest_log ORDER BY doc_key",
    "mentions": "SELECT article_id, entity_id, start_char FROM entity_mentions ORDER BY ALL",
    "dates": "SELECT article_id, value, kind FROM date_candidates ORDER BY ALL",
}


def test_a_run_in_many_chunks_stores_what_one_chunk_stores(settings, tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    stories(inbox, 12)
    (inbox / "zz-copy.txt").write_text((inbox / "000.txt").read_text().rstrip().rsplit(". ", 1)[0] + ".\n")
    tables = {}
    for chunk in (1000, 3):
        monkeypatch.setattr(load_module, "LOAD_CHUNK_ARTICLES", chunk)
        store = Store.at(tmp_path / f"chunk-{chunk}.ducklake")
        run_source(FileSource([str(inbox)]), replace(settings, store=store, workers=1, batch_size=2), "chunks")
        tables[chunk] = {name: query(store, sql)[1] for name, sql in ROWS.items()}

    assert tables[3] == tables[1000]
    ledger = tables[3]["ledger"]
    assert len(ledger) == 14 and len({row[0] for row in ledger}) == 14, "every input once"
    [original] = [row for row in ledger if row[0].startswith("file:000.txt#")]
    [copy] = [row for row in ledger if row[0].startswith("file:zz-copy.txt#")]
    assert original[1] == "loaded"
    assert copy[1:] == ("duplicate", "near_duplicate", original[3]), "a cut copy in a later chunk: chunk 1's"
