"""Eigenlearning curves, learnable classes, real kernel ridge regression (section 7).

A facade: the code lives in :mod:`eigencalc.learn.curves`;
this module re-exports its public names so that user code keeps working.
"""

from .learn.curves import (  # noqa: F401
    TailWarning, ClassLearnability, TargetClass, LearningCurve, learning_curve, Learnable,
    learnable, KRRResult, krr_experiment, TAIL_TOLERANCE,
)

__all__ = ['TailWarning', 'ClassLearnability', 'TargetClass', 'LearningCurve', 'learning_curve', 'Learnable', 'learnable', 'KRRResult', 'krr_experiment', 'TAIL_TOLERANCE']
