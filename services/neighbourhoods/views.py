"""How the service's objects are shown (camelCase JSON, times in RFC 3339)."""

from __future__ import annotations

from typing import Any

from services.neighbourhoods.domain.areas import AreaInfo


def area_json(area: AreaInfo) -> dict[str, Any]:
    return {
        "code": area.code,
        "level": area.level.value,
        "name": area.name,
        "municipality": area.municipality,
        "parent": area.parent,
        "year": area.year,
    }
