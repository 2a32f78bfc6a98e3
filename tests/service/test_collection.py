"""service.collection on its own: the demo data sets it serves."""

import pytest

from service import collection


def test_the_demo_data_is_read_once_and_shared_read_only():
    X, y, names = collection.dataset("diabetes")
    assert collection.dataset("diabetes")[0] is X and X.shape == (442, len(names))
    with pytest.raises(ValueError):
        X[0, 0] = 1.0
