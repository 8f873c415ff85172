"""Tests for the plain-text article cleaner: the seed corpus against its gold file, plus
made-up pages that pin down date precedence, refusals and title handling."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline.extract.text import extract_text
from pipeline.extract.titles import strip_site_name, title_keys
from pipeline.textnorm import fold

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOLD = SHARED / "acceptance" / "seeds_gold.json"
SEEDS = REPO / "seeds"


def _gold_articles() -> list[dict]:
    if not GOLD.exists():
        return []
    return json.loads(GOLD.read_text(encoding="utf-8"))["articles"]


def _seed_params():
    articles = _gold_articles()
    if not articles:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"gold file not found at {GOLD}"))]
    return [pytest.param(article, id=article["file"]) for article in articles]


@pytest.mark.parametrize("article", _seed_params())
def test_seed_matches_gold(article: dict) -> None:
    seed = SEEDS / article["file"]
    if not seed.exists():
        pytest.skip(f"seed file {seed} not found")
    extraction = extract_text(seed.read_text(encoding="utf-8"))
    body = fold(extraction.body)

    assert fold(extraction.title or "") == fold(article["title"])
    assert fold(article["body_starts"]) in body[:150]
    assert fold(article["body_ends"]) in body[-150:]
    for phrase in article["not_in_body"]:
        assert fold(phrase) not in body, phrase
    if article["published"]:
        assert str(extraction.published_at) in article["published"]
        assert extraction.published_rule
    else:
        assert extraction.published_at is None
    if "updated" in article:
        assert str(extraction.updated_at) == article["updated"]
    if "site" in article:
        assert extraction.site == article["site"]
    if "byline" in article:
        assert extraction.byline == article["byline"]


PROSE = (
    "The council approved the new budget on Tuesday after a long debate about school funding and roads. "
    "Members said the plan would be reviewed again in the spring once revenue figures are known."
)
MORE_PROSE = (
    "Opposition members argued that the increase in fees would hit small businesses hardest, "
    "and they promised to bring the question back to the chamber before the end of the year."
)


def _page(*header: str) -> str:
    return "\n\n".join([*header, PROSE, MORE_PROSE, "Related stories", "Another story about something else"])


def test_explicit_publish_label_beats_header_and_title_dates() -> None:
    text = _page(
        "Council passes budget | Local | 01.03.2021",
        "Council passes budget",
        "2 March 2021",
        "Published: 3 March 2021",
    )
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at == dt.date(2021, 3, 3)
    assert extraction.published_rule == "explicit_publish_label"
    rules = {candidate.rule for candidate in extraction.date_candidates}
    assert {"explicit_publish_label", "header_metadata", "title_suffix"} <= rules


def test_header_date_beats_title_suffix() -> None:
    text = _page("Council passes budget | Local | 01.03.2021", "Council passes budget", "March 2, 2021")
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at == dt.date(2021, 3, 2)
    assert extraction.published_rule == "header_metadata"


def test_updated_label_kept_apart_from_publish_date() -> None:
    text = _page("Council passes budget", "Updated: 5 May 2022", "Published: 3 March 2021")
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at == dt.date(2021, 3, 3)
    assert extraction.updated_at == dt.date(2022, 5, 5)


def test_lone_updated_byline_date_stands_in_as_published() -> None:
    text = _page("Council passes budget", "By Agency | Updated: September 24, 2019 06:15 IST")
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at == dt.date(2019, 9, 24)
    assert extraction.published_rule == "updated_label"
    assert extraction.byline == "Agency"


def test_caption_date_is_never_the_publication_date() -> None:
    text = _page(
        "Council passes budget",
        "EPA-EFE/JOHN DOE",
        "The mayor speaks during a press conference in the city hall, 20 April 2018. The budget passed later.",
    )
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at is None
    assert "20 April 2018" not in extraction.body
    assert all(candidate.value != dt.date(2018, 4, 20) for candidate in extraction.date_candidates)


def test_future_date_is_refused() -> None:
    text = _page("Council passes budget", "Published: 3 March 2031")
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.published_at is None
    assert extraction.date_candidates == ()


def test_no_date_gives_none() -> None:
    extraction = extract_text(_page("Council passes budget"), today=dt.date(2024, 1, 1))
    assert extraction.published_at is None
    assert extraction.published_rule is None
    assert extraction.updated_at is None


def test_title_suffix_stripped_and_site_read() -> None:
    extraction = extract_text(_page("Council passes budget after long debate | News | The Gazette"))
    assert extraction.title == "Council passes budget after long debate"
    assert extraction.site == "The Gazette"


def test_standalone_headline_preferred_over_suffixed_title_line() -> None:
    text = _page("Mayor\u2032s budget passes | News | Gazette | 04.12.2018", "Mayor's budget passes")
    extraction = extract_text(text, today=dt.date(2024, 1, 1))
    assert extraction.title == "Mayor's budget passes"
    assert extraction.published_at == dt.date(2018, 12, 4)
    assert extraction.published_rule == "title_suffix"


def test_boilerplate_and_repeated_lead_removed() -> None:
    lead = "The council approved the new budget on Tuesday after a long debate about school funding and roads"
    text = "\n\n".join(
        [
            "Council passes budget",
            "We use cookies to improve our service for you. More info in our privacy policy.",
            lead,
            "Advertisement",
            PROSE,
            MORE_PROSE,
            "Tags: budget, council",
            "Related stories",
        ]
    )
    body = extract_text(text).body
    assert body.count("The council approved the new budget") == 1
    assert "cookies" not in body
    assert "Advertisement" not in body
    assert "Tags:" not in body
    assert body.endswith("before the end of the year.")


def test_empty_text_gives_empty_body() -> None:
    extraction = extract_text("  \n\n ")
    assert extraction.body == ""
    assert extraction.title is None


def test_site_name_before_headline_is_left_off() -> None:
    text = _page("Gazette Tech Blog | Council passes budget after long debate", "Gazette Tech Blog",
                 "Council passes budget after long debate")
    assert extract_text(text).title == "Council passes budget after long debate"


def test_double_dash_separates_section_and_site() -> None:
    text = _page("Council passes budget after long debate -- Local News -- Gazette.net",
                 "Council passes budget after long debate")
    assert extract_text(text).title == "Council passes budget after long debate"


def test_cjk_site_name_glued_on_by_a_bare_dash_is_dropped() -> None:
    title = extract_text(_page("短缺药品保供稳价 全力保障临床用药需求-新华网")).title
    assert title == "短缺药品保供稳价 全力保障临床用药需求"


def test_headline_shown_after_a_kicker_in_the_title() -> None:
    text = _page("World news: Council passes budget after long debate | Gazette",
                 "Council passes budget after long debate")
    assert extract_text(text).title == "Council passes budget after long debate"


def test_title_repeated_verbatim_is_the_headline_whatever_it_looks_like() -> None:
    text = _page("First image: how the cable car could look", "Menu", "First image: how the cable car could look")
    assert extract_text(text).title == "First image: how the cable car could look"


def test_headline_below_a_kicker_beats_the_breadcrumb_copy_of_the_title() -> None:
    text = _page("Council budget: roads win, schools wait", "Home", "Council budget: roads win, schools wait",
                 "Late-night vote", "Council budget passes after schools lose the roads fight")
    assert extract_text(text).title == "Council budget passes after schools lose the roads fight"


def test_kicker_rule_ignores_a_line_about_something_else_or_much_longer() -> None:
    other = _page("Council budget: roads win, schools wait", "Home", "Council budget: roads win, schools wait",
                  "Late-night vote", "Weather turns cold across the region tonight")
    assert extract_text(other).title == "Council budget: roads win, schools wait"
    author = _page("Council budget: roads win, schools wait", "Council budget: roads win, schools wait", "JD",
                   "Jane Doe, council reporter covering budget, roads, schools and everything else in the county")
    assert extract_text(author).title == "Council budget: roads win, schools wait"


def test_title_keys_cover_every_run_of_parts() -> None:
    keys = title_keys("Kicker: Headline here | Section - Site")
    assert {"headline here", "kicker headline here", "headline here section"} <= keys


def test_site_name_stripped_from_either_end_with_sections_behind_it() -> None:
    assert strip_site_name("Headline here » Local » News » Ultima Hora", ["ultimahora"]) == "Headline here"
    assert strip_site_name("LinkNaija | Headline here", ["LinkNaija"]) == "Headline here"
    assert strip_site_name("A headline - with a dash", ["gazette"]) == "A headline - with a dash"


def test_logo_line_naming_the_site_segment_is_not_the_headline() -> None:
    text = _page("金融庁が銀行社長の解任を命じる処分を発表した - 日本経済新聞", "日本経済新聞", "ログイン")
    assert extract_text(text).title == "金融庁が銀行社長の解任を命じる処分を発表した"


def test_short_title_behind_a_site_name_is_still_the_shown_headline() -> None:
    text = _page("Pluralsight Tech Blog | Managing Python Environments", "Managing Python Environments")
    assert extract_text(text).title == "Managing Python Environments"


def test_comma_separated_site_and_date_tail_is_dropped() -> None:
    text = _page("Kenia: Nairobi von unten, Tageszeitung junge Welt, 18.05.2021")
    assert extract_text(text).title == "Kenia: Nairobi von unten"
    plain = _page("Rain, wind and snow: the week ahead, in pictures")
    assert extract_text(plain).title == "Rain, wind and snow: the week ahead, in pictures"


def test_a_results_story_whose_prose_is_a_small_part_keeps_its_table() -> None:
    prose = ("Italy won the team pursuit in a world record time on Saturday, beating Russia by more than five seconds "
             "in front of a full house at the velodrome. ") * 3
    table = "\n\n".join(f"{rank}. Rider Number{rank} (France) 3:3{rank}.526" for rank in range(1, 25))
    text = f"CYCLING - WORLD TRACK CHAMPIONSHIP RESULTS.\n\nMANCHESTER 1996-08-31\n\n{prose}\n\n{table}\n"
    extraction = extract_text(text)
    assert extraction.body_rule == "whole text"
    assert "Rider Number24 (France)" in extraction.body and prose.strip() in extraction.body


def test_a_story_that_is_mostly_prose_keeps_only_its_prose() -> None:
    prose = ("The central bank left its main rate unchanged on Thursday, saying inflation was easing faster than it "
             "had expected and the economy was growing at a steady pace. ") * 4
    text = f"Bank holds rates.\n\nLONDON 1996-08-31\n\n{prose}\n\nShare\n\nPrint\n"
    assert extract_text(text).body_rule == "prose"
