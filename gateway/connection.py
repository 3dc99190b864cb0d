"""One page of a list in GraphQL (`XConnection`), built from a service's list answer.

Each connection names its own type (`class SignalConnection(Connection[Signal])`) so the schema
keeps the contract's names; the fields and how a page is read from REST live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Self, TypeVar

import strawberry

from gateway.context import Row
from gateway.domain import connection_page

T = TypeVar("T")


@strawberry.type
class Connection(Generic[T]):
    nodes: list[T]
    total_count: int
    end_cursor: str | None
    has_next_page: bool

    @classmethod
    def page(cls, body: Row, node: Callable[[Row], T]) -> Self:
        """The page of a list answer (`shared.pagination.listing`), each row made a node by `node`."""
        rows, total, nxt = connection_page(body)
        return cls(nodes=[node(r) for r in rows], total_count=total, end_cursor=nxt, has_next_page=nxt is not None)
