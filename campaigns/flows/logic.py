"""Condition and split node types."""

import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from pydantic import Field, field_validator

from campaigns.flows.registry import (
    Category,
    Config,
    Go,
    NodeType,
    Outcome,
    Reference,
    Run,
    Walker,
    fixed_ports,
    register,
)
from customers.models import Customer
from segments.rules import Context, RuleError, compile_node, parse, segment_references
from segments.services.sql import rule_queries

# --- condition ---------------------------------------------------------------------------------


class ConditionConfig(Config):
    rule: dict[str, Any] = Field(description="A segment rule (JsonLogic), checked for the "
                                             "customer when they reach the node; see "
                                             "GET /api/v1/segment-fields/")


def _rule_problems(config: ConditionConfig) -> list[str]:
    try:
        parse(config.rule)
    except RuleError as exc:
        return [f"rule.{problem}" if problem.path else f"rule: {problem.message}"
                for problem in exc.problems]
    return []


def _rule_segments(config: ConditionConfig) -> list[Reference]:
    try:
        return [Reference("segment", pk, "rule") for pk in sorted(segment_references(
            parse(config.rule)))]
    except RuleError:
        return []


def matching_customers(rule: dict[str, Any], customer_ids: Sequence[int], run: Run) -> set[int]:
    """Which of these customers the rule selects now: one query for the whole batch."""
    scope = tuple(sorted(set(customer_ids)))
    with rule_queries():
        q = compile_node(parse(rule), Context.at(run.now, scope=scope))
        return set(Customer.objects.filter(q, pk__in=scope).values_list("pk", flat=True))


def _condition(node_id: str, config: ConditionConfig, walkers: Sequence[Walker], run: Run
               ) -> list[Outcome]:
    yes = matching_customers(config.rule, [w.customer_id for w in walkers], run)
    return [Go("yes" if w.customer_id in yes else "no") for w in walkers]


CONDITION = register(NodeType(
    key="condition", label=_("Condition"), category=Category.LOGIC, config=ConditionConfig,
    ports=fixed_ports("yes", "no"), execute=_condition, check=_rule_problems,
    references=_rule_segments,
    description=_("Checks a segment rule for the customer at that moment: 'yes' or 'no'.")))


# --- random split ------------------------------------------------------------------------------

BUCKETS = 10_000  # percentages to two decimals


PRIME = 2_147_483_647  # 2**31 - 1: products of two residues stay below 2**62 in SQL


def bucket(key: int, salt: int) -> int:
    """A stable pseudo-random bucket in [0, BUCKETS) for `key`: a multiplicative
    congruential hash whose multiplier comes from the salt, so draws under different salts
    are independent (a holdout and an A/B split of the same customers do not line up: with
    a 10% holdout, a 50/50 split keeps 50/50 among the treated). bucket_sql() is the same
    arithmetic in SQL; tests hold the twins together."""
    return ((key % PRIME) * _multiplier(salt) % PRIME) * BUCKETS // PRIME


def bucket_sql(column: str, salt: int) -> str:
    """bucket() as an SQL expression over an integer column (PostgreSQL and SQLite)."""
    return (f"(((CAST({column} AS BIGINT) %% {PRIME}) * {_multiplier(salt)} %% {PRIME}) "
            f"* {BUCKETS} / {PRIME})")


def _multiplier(salt: int) -> int:
    return 1 + salt % (PRIME - 1)


def salt_of(text: str) -> int:
    return zlib.crc32(text.encode())


class Branch(Config):
    port: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", examples=["A"],
                      description="The branch's name, which is its port")
    percent: Decimal = Field(gt=0, le=100, max_digits=5, decimal_places=2,
                             description="Its share of the customers")


class SplitConfig(Config):
    branches: list[Branch] = Field(min_length=2, max_length=10,
                                   description="2 to 10 branches whose shares add up to 100")

    @field_validator("branches")
    @classmethod
    def _sum(cls, branches: list[Branch]) -> list[Branch]:
        if sum(branch.percent for branch in branches) != 100:
            raise ValueError("the branches' percentages must add up to 100")
        if len({branch.port for branch in branches}) != len(branches):
            raise ValueError("each branch needs its own name")
        return branches


def split_port(config: SplitConfig, journey_id: int, node_id: str) -> str:
    """The branch this journey takes: fixed for a journey, so a retry takes the same one."""
    point = bucket(journey_id, salt_of(node_id))
    edge = 0
    for branch in config.branches:
        edge += int(branch.percent * 100)
        if point < edge:
            return branch.port
    return config.branches[-1].port


def _split(node_id: str, config: SplitConfig, walkers: Sequence[Walker], run: Run
           ) -> list[Outcome]:
    return [Go(split_port(config, w.journey_id, node_id)) for w in walkers]


def _split_ports(config: SplitConfig | None) -> tuple[str, ...]:
    if config is None:
        return ("A", "B")
    return tuple(branch.port for branch in config.branches)


SPLIT = register(NodeType(
    key="split", label=_("Random split (A/B)"), category=Category.LOGIC, config=SplitConfig,
    ports=_split_ports, execute=_split,
    description=_("Sends each customer down one branch at random, by the given percentages; "
                  "results compare the branches.")))
