"""Planning streams the inputs: batches close by count or bytes, each file is read once, killed runs are swept."""

from __future__ import annotations

import os
import time
from dataclasses import replace

from pipeline import run_folder
from pipeline.run_folder import RunFolder
from pipeline.stages.plan import plan_run
from pipeline.stages.run import run_pipeline
from pipeline.store import query
from tests.conftest import SEEDS


def test_a_batch_closes_at_its_byte_cap(settings):
    plan = plan_run([str(SEEDS)], replace(settings, batch_size=100, batch_bytes=3000), "bytes")
    sizes = [run_folder.read(batch).num_rows for batch in plan.batches]
    assert sum(sizes) == plan.n_inputs == 5
    assert len(sizes) >= 3


def test_a_file_named_twice_and_reached_through_its_folder_is_one_input(settings):
    seed = sorted(SEEDS.glob("*.txt"))[0]
    summary = run_pipeline([str(SEEDS), str(seed), str(seed)], settings, "twice")
    assert summary.n_inputs == 5 and summary.n_loaded == 5
    assert query(settings.store, "SELECT count(DISTINCT source_uri), count(*) FROM ingest_log")[1] == [(5, 5)]


def test_the_same_bytes_under_two_names_share_the_first_ones_fate(settings, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (tmp_path / folder / "story.txt").write_text(sorted(SEEDS.glob("*.txt"))[0].read_text())
    run_pipeline([str(tmp_path / "a"), str(tmp_path / "b")], settings, "copies")
    rows = query(settings.store, "SELECT regexp_extract(source_uri, '[ab]/.*$'), state, reason, article_id "
                                   "FROM ingest_log ORDER BY 1")[1]
    [(_, _, _, loaded_id)] = [row for row in rows if row[0] == "a/story.txt"]
    assert rows == [("a/image.png", "rejected", "unsupported file type '.png'", None),
                    ("a/story.txt", "loaded", None, loaded_id),
                    ("b/image.png", "rejected", "unsupported file type '.png'", None),
                    ("b/story.txt", "duplicate", "same_input_in_run", loaded_id)]


def test_a_killed_runs_staging_is_removed_after_the_retention_and_a_recent_one_kept(settings):
    old, recent = (RunFolder.of(settings.staging_dir, name).root for name in ("killed", "running"))
    for folder in (old, recent):
        (folder / "processed-00000").mkdir(parents=True)
        (folder / "processed-00000" / "articles.parquet").write_bytes(b"x")
    three_days_ago = time.time() - 72 * 3600
    for path in (old, old / "processed-00000", old / "processed-00000" / "articles.parquet"):
        os.utime(path, (three_days_ago, three_days_ago))
    plan_run([str(SEEDS)], settings, "next")
    assert not old.exists()
    assert recent.exists()
