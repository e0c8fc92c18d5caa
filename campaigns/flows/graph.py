"""A campaign graph: JSON as the canvas saves it, parsed and validated into a Graph.

    {"nodes": [{"id": "start", "type": "segment_entered", "config": {"segment": 3},
                "position": {"x": 0, "y": 0}}, ...],
     "edges": [{"source": "start", "port": "next", "target": "coupon"}, ...]}

Rules: exactly one trigger; node ids unique; every node reachable from the trigger; every port
of every node connected to exactly one node (an Exit node ends a path explicitly); no edge into
the trigger or out of an exit; no cycle that does not pass through a wait; every config valid
against its type's schema; everything a config refers to exists. Each problem names the node.
"""

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from campaigns.flows.registry import NODE_TYPES, Category, NodeType, Reference

NODE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_NODES = 500
NODE_KEYS = {"id", "type", "config", "position", "label"}
EDGE_KEYS = {"id", "source", "port", "target"}


@dataclasses.dataclass(frozen=True)
class Problem:
    path: str  # e.g. "nodes[wait-1].config.days", "edges[3]"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class GraphError(ValueError):
    """A graph that cannot be saved or published; `problems` name each bad part."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Node:
    id: str
    type: NodeType
    config: Any  # the type's validated config model


@dataclasses.dataclass(frozen=True)
class Graph:
    nodes: dict[str, Node]
    # (node id, port) -> target node id
    edges: dict[tuple[str, str], str]

    @property
    def trigger(self) -> Node:
        return next(n for n in self.nodes.values() if n.type.category == Category.TRIGGER)

    def next_node(self, node_id: str, port: str) -> str | None:
        return self.edges.get((node_id, port))

    @property
    def first_node(self) -> str:
        """Where a journey stands once it entered: the trigger's one way out."""
        return self.edges[(self.trigger.id, self.trigger.type.ports(self.trigger.config)[0])]


ReferenceCheck = Callable[[list[Reference]], dict[Reference, str]]


def parse_graph(data: Any, *, references_exist: ReferenceCheck | None = None) -> Graph:
    """The validated graph, or GraphError naming every problem found. `references_exist`
    maps each bad reference to what is wrong with it (the database check: it does not
    exist, or is not what the node needs); without it, references are not checked. Never
    mutates `data`."""
    problems: list[Problem] = []
    if not isinstance(data, dict) or set(data) - {"nodes", "edges", "viewport"}:
        raise GraphError([Problem("", 'a graph is {"nodes": [...], "edges": [...]}')])
    nodes, broken = _nodes(data.get("nodes"), problems)
    edges = _edges(data.get("edges"), nodes, broken, problems)
    if not problems:
        _structure(nodes, edges, problems)
    if not problems and references_exist is not None:
        _references(nodes, references_exist, problems)
    if problems:
        raise GraphError(problems)
    return Graph(nodes=nodes, edges=edges)


def _nodes(raw: Any, problems: list[Problem]) -> tuple[dict[str, Node], set[str]]:
    """The valid nodes by id, and the ids of the invalid ones (their edges are not checked,
    so one bad config gives one problem)."""
    if not isinstance(raw, list) or not raw:
        problems.append(Problem("nodes", "a list of at least one node is required"))
        return {}, set()
    if len(raw) > MAX_NODES:
        problems.append(Problem("nodes", f"at most {MAX_NODES} nodes"))
        return {}, set()
    nodes: dict[str, Node] = {}
    broken: set[str] = set()
    for index, item in enumerate(raw):
        node = _node(item, f"nodes[{index}]", nodes, problems)
        if node is not None:
            nodes[node.id] = node
        elif isinstance(item, dict) and isinstance(item.get("id"), str):
            broken.add(item["id"])
    return nodes, broken


def _node(item: Any, where: str, seen: dict[str, Node], problems: list[Problem]) -> Node | None:
    if not isinstance(item, dict):
        problems.append(Problem(where, "a node is an object with id, type and config"))
        return None
    node_id = item.get("id")
    if not isinstance(node_id, str) or not NODE_ID.match(node_id):
        problems.append(Problem(f"{where}.id", "1-64 letters, digits, '_', '-', '.' or ':'"))
        return None
    where = f"nodes[{node_id}]"
    if node_id in seen:
        problems.append(Problem(where, "another node has the same id"))
        return None
    unknown = sorted(set(item) - NODE_KEYS)
    if unknown:
        problems.append(Problem(where, f"unknown keys: {', '.join(unknown)}"))
    node_type = NODE_TYPES.get(item.get("type"))
    if node_type is None:
        problems.append(Problem(f"{where}.type", f"unknown node type {item.get('type')!r} "
                                                 f"(known: {', '.join(NODE_TYPES)})"))
        return None
    try:
        config = node_type.config.model_validate(item.get("config") or {})
    except ValidationError as exc:
        problems.extend(Problem(_config_path(where, error["loc"]), error["msg"])
                        for error in exc.errors())
        return None
    problems.extend(Problem(f"{where}.config", message) for message in node_type.check(config))
    return Node(id=node_id, type=node_type, config=config)


