"""Builders that create ordinary scalar nodes: neurons, dense layers, MLPs, dropout,
layer normalisation, and loss heads. See :mod:`graphdl.nn.layers` for the naming scheme."""

from graphdl.nn.activations import resolve_activation
from graphdl.nn.dropout import Dropout, draw_masks, dropout_nodes, identity_masks
from graphdl.nn.dropout_layer import DropoutLayer
from graphdl.nn.gradients import batch_weight_gradient_norms
from graphdl.nn.layers import MLP, Dense, Neuron
from graphdl.nn.losses import LOSSES, LossHead, attach_loss
from graphdl.nn.module import Model, Module, unique_names
from graphdl.nn.norm import BatchNorm, LayerNorm, batch_norm_layers

__all__ = [
    "BatchNorm",
    "LOSSES",
    "MLP",
    "Dense",
    "Dropout",
    "DropoutLayer",
    "LayerNorm",
    "LossHead",
    "Model",
    "Module",
    "Neuron",
    "attach_loss",
    "batch_weight_gradient_norms",
    "batch_norm_layers",
    "draw_masks",
    "dropout_nodes",
    "identity_masks",
    "resolve_activation",
    "unique_names",
]
