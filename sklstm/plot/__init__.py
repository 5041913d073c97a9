"""Scikit-learn style displays for sklstm models (needs matplotlib)."""

from sklstm.plot._loss_curve import LossCurveDisplay

__all__ = ["LossCurveDisplay"]
