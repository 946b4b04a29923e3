"""Visualisation: graph pictures (:func:`to_dot`, :func:`render`), training animations
(:class:`TrainingRecorder` records while training, :class:`Animator` replays), the
interactive explorer page (:func:`explore`) and plots."""

from graphdl.viz.animator import Animator, ffmpeg_available
from graphdl.viz.dot import to_dot
from graphdl.viz.explorer import ExplorerPage, explore
from graphdl.viz.recorder import Snapshot, TrainingRecorder
from graphdl.viz.render import GraphvizMissingWarning, dot_available, render, svg_text
from graphdl.viz.run_recorder import RunRecorder

__all__ = [
    "Animator",
    "ExplorerPage",
    "GraphvizMissingWarning",
    "RunRecorder",
    "Snapshot",
    "TrainingRecorder",
    "dot_available",
    "explore",
    "ffmpeg_available",
    "render",
    "svg_text",
    "to_dot",
]
