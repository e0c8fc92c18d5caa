"""Campaign graphs: the node-type registry, the graph validator, and one executor per node
type (pure of Celery and DRF; actions call campaigns.services for their writes).

    graph = parse_graph(data, references_exist=...)   # GraphError naming each bad node
    NODE_TYPES["wait"].execute(node_id, config, walkers, Run(now))
"""

from campaigns.flows import actions as _actions  # noqa: F401 - registers the node types
from campaigns.flows import logic as _logic  # noqa: F401
from campaigns.flows import triggers as _triggers  # noqa: F401
from campaigns.flows import waits as _waits  # noqa: F401
from campaigns.flows.graph import Graph, GraphError, Node, Problem, parse_graph
from campaigns.flows.registry import (
    NODE_TYPES,
    Category,
    End,
    Go,
    Hold,
    NodeType,
    Outcome,
    Reference,
    Run,
    Walker,
    describe,
)

__all__ = [
    "NODE_TYPES", "Category", "End", "Go", "Graph", "GraphError", "Hold", "Node", "NodeType",
    "Outcome", "Problem", "Reference", "Run", "Walker", "describe", "parse_graph",
]
