import numpy as np
import pytest


@pytest.fixture(scope="session")
def diabetes():
    from bayesreg import load_diabetes

    return load_diabetes()


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