def _config_path(where: str, loc: tuple) -> str:
    parts = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return f"{where}.config{parts}"


def _edges(raw: Any, nodes: dict[str, Node], broken: set[str], problems: list[Problem]
           ) -> dict[tuple[str, str], str]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        problems.append(Problem("edges", "a list of edges is required"))
        return {}
    edges: dict[tuple[str, str], str] = {}
    for index, item in enumerate(raw):
        where = f"edges[{index}]"
        if not isinstance(item, dict) or set(item) - EDGE_KEYS \
                or not all(isinstance(item.get(key), str) for key in ("source", "target")):
            problems.append(Problem(where, "an edge is {source, port, target}"))
            continue
        if item["source"] in broken or item["target"] in broken:
            continue
        source, target = nodes.get(item["source"]), nodes.get(item["target"])
        port = item.get("port") or _only_port(source)
        problem = _edge_problem(source, port, target, item)
        if problem:
            problems.append(Problem(where, problem))
        elif (source.id, port) in edges:
            problems.append(Problem(f"nodes[{source.id}]",
                                    f"port {port!r} is connected more than once"))
        else:
            edges[(source.id, port)] = target.id
    return edges


def _only_port(node: Node | None) -> str | None:
    if node is None:
        return None
    ports = node.type.ports(node.config)
    return ports[0] if len(ports) == 1 else None


def _edge_problem(source: Node | None, port: str | None, target: Node | None,
                  item: dict) -> str:
    if source is None:
        return f"source {item['source']!r} is not a node of this graph"
    if target is None:
        return f"target {item['target']!r} is not a node of this graph"
    ports = source.type.ports(source.config)
    if not ports:
        return f"node {source.id!r} ends the journey; no edge may leave it"
    if port is None:
        return f"node {source.id!r} has several ports; say which ({', '.join(ports)})"
    if port not in ports:
        return f"node {source.id!r} has no port {port!r} (ports: {', '.join(ports)})"
    if target.type.category == Category.TRIGGER:
        return f"no edge may lead into the trigger {target.id!r}"
    if target.id == source.id:
        return f"node {source.id!r} is connected to itself"
    return ""


def _structure(nodes: dict[str, Node], edges: dict[tuple[str, str], str],
               problems: list[Problem]) -> None:
    triggers = [n for n in nodes.values() if n.type.category == Category.TRIGGER]
    if len(triggers) != 1:
        names = ", ".join(n.id for n in triggers) or "none"
        problems.append(Problem("nodes", f"a graph has exactly one trigger (found: {names})"))
        return
    for node in nodes.values():
        for port in node.type.ports(node.config):
            if (node.id, port) not in edges:
                problems.append(Problem(
                    f"nodes[{node.id}]",
                    f"port {port!r} is not connected (connect it to an Exit node to end there)"))
    reachable = _reachable(triggers[0].id, edges)
    problems.extend(Problem(f"nodes[{node_id}]", "not reachable from the trigger")
                    for node_id in nodes if node_id not in reachable)
    cycle = _cycle_without_wait(nodes, edges)
    if cycle:
        problems.append(Problem(f"nodes[{cycle[0]}]",
                                "a loop must pass through a wait: " + " -> ".join(cycle)))


def _reachable(start: str, edges: dict[tuple[str, str], str]) -> set[str]:
    successors = _successors(edges)
    seen, stack = {start}, [start]
    while stack:
        for following in successors.get(stack.pop(), ()):
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return seen


def _successors(edges: dict[tuple[str, str], str]) -> dict[str, list[str]]:
    successors: dict[str, list[str]] = {}
    for (source, _port), target in sorted(edges.items()):
        successors.setdefault(source, []).append(target)
    return successors


def _cycle_without_wait(nodes: dict[str, Node], edges: dict[tuple[str, str], str]
                        ) -> list[str] | None:
    """A loop of nodes none of which waits (the runner would spin on it), or None."""
    successors = _successors({key: target for key, target in edges.items()
                              if nodes[key[0]].type.category != Category.WAIT})
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        path.append(node_id)
        for following in successors.get(node_id, ()):
            if state.get(following) == 1:
                return [*path[path.index(following):], following]
            if following not in state:
                found = visit(following)
                if found:
                    return found
        path.pop()
        state[node_id] = 2
        return None

    for node_id in sorted(nodes):
        if node_id not in state:
            found = visit(node_id)
            if found:
                return found
    return None


def _references(nodes: dict[str, Node], references_exist: ReferenceCheck,
                problems: list[Problem]) -> None:
    by_node = {node.id: node.type.references(node.config) for node in nodes.values()}
    bad = references_exist([ref for refs in by_node.values() for ref in refs])
    for node_id, refs in by_node.items():
        problems.extend(Problem(f"nodes[{node_id}].config.{ref.field}", bad[ref])
                        for ref in refs if ref in bad)


def node_ids(graph: Graph, *, category: Category) -> Iterable[str]:
    return (node.id for node in graph.nodes.values() if node.type.category == category)
