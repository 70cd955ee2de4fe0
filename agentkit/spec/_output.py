"""An output type made from a JSON schema, for agent files that ask for a structured answer.

The loop asks pydantic for the output's JSON schema (the grammar on llama.cpp, `response_format` on servers)
and validates the answer with it; this type hands over the file's schema unchanged and validates with
`jsonschema`, so a YAML agent gets the same constrained, checked output as a Python `output_type`.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from .._errors import UserError


def schema_output_type(schema: dict[str, Any]) -> type:
    """A type whose JSON schema is `schema` and whose validation is jsonschema's; values stay plain JSON."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise UserError(f"not a valid JSON schema at {where}: {exc.message}") from None
    validator = Draft202012Validator(schema)

    def check(value: Any) -> Any:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            raise ValueError("; ".join(
                f"{'/'.join(str(p) for p in e.absolute_path) or '(answer)'}: {e.message}" for e in errors[:5]))
        return value

    class SchemaOutput:
        @classmethod
        def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
            return core_schema.no_info_after_validator_function(check, core_schema.any_schema())

        @classmethod
        def __get_pydantic_json_schema__(
            cls, schema_: core_schema.CoreSchema, handler: GetJsonSchemaHandler,
        ) -> JsonSchemaValue:
            return dict(schema)

    return SchemaOutput
