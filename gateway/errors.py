"""Every GraphQL error leaves with an `extensions.code`; anything unexpected is masked as INTERNAL.

The one place where upstream problems, the gateway's own refusals and graphql-core's
validation errors become what the caller sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from gateway.domain import BAD_USER_INPUT, INTERNAL, INTERNAL_MESSAGE, QUERY_TOO_COMPLEX
from gateway.upstream import UpstreamError
from shared.errors import DomainError, ValidationFailed
from shared.observability import get_logger

log = get_logger("gateway.errors")


def coded(error: GraphQLError, *, suggestions: bool = False) -> GraphQLError:
    """The error as the caller may see it (field suggestions only where introspection is on)."""
    if not suggestions and "Did you mean" in error.message:
        error = _with(error, error.message.split("Did you mean")[0].strip(), dict(error.extensions or {}))
    original = error.original_error
    if isinstance(original, UpstreamError):
        return _with(error, original.problem.message, original.problem.extensions())
    if isinstance(original, ValidationFailed):
        fields = [{"field": f.field, "message": f.message} for f in original.fields]
        return _with(error, original.detail, {"code": BAD_USER_INPUT, "fields": fields})
    if isinstance(original, DomainError):
        return _with(error, original.detail, {"code": original.code})
    if original is not None and not isinstance(original, GraphQLError):
        return _with(error, INTERNAL_MESSAGE, {"code": INTERNAL})
    if error.extensions and "code" in error.extensions:
        return error
    if isinstance(original, GraphQLError) and original.extensions and "code" in original.extensions:
        return _with(error, error.message, dict(original.extensions))
    if isinstance(error, GraphQLSyntaxError) or (original is not None and isinstance(original, GraphQLSyntaxError)):
        code = QUERY_TOO_COMPLEX if "tokens" in error.message else "GRAPHQL_PARSE_FAILED"
        return _with(error, error.message, {"code": code})
    if error.path:
        return _with(error, INTERNAL_MESSAGE, {"code": INTERNAL})  # e.g. a null for a non-null field
    if error.message.startswith("Variable '$"):
        return _with(error, error.message, {"code": BAD_USER_INPUT, "fields": []})
    return _with(error, error.message, {"code": "GRAPHQL_VALIDATION_FAILED"})


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error if isinstance(error.original_error, GraphQLError) else None,
        extensions=extensions,
    )


def log_unexpected(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Only failures of our own code are logged (with their type, never a caller's input)."""
    for error in errors:
        original = error.original_error
        if original is None or isinstance(original, (DomainError, UpstreamError, GraphQLError)):
            continue
        log.error(
            "resolver_failed",
            error=type(original).__name__,
            path=".".join(str(p) for p in error.path or ()),
            exc_info=(type(original), original, original.__traceback__),
        )


def coded_all(errors: list[GraphQLError] | None, *, suggestions: bool) -> list[GraphQLError] | None:
    return [coded(e, suggestions=suggestions) for e in errors] if errors else errors


class ErrorCodes(SchemaExtension):
    """Codes errors of operations that complete (also over WebSocket); the HTTP view codes the rest."""

    suggestions = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = coded_all(errors, suggestions=self.suggestions)  # type: ignore[union-attr]
