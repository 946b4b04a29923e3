"""The former name of :mod:`graphdl.tutorial_net`, kept so that ``import graphdl.seednet``
and ``from graphdl.seednet import build_seed_net`` still work: both give that module."""

import sys

import graphdl.tutorial_net

sys.modules[__name__] = graphdl.tutorial_net
