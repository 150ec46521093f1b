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


def cross_validated_spearman(texts: Sequence[str], levels: Sequence[float], folds: int = 5, seed: int = 0) -> dict:
    """Held-out Spearman correlation with the true levels for the model and for the length baseline."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    texts, level_array = list(texts), np.asarray(levels, dtype=float)
    predicted = np.zeros(len(texts))
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(texts):
        model = fit([texts[i] for i in train], level_array[train])
        predicted[test] = model.predict([texts[i] for i in test])
    lengths = np.array([len(t) for t in texts], dtype=float)
    return {
        "model_spearman": round(float(spearmanr(predicted, level_array).statistic), 4),
        "length_spearman": round(float(spearmanr(lengths, level_array).statistic), 4),
        "folds": folds,
        "n": len(texts),
    }


def save(model, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(pickle.dumps(model))


def load(path: str | Path):
    return pickle.loads(Path(path).read_bytes())
