"""The data of Part I in one namespace: online Gaussian designs and finite data sets.

Re-exports :mod:`sgdtails.linear.designs` and :mod:`sgdtails.linear.datasets`.
"""

from sgdtails.linear.datasets import (
    JKR_DATASETS,
    JKR_PUBLISHED,
    FiniteDataset,
    JKRPublished,
    JKRSettings,
    check_jkr_names,
    digits_features,
    jkr_dataset,
    jkr_settings,
    min_max,
)
from sgdtails.linear.designs import GaussianDesign, check_spectrum, gaussian_design, isotropic, power_law

__all__ = [
    "JKR_DATASETS",
    "JKR_PUBLISHED",
    "FiniteDataset",
    "JKRPublished",
    "JKRSettings",
    "jkr_dataset",
    "jkr_settings",
    "min_max",
    "GaussianDesign",
    "check_jkr_names",
    "check_spectrum",
    "digits_features",
    "gaussian_design",
    "isotropic",
    "power_law",
]
