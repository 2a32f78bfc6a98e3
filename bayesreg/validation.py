"""The core's input rules as public API: the numeric bounds of the data and parameters
(with the reason for each) and the checks a front end can run before fitting, so that the
service refuses at its door exactly what the estimators refuse."""

from ._validation import (BOUNDS, RANGES, REASONS, SEED_MAX, Bounds, InputError, Range,
                          check_expected_nonzero, check_names, check_noise_dof,
                          check_sigma_resolved)

__all__ = ["BOUNDS", "RANGES", "REASONS", "SEED_MAX", "Bounds", "InputError", "Range",
           "check_expected_nonzero", "check_names", "check_noise_dof", "check_sigma_resolved"]
