"""The gateway's schema keeps every type, field and argument of the public contract, and its
generated SDL in docs/schema.graphql is up to date."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from gateway.schema import build_schema as build_gateway_schema
from gateway.schema_export import SDL_PATH, sdl

CONTRACT = Path("/work/shared/CONTRACT.md")
# What the contract's "Additions of December 2026" make optional ("the rule here wins"): an input
# field that was required may now be left out. Only these may differ from the first block.
LOOSENED_BY_ADDITIONS = {
    ("RegisterPartnerInput", "acknowledgeWithinMinutes"): ("Int!", "Int"),
    ("ReportSignalInput", "area"): ("String!", "String"),
}


def contract_schema() -> GraphQLSchema:
    text = CONTRACT.read_text() if CONTRACT.exists() else (Path(__file__).parents[2] / "CONTRACT.md").read_text()
    block = re.search(r"```graphql\n(.*?)```", text, re.S)
    assert block, "the contract has a GraphQL block"
    return build_schema(block.group(1))


def differences(contract: GraphQLSchema, ours: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    for name, expected in contract.type_map.items():
        if name.startswith("__"):
            continue
        actual = ours.type_map.get(name)
        if actual is None:
            problems.append(f"type {name} is missing")
            continue
        if type(actual) is not type(expected):
            problems.append(f"{name} is a {type(actual).__name__}, the contract says {type(expected).__name__}")
            continue
        if isinstance(expected, GraphQLEnumType):
            assert isinstance(actual, GraphQLEnumType)
            for value in expected.values:
                if value not in actual.values:
                    problems.append(f"enum value {name}.{value} is missing")
        if isinstance(expected, (GraphQLObjectType, GraphQLInterfaceType)):
            assert isinstance(actual, (GraphQLObjectType, GraphQLInterfaceType))
            for fname, field in expected.fields.items():
                mine = actual.fields.get(fname)
                if mine is None:
                    problems.append(f"field {name}.{fname} is missing")
                    continue
                if str(mine.type) != str(field.type):
                    problems.append(f"field {name}.{fname} is {mine.type}, the contract says {field.type}")
                for aname, arg in field.args.items():
                    my_arg = mine.args.get(aname)
                    if my_arg is None:
                        problems.append(f"argument {name}.{fname}({aname}) is missing")
                    elif str(my_arg.type) != str(arg.type):
                        problems.append(f"argument {name}.{fname}({aname}) is {my_arg.type}, contract {arg.type}")
                    elif arg.default_value != my_arg.default_value:
                        problems.append(f"argument {name}.{fname}({aname}) defaults to {my_arg.default_value!r}")
                for aname, my_arg in mine.args.items():
                    if aname not in field.args and str(my_arg.type).endswith("!"):
                        problems.append(f"argument {name}.{fname}({aname}) is added as required")
        if isinstance(expected, GraphQLInputObjectType):
            assert isinstance(actual, GraphQLInputObjectType)
            for fname, input_field in expected.fields.items():
                my_input = actual.fields.get(fname)
                if my_input is None:
                    problems.append(f"input field {name}.{fname} is missing")
                elif LOOSENED_BY_ADDITIONS.get((name, fname)) == (str(input_field.type), str(my_input.type)):
                    continue
                elif str(my_input.type) != str(input_field.type):
                    problems.append(f"input field {name}.{fname} is {my_input.type}, contract {input_field.type}")
                elif input_field.default_value != my_input.default_value:
                    problems.append(f"input field {name}.{fname} defaults to {my_input.default_value!r}")
            for fname, my_input in actual.fields.items():
                if fname not in expected.fields and str(my_input.type).endswith("!"):
                    problems.append(f"input field {name}.{fname} is added as required")
    return problems


def test_schema_has_every_type_field_and_argument_of_the_contract() -> None:
    ours = build_schema(build_gateway_schema().as_str())
    assert differences(contract_schema(), ours) == []


def test_the_comparison_notices_a_lost_field_and_a_changed_type() -> None:
    contract = contract_schema()
    ours_text = build_gateway_schema().as_str()
    lost = build_schema(ours_text.replace("  reportCount: Int!\n", "", 1))
    changed = build_schema(ours_text.replace("  duplicate: Boolean!\n", "  duplicate: Boolean\n", 1))
    assert "field Signal.reportCount is missing" in differences(contract, lost)
    assert "field ReportSignalResult.duplicate is Boolean, the contract says Boolean!" in differences(contract, changed)


def test_only_the_fields_the_additions_make_optional_may_be_left_out() -> None:
    contract = contract_schema()
    ours_text = build_gateway_schema().as_str()
    assert "  acknowledgeWithinMinutes: Int\n" in ours_text  # optional for groups
    loosened = build_schema(
        ours_text.replace("  categories: [SignalCategory!]!\n", "  categories: [SignalCategory!]\n")
    )
    assert (
        "input field RegisterPartnerInput.categories is [SignalCategory!], contract [SignalCategory!]!"
        in differences(contract, loosened)
    )


def test_generated_sdl_in_docs_is_up_to_date() -> None:
    assert SDL_PATH.read_text() == sdl(), "run: python -m gateway.schema_export"
