"""Graph validation: every rule of a saved graph, each refusal naming the node and the
problem."""

import copy

import pytest

from campaigns.flows import NODE_TYPES, GraphError, parse_graph
from campaigns.services.campaigns import graph_check
from segments.models import Segment
from segments.rules import condition
from tests.campaigns.factories import (
    CouponDefinitionFactory,
    MessageTemplateFactory,
    chain,
    edge,
    node,
)

TRIGGER = node("start", "event", name="cart_add")


def problems(graph) -> dict[str, str]:
    with pytest.raises(GraphError) as caught:
        parse_graph(graph)
    return {p.path: p.message for p in caught.value.problems}


def test_a_simple_chain_is_valid():
    graph = parse_graph(chain(TRIGGER, node("w", "wait", hours=2), node("end", "exit")))

    assert graph.first_node == "w"
    assert graph.next_node("w", "next") == "end"


def test_the_input_is_never_changed():
    data = chain(TRIGGER, node("w", "wait", hours=2), node("end", "exit"))
    before = copy.deepcopy(data)

    parse_graph(data)

    assert data == before


def test_every_registered_node_type_has_a_schema_and_ports():
    for node_type in NODE_TYPES.values():
        assert node_type.config.model_json_schema()["type"] == "object"
        assert isinstance(node_type.ports(None if node_type.key == "split" else
                                          node_type.config.model_construct()), tuple)


def test_no_trigger_is_refused():
    found = problems(chain(node("w", "wait", hours=1), node("end", "exit")))

    assert found["nodes"] == "a graph has exactly one trigger (found: none)"


def test_two_triggers_are_refused():
    graph = chain(TRIGGER, node("end", "exit"))
    graph["nodes"].append(node("other", "order_placed"))
    graph["edges"].append(edge("other", "end"))

    assert "exactly one trigger (found: start, other)" in problems(graph)["nodes"]


def test_an_unconnected_port_names_the_node_and_the_port():
    graph = chain(TRIGGER, node("wait-event", "wait_for_event", kind="order",
                                timeout={"days": 3}),
                  node("end", "exit"), ports={"wait-event": "happened"})

    assert problems(graph) == {"nodes[wait-event]": "port 'timeout' is not connected (connect "
                                                    "it to an Exit node to end there)"}


def test_an_unreachable_node_is_refused():
    graph = chain(TRIGGER, node("end", "exit"))
    graph["nodes"] += [node("lost", "wait", hours=1), node("end2", "exit")]
    graph["edges"].append(edge("lost", "end2"))

    assert problems(graph) == {"nodes[lost]": "not reachable from the trigger",
                               "nodes[end2]": "not reachable from the trigger"}


def test_a_loop_without_a_wait_is_refused_and_one_with_a_wait_is_fine():
    loop = {"nodes": [TRIGGER, node("tag", "add_tag", tag="x"),
                      node("check", "condition", rule=condition("city", "==", "Paris")),
                      node("end", "exit")],
            "edges": [edge("start", "tag"), edge("tag", "check"),
                      edge("check", "tag", "no"), edge("check", "end", "yes")]}
    assert problems(loop) == {"nodes[check]": "a loop must pass through a wait: "
                                              "check -> tag -> check"}

    loop["nodes"].append(node("pause", "wait", days=1))
    loop["edges"] = [edge("start", "tag"), edge("tag", "check"), edge("check", "pause", "no"),
                     edge("pause", "tag"), edge("check", "end", "yes")]
    assert parse_graph(loop).next_node("check", "no") == "pause"


@pytest.mark.parametrize(("config", "path", "message"), [
    ({"hours": 0}, "nodes[w].config", "the duration must be between 0:01:00 and 365 days"),
    ({"hours": -1}, "nodes[w].config.hours", "Input should be greater than or equal to 0"),
    ({"hours": 1, "weeks": 2}, "nodes[w].config.weeks", "Extra inputs are not permitted"),
])
def test_a_bad_config_names_the_node_and_the_key(config, path, message):
    found = problems(chain(TRIGGER, {"id": "w", "type": "wait", "config": config},
                           node("end", "exit")))

    assert found == {path: message}


