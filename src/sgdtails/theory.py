"""The theory of Part I in one namespace.

Re-exports the paper's bounds (:mod:`sgdtails.linear.bounds`), this project's radial derivation
(:mod:`sgdtails.linear.radial`), the exact SGD index (:mod:`sgdtails.linear.sgd_index`) and the
Kesten machinery (:mod:`sgdtails.kesten`).
"""

from sgdtails.kesten import KestenIndex, KestenLambda, kesten_index_mc, kesten_lambda_mc
from sgdtails.linear.bounds import JKRBounds, jkr_bounds, jkr_bounds_hessian, paper_units, rho_star_equation
from sgdtails.linear.radial import (
    RadialRange,
    hsgd_em_index,
    hsgd_isotropic_index,
    hsgd_isotropic_scale,
    hsgd_moment_generator,
    hsgd_moment_threshold,
    hsgd_phi,
    lr_threshold,
    radial_index_range,
)
from sgdtails.linear.sgd_index import (
    isotropic_one_step_lambda,
    linear_sgd_random_matrix,
    sgd_alpha2_gamma,
    sgd_tail_index,
)

__all__ = [
    "JKRBounds",
    "jkr_bounds",
    "jkr_bounds_hessian",
    "paper_units",
    "rho_star_equation",
    "KestenIndex",
    "KestenLambda",
    "RadialRange",
    "hsgd_em_index",
    "hsgd_isotropic_index",
    "hsgd_isotropic_scale",
    "hsgd_moment_generator",
    "hsgd_moment_threshold",
    "hsgd_phi",
    "isotropic_one_step_lambda",
    "kesten_index_mc",
    "kesten_lambda_mc",
    "linear_sgd_random_matrix",
    "lr_threshold",
    "radial_index_range",
    "sgd_alpha2_gamma",
    "sgd_tail_index",
]
