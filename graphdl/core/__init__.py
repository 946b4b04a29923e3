"""The engine core: nodes, the lazy interpreter, graphs, gradient checking, anomaly mode."""
