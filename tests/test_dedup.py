from pipeline.dedup import ExactIndex, canonical_url, content_hash


def test_canonical_url_drops_tracking_and_fragment_and_lowercases_host():
    assert canonical_url("HTTPS://WWW.Example.com/a/b?utm_source=x&id=3#top") == "https://www.example.com/a/b?id=3"
    assert canonical_url(None) is None
    assert canonical_url("not a url") is None


def test_content_hash_ignores_case_spacing_and_punctuation_only():
    assert content_hash("Hello,  world!\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there world")


def test_exact_index_prefers_url_match_then_content():
    index = ExactIndex([("a1", "https://x.org/1", "h1")])
    assert index.match("https://x.org/1", "other").rule == "canonical_url"
    assert index.match(None, "h1").duplicate_of == "a1"
    assert index.match("https://x.org/2", "h2") is None
    index.add("a2", "https://x.org/2", "h2")
    assert index.match(None, "h2").duplicate_of == "a2"