def test_an_unknown_node_type_lists_the_known_ones():
    found = problems(chain(TRIGGER, node("x", "teleport"), node("end", "exit")))

    assert found["nodes[x].type"].startswith("unknown node type 'teleport' (known: ")


def test_edges_must_name_real_nodes_and_ports():
    graph = chain(TRIGGER, node("end", "exit"))
    graph["edges"] += [edge("start", "ghost"), edge("end", "start"), {"source": "start"}]

    found = problems(graph)

    assert found["edges[1]"] == "target 'ghost' is not a node of this graph"
    assert found["edges[2]"] == "node 'end' ends the journey; no edge may leave it"
    assert found["edges[3]"] == "an edge is {source, port, target}"


def test_a_port_connected_twice_is_refused():
    graph = chain(TRIGGER, node("a", "exit"))
    graph["nodes"].append(node("b", "exit"))
    graph["edges"].append(edge("start", "b"))

    assert problems(graph) == {"nodes[start]": "port 'next' is connected more than once"}


def test_duplicate_node_ids_are_refused():
    graph = chain(TRIGGER, node("end", "exit"))
    graph["nodes"].append(node("end", "exit"))

    assert problems(graph)["nodes[end]"] == "another node has the same id"


def test_a_condition_with_a_bad_rule_names_the_rule_part():
    found = problems(chain(TRIGGER, node("c", "condition", rule={"==": [{"var": "citty"}, 1]}),
                           node("end", "exit"), ports={"c": "yes"}))

    assert found["nodes[c].config"] == 'rule.==: unknown field "citty"'


def test_split_branches_must_add_up_to_100():
    split = node("ab", "split", branches=[{"port": "A", "percent": 50},
                                          {"port": "B", "percent": 40}])

    found = problems(chain(TRIGGER, split, node("end", "exit"), ports={"ab": "A"}))

    assert found == {"nodes[ab].config.branches":
                     "Value error, the branches' percentages must add up to 100"}


@pytest.mark.django_db
def test_references_must_exist_and_fit():
    sms = MessageTemplateFactory(channel="sms")
    shared = CouponDefinitionFactory(shared_code="SUMMER20")
    graph = chain(node("start", "segment_entered", segment=999),
                  node("coupon", "issue_coupon", definition=shared.pk),
                  node("mail", "send_message", channel="email", template=sms.pk),
                  node("end", "exit"), ports={"coupon": "issued"})
    graph["edges"].append(edge("coupon", "end", "not_issued"))

    with pytest.raises(GraphError) as caught:
        graph_check(graph)

    assert {p.path: p.message for p in caught.value.problems} == {
        "nodes[start].config.segment": "segment 999 does not exist",
        "nodes[coupon].config.definition":
            f"coupon definition {shared.pk} is a shared one; this node needs a(n) personal one",
        "nodes[mail].config.template":
            f"message template {sms.pk} is a sms one; this node needs a(n) email one",
    }


@pytest.mark.django_db
def test_a_condition_referring_to_a_missing_segment_is_refused():
    kept = Segment.objects.create(name="kept", rule=condition("city", "==", "Paris"))
    rule = {"or": [{"in_segment": [{"var": "segment"}, kept.pk]},
                   {"in_segment": [{"var": "segment"}, kept.pk + 1]}]}
    graph = chain(TRIGGER, node("c", "condition", rule=rule), node("end", "exit"),
                  ports={"c": "yes"})
    graph["edges"].append(edge("c", "end", "no"))

    with pytest.raises(GraphError) as caught:
        graph_check(graph)

    assert [p.message for p in caught.value.problems] == [
        f"segment {kept.pk + 1} does not exist"]


def test_the_node_types_doc_is_up_to_date():
    import io

    from django.core.management import call_command

    # Fails with "run `python manage.py describe_flow_nodes`" when the file is stale.
    call_command("describe_flow_nodes", "--check", stdout=io.StringIO())
