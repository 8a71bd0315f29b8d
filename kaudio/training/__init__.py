"""Training: ``kaudio.fit`` (spec section ``train``, type ``supervised``), evaluation, λ grid and seeds.

Importing this package registers the ``train`` section type. Evaluation, tuning and plotting are
imported on use (``kaudio.training.evaluate``, ``.tuning``, ``.attention_plot``).
"""
from kaudio.training.spec_section import SupervisedTraining
from kaudio.training.model import HierarchicalTrainer
from kaudio.training.fit import FitResult, WarmupSchedule, fit

__all__ = ["FitResult", "HierarchicalTrainer", "SupervisedTraining", "WarmupSchedule", "fit"]
