"""Visualisation: graph pictures (:func:`to_dot`, :func:`render`), training animations
(:class:`TrainingRecorder`, :class:`Animator`) and plots."""

from graphdl.viz.dot import to_dot
from graphdl.viz.render import GraphvizMissingWarning, dot_available, render, svg_text

__all__ = ["GraphvizMissingWarning", "dot_available", "render", "svg_text", "to_dot"]
