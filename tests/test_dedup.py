import pytest

from pipeline.dedup import DuplicateMatch, ExactIndex, KnownArticle, NewVersion, content_hash
from pipeline.urls import canonical_url


def test_canonical_url_drops_tracking_fragment_www_and_lowercases_host():
    assert canonical_url("HTTPS://WWW.Example.com/a/b?utm_source=x&id=3#top") == "https://example.com/a/b?id=3"
    assert canonical_url("https://www.example.com/world/story/?ref=rss") == "https://example.com/world/story"
    assert canonical_url(None) is None
    assert canonical_url("not a url") is None


GUARDIAN = "https://theguardian.com/world/2019/sep/25/venezuela-maduro-moscow-putin"
BBC = "https://bbc.co.uk/news/world-latin-america-49824526"
NYT = "https://nytimes.com/2019/09/25/world/americas/maduro-putin-russia.html"
REUTERS = "https://reuters.com/article/us-venezuela-russia/maduro-idUSKBN1WA1XZ"


@pytest.mark.parametrize(("variant", "desktop"), [
    ("https://amp.theguardian.com/world/2019/sep/25/venezuela-maduro-moscow-putin", GUARDIAN),
    ("https://www.theguardian.com/world/2019/sep/25/venezuela-maduro-moscow-putin?CMP=share_btn_tw", GUARDIAN),
    ("https://www.bbc.co.uk/news/amp/world-latin-america-49824526", BBC),
    ("https://m.bbc.co.uk/news/world-latin-america-49824526", BBC),
    ("https://mobile.nytimes.com/2019/09/25/world/americas/maduro-putin-russia.html", NYT),
    ("https://www.nytimes.com/2019/09/25/world/americas/maduro-putin-russia.amp.html", NYT),
    ("https://www.reuters.com/article/us-venezuela-russia/maduro-idUSKBN1WA1XZ/amp/", REUTERS),
    ("https://www.reuters.com/article/us-venezuela-russia/maduro-idUSKBN1WA1XZ?amp=1", REUTERS),
    ("https://www-reuters-com.cdn.ampproject.org/c/s/www.reuters.com/article/us-venezuela-russia/"
     "maduro-idUSKBN1WA1XZ?usqp=mq331AQFKAGwASA%3D", REUTERS),
    ("https://www.google.com/amp/s/www.reuters.com/article/us-venezuela-russia/maduro-idUSKBN1WA1XZ", REUTERS),
    ("https://www.washingtonpost.com/world/2019/09/25/maduro-moscow/?outputType=amp",
     "https://washingtonpost.com/world/2019/09/25/maduro-moscow"),
    ("https://venezuelanews.blogspot.com/2019/09/maduro-moscu.html?m=1",
     "https://venezuelanews.blogspot.com/2019/09/maduro-moscu.html"),
    ("https://en.m.wikipedia.org/wiki/Nicol%C3%A1s_Maduro", "https://en.wikipedia.org/wiki/Nicol%C3%A1s_Maduro"),
    ("https://www.spiegel.de/ausland/venezuela-maduro-a-1288633.amp", "https://spiegel.de/ausland/venezuela-maduro-a-1288633"),
])
def test_amp_and_mobile_variants_map_to_the_desktop_page(variant, desktop):
    assert canonical_url(variant) == desktop == canonical_url(desktop)


@pytest.mark.parametrize("url", [
    "https://amp.dev/documentation/guides-and-tutorials",  # "amp" is the registered domain itself
    "https://mobile.de/auto-inserat/123.html",
    "https://example.com:8080/news/ampere-record-battery",  # only a whole "amp" segment or ".amp" suffix goes
    "https://example.com/news/m/interview",  # "m" is dropped from hosts only
    "https://www.example.com/news?id=17",  # content parameters stay
])
def test_names_that_only_look_like_variants_keep_their_meaning(url):
    kept = canonical_url(url)
    assert kept is not None
    for part in ("amp.dev", "mobile.de", "ampere", "/m/", "id=17"):
        assert (part in url) == (part in kept)


def test_content_hash_ignores_case_spacing_and_punctuation_only():
    assert content_hash("Hello,  world!\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there world")


def test_same_page_decides_before_same_body():
    index = ExactIndex([KnownArticle("a1", "https://x.org/1", "h1")])
    assert index.match("https://x.org/1", "h1") == DuplicateMatch("a1", "canonical_url")
    assert index.match("https://x.org/1", "h2") == NewVersion("a1", 2)
    assert index.match("https://x.org/2", "h1") == DuplicateMatch("a1", "content_hash")
    assert index.match(None, "h1") == DuplicateMatch("a1", "content_hash")
    assert index.match("https://x.org/2", "h2") is None


def test_versions_count_on_and_an_earlier_body_is_a_duplicate_of_its_version():
    index = ExactIndex([KnownArticle("a1", "https://x.org/1", "h1")])
    index.add(KnownArticle("a2", "https://x.org/1", "h2"))
    assert index.match("https://x.org/1", "h3") == NewVersion("a1", 3)
    assert index.match("https://x.org/1", "h1") == DuplicateMatch("a1", "canonical_url")
    assert index.match("https://x.org/1", "h2") == DuplicateMatch("a2", "canonical_url")
