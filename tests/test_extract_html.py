import datetime as dt

from pipeline.extract.html import FULL_EXTRACTION_BELOW, _text_size, extract_html

PAGE = """<!doctype html><html lang="en"><head>
<title>Ministers meet in Moscow | Example News</title>
<meta property="og:site_name" content="Example News">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2019-05-05T10:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
<article><h1>Ministers meet in Moscow</h1>
<p>Russian Foreign Minister Sergei Lavrov met his Venezuelan counterpart Jorge Arreaza in Moscow on Sunday
to discuss the crisis in Caracas and the support Russia has pledged to the government.</p>
<p>The two ministers spoke for more than two hours, according to officials, and agreed to meet again
before the end of the year to review the economic agreements signed last month.</p>
</article>
<footer>Copyright Example News. All rights reserved. Privacy policy.</footer>
</body></html>"""


def test_body_and_metadata_come_from_the_page():
    result = extract_html(PAGE, url="https://example.org/world/ministers", today=dt.date(2026, 1, 1))
    assert result.body.startswith("Russian Foreign Minister Sergei Lavrov")
    assert "two hours" in result.body
    assert "Home" not in result.body and "Copyright" not in result.body
    assert result.title == "Ministers meet in Moscow"
    assert result.site == "Example News"
    assert result.byline == "Jane Reporter"
    assert result.published_at == dt.date(2019, 5, 5)
    assert result.published_rule == "htmldate_original"
    assert {c.rule for c in result.date_candidates} >= {"htmldate_original"}


def test_future_dates_are_not_taken():
    result = extract_html(PAGE, today=dt.date(2019, 1, 1))
    assert result.published_at is None


def test_page_without_a_date_gives_null():
    undated = PAGE.replace('<meta property="article:published_time" content="2019-05-05T10:00:00Z">', "")
    assert extract_html(undated, today=dt.date(2026, 1, 1)).published_at is None


def test_paragraphs_are_separated_by_blank_lines():
    body = extract_html(PAGE, today=dt.date(2026, 1, 1)).body
    assert body.count("\n\n") == 1 and "\n\n\n" not in body


def test_a_bare_year_is_not_turned_into_the_first_of_january():
    page = PAGE.replace("2019-05-05T10:00:00Z", "").replace("All rights reserved.", "Since 2015.")
    assert extract_html(page, today=dt.date(2026, 1, 1)).published_at is None


def _titled(title: str, h1: str, site: str = "Example News") -> str:
    head = f'<title>{title}</title><meta property="og:title" content="{title}">'
    return PAGE.replace("<title>Ministers meet in Moscow | Example News</title>", head).replace(
        "<h1>Ministers meet in Moscow</h1>", f"<h1>{h1}</h1>").replace('content="Example News"', f'content="{site}"')


def test_h1_that_is_part_of_the_title_is_the_headline():
    page = _titled("Example News | Ministers meet in Moscow - World", "Ministers meet in Moscow")
    assert extract_html(page, today=dt.date(2026, 1, 1)).title == "Ministers meet in Moscow"


def test_site_name_from_og_site_name_or_domain_is_stripped():
    page = _titled("Ministers meet in Moscow -- Politics -- Example.net", "Something else entirely", site="Example")
    assert extract_html(page, url="https://www.example.net/a", today=dt.date(2026, 1, 1)).title == (
        "Ministers meet in Moscow")


def test_cjk_title_with_a_glued_site_name():
    page = _titled("短缺药品保供稳价 全力保障临床用药需求-新华网", "新华网", site="新华网")
    assert extract_html(page, today=dt.date(2026, 1, 1)).title == "短缺药品保供稳价 全力保障临床用药需求"


def _with_json_ld(page: str, json_ld: str) -> str:
    return page.replace("</head>", f'<script type="application/ld+json">{json_ld}</script></head>')


ARTICLE_LD = '{"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": "Ministers"}, ' \
             '{"@type": ["NewsArticle"], "headline": "Lavrov and Arreaza agree to meet again"}]}'


def test_h1_confirmed_by_json_ld_headline_beats_a_title_og_title_repeats():
    page = _with_json_ld(_titled("Ministers meet in Moscow | Example News", "Lavrov and Arreaza agree to meet again"),
                         ARTICLE_LD)
    assert extract_html(page, today=dt.date(2026, 1, 1)).title == "Lavrov and Arreaza agree to meet again"


def test_without_json_ld_agreement_the_title_stays():
    page = _titled("Ministers meet in Moscow | Example News", "Lavrov and Arreaza agree to meet again")
    assert extract_html(page, today=dt.date(2026, 1, 1)).title == "Ministers meet in Moscow"
    broken = _with_json_ld(page, ARTICLE_LD.replace("}]}", "},]}"))
    assert extract_html(broken, today=dt.date(2026, 1, 1)).title == "Ministers meet in Moscow"


def test_an_og_title_written_apart_from_the_title_outranks_json_ld():
    page = _with_json_ld(_titled("Ministers meet in Moscow | Example News", "Lavrov and Arreaza agree to meet again"),
                         ARTICLE_LD)
    page = page.replace('og:title" content="Ministers meet in Moscow | Example News"',
                        'og:title" content="Russia backs Caracas"')
    assert extract_html(page, today=dt.date(2026, 1, 1)).title == "Russia backs Caracas"


def test_a_date_written_only_in_a_comment_is_found():
    """trafilatura's parser drops comments; the page is parsed again with them when the markup has no date."""
    page = ("<html><head><title>Talks resume</title></head><body><!-- published 2020-07-12 --><article><p>"
            + "The talks resumed on the second day with both delegations present. " * 20
            + "</p></article></body></html>")
    result = extract_html(page, today=dt.date(2026, 1, 1))
    assert result.published_at == dt.date(2020, 7, 12)


def test_a_short_cjk_article_is_not_taken_for_an_extraction_that_found_little():
    assert _text_size("東京で会談が行われた。" * 40) >= FULL_EXTRACTION_BELOW
    assert _text_size("Talks were held. " * 40) < FULL_EXTRACTION_BELOW
