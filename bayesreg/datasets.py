"""Embedded demo data (shipped inside scikit-learn; nothing is downloaded)."""

from __future__ import annotations

import pandas as pd
from sklearn import datasets

__all__ = ["load_diabetes"]


def load_diabetes(scaled: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """The diabetes data of Efron et al. (2004): 442 patients, 10 features, disease progression.

    With ``scaled`` (default) every column is centred with unit Euclidean norm, as in the
    LARS paper and Park & Casella (2008).
    """
    data = datasets.load_diabetes(as_frame=True, scaled=scaled)
    return data.data, data.target.rename("progression")
