"""Training: the run machinery (``kaudio.fit``), the registered trainers (``train.type``), evaluation,
λ grid and seeds.

Importing this package registers the ``train`` section types. Evaluation, tuning and plotting are
imported on use (``kaudio.training.evaluate``, ``.tuning``, ``.attention_plot``).
"""
from kaudio.training.trainer import COMMON_FIELDS, Trainer, trainer_for
from kaudio.training.supervised import SupervisedTrainer
from kaudio.training.sed import SEDTrainer
from kaudio.training.kd import KDTrainer
from kaudio.training.avc import AVCTrainer
from kaudio.training.ofa import OfaTrainer
from kaudio.training.model import SupervisedModel
from kaudio.training.schedules import WarmupSchedule
from kaudio.training.fit import FitResult, fit

__all__ = ["AVCTrainer", "COMMON_FIELDS", "FitResult", "KDTrainer", "OfaTrainer", "SEDTrainer", "SupervisedModel", "SupervisedTrainer", "Trainer", "WarmupSchedule", "fit",
           "trainer_for"]
