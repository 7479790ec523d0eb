"""Tail-index estimators, distribution fits, the KS test and the runs protocol.

``from sgdtails.estimators import hill, mmo, student_t`` gives the common entry points; the modules are
:mod:`~sgdtails.estimators.tailindex` (Hill, moments, Pickands, MMO), :mod:`~sgdtails.estimators.fits`
(Student-t, alpha-stable, QQ, bootstrap KS), :mod:`~sgdtails.estimators.protocol` (the measurement
protocol over independent runs) and :mod:`~sgdtails.estimators.accuracy` (Monte Carlo accuracy study).
"""

from sgdtails.estimators.fits import (
    KSResult,
    QQData,
    StableFit,
    StudentTFit,
    alpha_stable,
    ks_test,
    qq_data,
    student_t,
)
from sgdtails.estimators.protocol import ProtocolResult, measure_tail_index
from sgdtails.estimators.tailindex import (
    METHODS,
    TailIndexEstimate,
    double_bootstrap_k,
    estimate,
    hill,
    hill_curve,
    mmo,
    moments,
    pickands,
)

__all__ = [
    "METHODS",
    "KSResult",
    "ProtocolResult",
    "QQData",
    "StableFit",
    "StudentTFit",
    "TailIndexEstimate",
    "alpha_stable",
    "double_bootstrap_k",
    "estimate",
    "hill",
    "hill_curve",
    "ks_test",
    "measure_tail_index",
    "mmo",
    "moments",
    "pickands",
    "qq_data",
    "student_t",
]
