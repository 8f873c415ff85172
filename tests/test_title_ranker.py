"""The title ranker's candidates and features, and its trainer on made-up pages."""

from __future__ import annotations

import numpy as np

from pipeline.evaluate import train_title as TT
from pipeline.extract import text as T
from pipeline.extract import title_ranker as R

PROSE = ("The council voted late on Tuesday to approve the budget, after a debate that ran for more than "
         "six hours and saw several amendments rejected by a narrow margin.")


def _page(*header: str) -> T._Page:
    blocks = T._split_blocks("\n\n".join([*header, PROSE, PROSE.replace("Tuesday", "Monday")]))
    kinds = T._classify(blocks)
    return T._Page(blocks, kinds, *T._body_span(blocks, kinds))


def test_candidates_cover_title_and_headline_lines_above_the_body() -> None:
    page = _page("Budget row | Gazette", "Home", "Council passes budget after long debate", "By Jane Doe")
    texts = {c.text for c in R.candidates(page, T._rule_title(page))}
    assert {"Budget row", "Budget row | Gazette", "Council passes budget after long debate"} <= texts
    rows = R.features(page, R.candidates(page, T._rule_title(page)))
    assert all(len(row) == len(R.FEATURES) for row in rows)


def test_site_segment_feature_marks_a_logo_line() -> None:
    page = _page("金融庁が銀行社長の解任を命じる処分を発表した - 日本経済新聞", "日本経済新聞")
    cands = R.candidates(page, None)
    logo = next(i for i, c in enumerate(cands) if c.text == "日本経済新聞")
    assert R.features(page, cands)[logo][R.FEATURES.index("site_segment")] == 1.0


def test_fit_learns_to_prefer_the_labelled_candidate() -> None:
    examples = []
    for n in range(20):
        page = _page(f"Story {n} about the council | Gazette", "Home", f"Council story {n} passes the budget vote")
        examples.append(TT._example(str(n), str(n % 4), "\n\n".join(page.blocks),
                                    f"Council story {n} passes the budget vote"))
    model = TT.fit(examples, steps=200)
    assert all(TT.predict_ok(model, e) for e in examples)
    assert np.isfinite(model["weights"]).all()


def test_without_a_model_file_the_rules_decide() -> None:
    if R.load_model() is not None:
        return
    page = _page("Council passes budget after long debate | Gazette", "Council passes budget after long debate")
    assert T._find_title(page) == T._rule_title(page)
