"""The base of every JSON body the services read and write: camelCase on the wire, snake_case in
Python, unknown fields ignored (clients may send what a newer version of the API knows)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelBody(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")
