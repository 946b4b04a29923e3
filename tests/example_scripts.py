"""The former name of :mod:`experiment_scripts`, for tests written against it on other branches
(``load_example`` is ``load_experiment``); new tests import ``experiment_scripts``."""

from experiment_scripts import load_experiment as load_example
from experiment_scripts import node_fills

__all__ = ["load_example", "node_fills"]
