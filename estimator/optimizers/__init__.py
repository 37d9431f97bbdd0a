"""Optimizers TensorFlow has and ``torch.optim`` lacks, as ``torch.optim.Optimizer`` classes."""

from estimator.optimizers.ftrl import Ftrl

__all__ = ["Ftrl"]
