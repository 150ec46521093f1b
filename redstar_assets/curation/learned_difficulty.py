"""A learned difficulty estimator, as the paper used one trained on MATH and Omni-MATH levels:
TF-IDF features of the problem text (words and character n-grams, so LaTeX counts) and a ridge
regression onto the level. Train it on problems with known levels from a source that is not an
evaluation benchmark (MATH train, Omni-MATH); the length of the problem is the baseline it must beat.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from pathlib import Path

_NUMBER = re.compile(r"\d+")


def text_statistics(texts: Sequence[str]):
    """Shape features TF-IDF cannot see: log length in characters and words, LaTeX commands, `$`
    signs, how many numbers and how long the longest one is."""
    import numpy as np

    rows = []
    for t in texts:
        numbers = _NUMBER.findall(t)
        rows.append(
            [
                np.log1p(len(t)),
                np.log1p(len(t.split())),
                t.count("\\"),
                t.count("$"),
                len(numbers),
                np.log1p(max((len(n) for n in numbers), default=0)),
            ]
        )
    return np.asarray(rows, dtype=float)


def make_model(alpha: float = 3.0):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"\\?\w+"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, max_features=50_000),
        make_pipeline(FunctionTransformer(text_statistics), StandardScaler()),
    )
    return make_pipeline(features, Ridge(alpha=alpha))


def fit(texts: Sequence[str], levels: Sequence[float], alpha: float = 3.0):
    return make_model(alpha).fit(list(texts), list(levels))


def save(model, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(pickle.dumps(model))


def load(path: str | Path):
    return pickle.loads(Path(path).read_bytes())
