import json

from pipeline.sources.files import read_inputs


def test_folder_of_seeds_gives_one_doc_per_file_in_stable_order(tmp_path):
    for name in ("b.txt", "a.html", ".hidden.txt"):
        (tmp_path / name).write_text("hello")
    docs = list(read_inputs([tmp_path], max_bytes=1000))
    assert [d.source_uri.rsplit("/", 1)[1] for d in docs] == ["a.html", "b.txt"]
    assert [d.format for d in docs] == ["html", "text"]


def test_doc_key_is_independent_of_the_folder_it_is_read_from(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "x.txt").write_text("same text")
    (tmp_path / "two" / "x.txt").write_text("same text")
    first, second = (next(read_inputs([tmp_path / d], 1000)) for d in ("one", "two"))
    assert first.doc_key == second.doc_key
    assert first.source_uri != second.source_uri


def test_jsonl_gives_one_doc_per_line_keyed_by_canonical_url(tmp_path):
    lines = [json.dumps({"url": "https://Example.com/a?utm_source=x", "text": "t"}), "", "{not json"]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines))
    docs = list(read_inputs([tmp_path / "feed.jsonl"], 1000))
    assert len(docs) == 2
    assert docs[0].doc_key == "url:https://example.com/a"
    assert docs[0].url == "https://Example.com/a?utm_source=x"
    assert docs[1].url is None and docs[1].source_uri.endswith("#L3")


def test_unsupported_and_oversized_files_come_out_with_a_problem(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "big.txt").write_text("x" * 50)
    problems = {d.source_uri.rsplit("/", 1)[1]: d.problem for d in read_inputs([tmp_path], max_bytes=10)}
    assert problems["image.png"] == "unsupported file type '.png'"
    assert problems["big.txt"] == "too large: over 10 bytes"
