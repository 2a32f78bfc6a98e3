"""The core's input rules as public API: the numeric bounds of the data and parameters
(with the reason for each) and the checks a front end can run before fitting, so that the
service refuses at its door exactly what the estimators refuse, with the same messages.

The data checks name the first bad cell (``X[2][0]``, ``y[5]``, ``feature_names[1]``) in
``InputError.field``: ``check_Xy`` (shapes, rectangular rows, finite numbers within
``BOUNDS.data``, matching lengths), ``check_X`` (the same, and the width a fit expects) and
``check_feature_names`` (one per column, unique, storable); ``resolve_feature_names`` (the
names a fit gives X's columns)."""

from ._validation import (BOUNDS, RANGES, REASONS, SEED_MAX, Bounds, InputError, Range,
                          check_expected_nonzero, check_feature_names, check_names,
                          check_noise_dof, check_sigma_resolved, check_X, check_Xy,
                          resolve_feature_names)

__all__ = ["BOUNDS", "RANGES", "REASONS", "SEED_MAX", "Bounds", "InputError", "Range",
           "check_X", "check_Xy", "check_expected_nonzero", "check_feature_names",
           "check_names", "check_noise_dof", "check_sigma_resolved", "resolve_feature_names"]
