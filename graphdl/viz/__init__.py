"""Visualisation: graph pictures (:func:`to_dot`, :func:`render`), training animations
(:class:`TrainingRecorder` records while training, :class:`Animator` replays), the
interactive explorer page (:func:`explore`), the notebook widget that follows training
live (:class:`LiveView`, extra ``graphdl[notebook]``) and plots."""

from typing import TYPE_CHECKING, Any

from graphdl.viz.animator import Animator, ffmpeg_available
from graphdl.viz.dot import to_dot
from graphdl.viz.explorer import ExplorerPage, explore
from graphdl.viz.recorder import Snapshot, TrainingRecorder
from graphdl.viz.render import GraphvizMissingWarning, dot_available, render, svg_text
from graphdl.viz.run_recorder import RunRecorder

if TYPE_CHECKING:
    from graphdl.viz.live import LiveView

__all__ = [
    "Animator",
    "ExplorerPage",
    "GraphvizMissingWarning",
    "LiveView",
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


def __getattr__(name: str) -> Any:
    # LiveView is imported on first use: importing anywidget (and ipywidgets) takes a second or more.
    if name == "LiveView":
        from graphdl.viz.live import LiveView

        return LiveView
    raise AttributeError(f"module 'graphdl.viz' has no attribute {name!r}")
