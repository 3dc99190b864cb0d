"""Abuse limits: depth, aliases and cost checked once per document (validation is cached), and a
per-caller rate limit. Refusals carry `extensions.code` QUERY_TOO_COMPLEX or RATE_LIMITED.

Cost: every field costs 1; a list field multiplies what is selected inside it by its `first`
argument (a variable counts at its value, or its default when none is given), so a page of 200
signals with deeply nested lists is refused before a single upstream call is made.

- A field that makes one upstream call per parent (`PER_PARENT_CALLS`: `Signal.deliveries`,
  `Goal.measurements`) adds `upstream_call_cost` (50) for every parent it is counted for.
- Lists without `first` count `list_estimate`: what they really hold is known only once fetched.
  Counting them at their maximum (200) would refuse everyday queries (a year's goals of an area
  with their reviews and measurements counts 177,000), so what they really fetch is bounded while
  the operation runs: `UpstreamBudget` (gateway/context.py) refuses an operation past
  `max_upstream_calls` upstream requests or `max_upstream_rows` rows, with the same code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    value_from_ast_untyped,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.domain import QUERY_TOO_COMPLEX, RATE_LIMITED, RateLimiter
from shared.errors import DomainError

PER_PARENT_CALLS: frozenset[tuple[str, str]] = frozenset({("Signal", "deliveries"), ("Goal", "measurements")})
"""Fields that ask a service once for every parent object (no batch read exists)."""


class TooManyUpstreamReads(DomainError):
    status, code, title = 400, QUERY_TOO_COMPLEX, "Query too complex"


@dataclass
class UpstreamBudget:
    """What one operation (or one subscription event) may ask of the services while it runs."""

    max_calls: int
    max_rows: int
    calls: int = 0
    rows: int = 0

    def call(self) -> None:
        self.calls += 1
        if self.calls > self.max_calls:
            raise TooManyUpstreamReads(f"The query needs more than {self.max_calls} reads from the services")

    def fetched(self, answer: Any) -> None:
        results = answer.get("results") if isinstance(answer, dict) else answer
        self.rows += len(results) if isinstance(results, list) else 1
        if self.rows > self.max_rows:
            raise TooManyUpstreamReads(f"The query reads more than {self.max_rows} rows from the services")

    def reset(self) -> None:
        self.calls = self.rows = 0


@dataclass
class DocumentMeasure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int
    list_estimate: int = 5
    default_first: int = 50
    upstream_call_cost: int = 50


@dataclass
class _Walker:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    limits: Limits
    variables: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # the operation's variable defaults
    measure: DocumentMeasure = field(default_factory=DocumentMeasure)

    def selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None, depth: int, seen: frozenset[str]
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent, depth, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = parent
                if selection.type_condition is not None:
                    condition = self.schema.get_type(selection.type_condition.name.value) or parent
                total += self.selection_cost(selection.selection_set, condition, depth, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                condition = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection_cost(fragment.selection_set, condition, depth, seen | {name})
        return total

    def field_cost(self, node: FieldNode, parent: GraphQLNamedType | None, depth: int, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0  # introspection (local stack only) is not metered
        if node.alias is not None:
            self.measure.aliases += 1
        self.measure.depth = max(self.measure.depth, depth)
        field_type: GraphQLOutputType | None = None
        if isinstance(parent, GraphQLObjectType):
            definition = parent.fields.get(name)
            field_type = definition.type if definition is not None else None
        is_list, named = _unwrap(field_type)
        inner = self.selection_cost(node.selection_set, named, depth + 1, seen)
        where = (parent.name if parent is not None else "", name)
        if named is not None and named.name.endswith("Connection"):
            multiplier = self._first(node, self.limits.default_first)
        elif is_list and parent is not None and parent.name.endswith("Connection"):
            multiplier = 1  # a connection's nodes: counted by the page size of the connection field
        elif is_list:
            multiplier = self._first(node, self.limits.list_estimate)
        else:
            multiplier = 1
        calls = self.limits.upstream_call_cost if where in PER_PARENT_CALLS else 0
        return 1 + calls + multiplier * inner

    def _first(self, node: FieldNode, otherwise: int) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                if isinstance(argument.value, IntValueNode):
                    return max(1, int(argument.value.value))
                if isinstance(argument.value, VariableNode) and self.variables is not None:
                    name = argument.value.name.value
                    # `$n: Int = 200` without $n counts 200 (validation, not knowing $n, counts 50)
                    value = self.variables[name] if name in self.variables else self.defaults.get(name)
                    if isinstance(value, int) and not isinstance(value, bool):
                        return max(1, value)
                return self.limits.default_first
        return otherwise


def _unwrap(field_type: GraphQLOutputType | None) -> tuple[bool, GraphQLNamedType | None]:
    is_list = False
    current: Any = field_type
    while isinstance(current, (GraphQLNonNull, GraphQLList)):
        if isinstance(current, GraphQLList):
            is_list = True
        current = current.of_type
    return is_list, current


def measure_document(
    schema: GraphQLSchema, definitions: list[Any], limits: Limits, variables: dict[str, Any] | None = None
) -> list[tuple[OperationDefinitionNode, DocumentMeasure]]:
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    measures = []
    for definition in definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        defaults = {
            v.variable.name.value: value_from_ast_untyped(v.default_value)
            for v in definition.variable_definitions or ()
            if v.default_value is not None
        }
        walker = _Walker(schema, fragments, limits, variables, defaults)
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[definition.operation]
        walker.measure.cost = walker.selection_cost(definition.selection_set, root, 1, frozenset())
        measures.append((definition, walker.measure))
    return measures


def complexity_rule(limits: Limits) -> type[ValidationRule]:
    class ComplexityRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            definitions = list(context.document.definitions)
            for operation, measure in measure_document(context.schema, definitions, limits):
                for message in _violations(measure, limits):
                    context.report_error(
                        GraphQLError(message, nodes=[operation], extensions={"code": QUERY_TOO_COMPLEX})
                    )

    return ComplexityRule


def _violations(measure: DocumentMeasure, limits: Limits) -> Iterator[str]:
    if measure.depth > limits.max_depth:
        yield f"Query depth {measure.depth} exceeds the maximum of {limits.max_depth}"
    if measure.aliases > limits.max_aliases:
        yield f"{measure.aliases} aliases exceed the maximum of {limits.max_aliases}"
    if measure.cost > limits.max_cost:
        yield f"Query cost {measure.cost} exceeds the maximum of {limits.max_cost}"


def uses_variable_first(definitions: list[Any]) -> bool:
    """Whether a page size is given by a variable (then the cost is known only with the variables)."""
    stack = [d.selection_set for d in definitions if getattr(d, "selection_set", None) is not None]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode) and any(
                a.name.value == "first" and isinstance(a.value, VariableNode) for a in selection.arguments or ()
            ):
                return True
            if getattr(selection, "selection_set", None) is not None:
                stack.append(selection.selection_set)
    return False


class VariableCost(SchemaExtension):
    """Validation counts a `first: $n` as its default or 50; with the variables known, count what was asked for."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.result is None and document is not None:
            definitions = list(document.definitions)
            if uses_variable_first(definitions):
                schema = context.schema._schema
                variables = context.variables or {}
                for operation, measure in measure_document(schema, definitions, self.limits, variables):
                    if context.operation_name and operation.name and operation.name.value != context.operation_name:
                        continue
                    if measure.cost > self.limits.max_cost:
                        message = f"Query cost {measure.cost} exceeds the maximum of {self.limits.max_cost}"
                        error = GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX})
                        context.result = GraphQLExecutionResult(data=None, errors=[error])
                        break
        yield


class RateLimit(SchemaExtension):
    """Refuses an operation when the caller's token bucket is empty (HTTP 429, RATE_LIMITED)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        key = getattr(context, "rate_key", None)
        if key is not None and not self.limiter.allow(key, time.monotonic()):
            response = getattr(context, "response", None)
            if response is not None:
                response.status_code = 429
            self.execution_context.result = GraphQLExecutionResult(
                data=None,
                errors=[GraphQLError("Too many requests: slow down", extensions={"code": RATE_LIMITED})],
            )
        yield
