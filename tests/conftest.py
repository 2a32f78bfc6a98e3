import numpy as np
import pytest


@pytest.fixture(scope="session")
def diabetes():
    from bayesreg import load_diabetes

    return load_diabetes()


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.fixture(scope="module")
def sine_data():
    """200 points of sin(x) on [-3, 3] with noise sd 0.02: MC dropout's test data."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(200, 1))
    y = np.sin(X[:, 0]) + 0.02 * rng.normal(size=200)
    return X, y


@pytest.fixture(scope="module")
def ridge_data():
    """120 x 5 columns of different scales, a known ridge truth with intercept 4, noise 1.3."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((120, 5)) * [1, 2, 0.5, 1, 3]
    y = X @ np.array([1.0, -0.5, 2.0, 0.0, 0.3]) + 4 + 1.3 * rng.standard_normal(120)
    return X, y
