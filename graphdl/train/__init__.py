"""Training loop: :class:`Trainer` (the tutorials' ``Runner``), its callbacks and history."""

from graphdl.train.callbacks import CallbackList, History
from graphdl.train.progress import TextBar, progress_bar
from graphdl.train.trainer import Trainer, TrainingDiverged

__all__ = ["CallbackList", "History", "TextBar", "Trainer", "TrainingDiverged", "progress_bar"]
