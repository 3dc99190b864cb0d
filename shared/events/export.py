"""`python -m shared.events.export [--check]`: JSON Schema and an AsyncAPI 3 document from the catalog.

The files under `docs/events/` are committed; `--check` (and a test) fails when they drift
from the models, so the published contract of every event is always the code's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.events.catalog import CATALOG, EVENT_TYPES, SCHEMA_VERSION, dlq_topic
from shared.events.envelope import TYPE_PREFIX, dataschema_for

OUT = Path(__file__).resolve().parents[2] / "docs" / "events"


def _envelope_schema(event_type: str, data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0, structured JSON mode, NL GOV profile",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "dataschema",
            "sequence",
            "municipality",
            "data",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "pattern": "^urn:nld:wijkaanpak:[a-z]+$"},
            "type": {"const": TYPE_PREFIX + event_type},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "description": "aggregate id; also the Kafka record key"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"const": dataschema_for(event_type)},
            "sequence": {"type": "string", "pattern": "^[0-9]{12}$", "description": "aggregate version"},
            "municipality": {"type": "string", "pattern": "^GM[0-9]{4}$"},
            "data": {"$ref": data_ref},
        },
    }


def documents() -> dict[str, str]:
    """File name -> content, for every generated file."""
    files: dict[str, str] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        model = CATALOG[event_type]
        schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        schema["$id"] = dataschema_for(event_type)
        schema["description"] = model.summary
        files[f"{event_type}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        name = model.__name__
        schemas[name] = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        for sub_name, sub in schemas[name].pop("$defs", {}).items():
            schemas[sub_name] = sub
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": model.summary,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"traceparent": {"type": "string", "description": "W3C trace context"}},
            },
            "payload": _envelope_schema(event_type, f"#/components/schemas/{name}"),
            "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
        }
        channel = event_type.replace(".", "_")
        channels[channel] = {
            "address": event_type,
            "description": f"{model.summary} Unparseable records go to `{dlq_topic(event_type)}`.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{channel}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
    asyncapi = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Wijkaanpak platform events",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": "Internal Kafka topics (topic = event type). Outside parties get webhooks instead.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
    files["asyncapi.json"] = json.dumps(asyncapi, indent=2, sort_keys=True) + "\n"
    return files


def drift(out: Path = OUT) -> list[str]:
    """Names of generated files that are missing, different or no longer generated."""
    wanted = documents()
    present = {p.name for p in out.glob("*.json")} if out.exists() else set()
    stale = [n for n, text in wanted.items() if not (out / n).exists() or (out / n).read_text() != text]
    return sorted(stale + [n for n in present - set(wanted)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the committed files drift")
    args = parser.parse_args()
    if args.check:
        stale = drift()
        if stale:
            sys.exit(f"event schemas drifted from the catalog: {', '.join(stale)}; run python -m shared.events.export")
        print("event schemas match the catalog")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for name, text in documents().items():
        (OUT / name).write_text(text)
    print(f"wrote {len(documents())} files to {OUT}")


if __name__ == "__main__":
    main()
