"""Matplotlib figures of spectra, decay laws and learning curves.

A facade: the code lives in :mod:`eigencalc.io.plots`;
this module re-exports its public names so that user code keeps working.
"""

from .io.plots import (  # noqa: F401
    plot_spectrum, plot_class_heatmap, plot_decay, plot_learning_curve,
)

__all__ = ['plot_spectrum', 'plot_class_heatmap', 'plot_decay', 'plot_learning_curve']
