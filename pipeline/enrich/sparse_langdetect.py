"""langdetect with its profiles held sparsely: the same probabilities in 39 MB of a process instead of 65.

langdetect keeps, for each of its 87,598 n-grams, a list of 55 probabilities (one per language), 96 % of them
zero: 65 MB in every process that detects a language, a worker's largest item after the NER model. Here an
n-gram seen in fewer than `DENSE_FROM` languages keeps only its non-zero pairs, flattened (``(index,
probability, index, probability, ...)``), and the detector multiplies the other languages by the bare smoothing
weight. The arithmetic is langdetect's, operation for operation (``weight + 0.0`` is ``weight``), so every
probability, and so every answer, is the same (`tests/test_language.py` compares them); detection takes as long
(8.1 s for the 4,500 dev sentences either way).
"""

from __future__ import annotations

import json
from pathlib import Path

from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException

DENSE_FROM = 4
"""Languages from which an n-gram keeps langdetect's full row: the common n-grams, which detection draws most,
update faster from it (1.8 µs against 3.1 µs sparse), and the 5,600 of them cost 3 MB."""


def profile_files(profile_directory: str = PROFILES_DIRECTORY) -> list[Path]:
    """langdetect's profile files, in the order its `load_profile` reads them; each is named by its language."""
    return [path for path in Path(profile_directory).iterdir() if not path.name.startswith(".") and path.is_file()]


class SparseDetector(Detector):
    def _update_lang_prob(self, prob: list[float], word: str | None, alpha: float) -> bool:
        """langdetect's update, ``prob[i] *= weight + p[i]`` for every language; over a sparse row, the row's
        languages by ``weight + p`` and the others by ``weight`` (that is, ``weight + 0.0``)."""
        if word is None or word not in self.word_lang_prob_map:
            return False
        weight = alpha / self.BASE_FREQ
        row = self.word_lang_prob_map[word]
        if isinstance(row, list):
            for index in range(len(prob)):
                prob[index] *= weight + row[index]
            return True
        updated = [(row[at], prob[row[at]] * (weight + row[at + 1])) for at in range(0, len(row), 2)]
        prob[:] = [value * weight for value in prob]
        for index, value in updated:
            prob[index] = value
        return True


class SparseDetectorFactory(DetectorFactory):
    def load_profile(self, profile_directory: str = PROFILES_DIRECTORY) -> None:
        """langdetect's `load_profile` and `add_profile` (the same files in the same order, the same
        probabilities), writing sparse rows."""
        rows: dict[str, list[int | float]] = {}
        profiles = profile_files(profile_directory)
        for index, path in enumerate(profiles):
            profile = json.loads(path.read_text(encoding="utf-8"))
            self.langlist.append(profile["name"])
            n_words = profile["n_words"]
            for word, count in profile["freq"].items():
                row = rows.setdefault(word, [])
                if 1 <= len(word) <= 3 and count:
                    row += (index, 1.0 * count / n_words[len(word) - 1])
        self.word_lang_prob_map = {word: tuple(row) if len(row) < 2 * DENSE_FROM else _dense(row, len(profiles))
                                   for word, row in rows.items()}

    def _create_detector(self) -> SparseDetector:
        if not self.langlist:
            raise LangDetectException(ErrorCode.NeedLoadProfileError, "Need to load profiles.")
        return SparseDetector(self)


def _dense(row: list[int | float], languages: int) -> list[float]:
    dense = [0.0] * languages
    for at in range(0, len(row), 2):
        dense[int(row[at])] = float(row[at + 1])
    return dense
