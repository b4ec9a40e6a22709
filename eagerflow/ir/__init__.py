"""The graph IR: types, graph, printer, parser, verifier. It knows no particular op."""
from .graph import Const, Graph, Node, Value
from .parser import parse_graph
from .printer import print_graph
from .types import TensorType, parse_type
from .verify import verify

__all__ = ["Const", "Graph", "Node", "Value", "TensorType", "parse_graph", "parse_type",
           "print_graph", "verify"]
