"""The graph compiler: ``graphdl.compile(target, inputs=[...])`` turns a graph into one
straight-line Python function generated from the operators' own formulas."""

from graphdl.compiler.compiled import CompiledGraph, compile

__all__ = ["CompiledGraph", "compile"]
