"""Language identification with langdetect, seeded so the same text always gets the same answer.

It abstains (None) on text too short or too uncertain to call, rather than guessing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langdetect import DetectorFactory

MIN_CHARS = 40
MIN_PROBABILITY = 0.80
SAMPLE_CHARS = 2000


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0
    init_factory()
    from langdetect.detector_factory import _factory as loaded

    return loaded


def load_profiles() -> None:
    """Read langdetect's profiles now. They load on first use, and a time budget that interrupted that first
    use would leave them half-read for every later input of the process."""
    _factory()


def detect_language(text: str, min_probability: float = MIN_PROBABILITY) -> tuple[str | None, float | None]:
    """ISO 639-1 code and probability, or (None, None) when the text does not say."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.strip()) < MIN_CHARS:
        return None, None
    from langdetect.lang_detect_exception import LangDetectException

    detector = _factory().create()
    detector.append(sample)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None, None
    if best.prob < min_probability:
        return None, round(best.prob, 4)
    return best.lang.split("-")[0], round(best.prob, 4)
