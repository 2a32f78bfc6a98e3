import warnings

import numpy as np
import pytest

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message=".*BLAS.*")


@pytest.fixture(scope="session")
def diabetes():
    from bayesreg import load_diabetes

    return load_diabetes()


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
