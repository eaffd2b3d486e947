"""Pydantic validation errors as twin reports them: a field path and one message.

Scenarios and replays are checked against pydantic schemas; whichever file failed, the first
problem is reported as ``field.path[0].name`` plus what is wrong, the offending value, the
allowed field names for an unknown field, and how many more problems there were.

>>> from pydantic import BaseModel, ConfigDict, ValidationError
>>> class Link(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     a: str
...     capacity_gbps: float
>>> class Plane(BaseModel):
...     links: list[Link]
>>> try:
...     Plane.model_validate({"links": [{"a": "dc1", "capacity_gbps": 10, "colour": "red"}]})
... except ValidationError as exc:
...     validation_problem(exc, Plane)
('links[0].colour', "unknown field 'colour' (allowed: a, capacity_gbps)")
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["format_loc", "validation_problem"]


def validation_problem(exc: ValidationError, model: type[BaseModel]) -> tuple[str, str]:
    """``(field path, message)`` for the first error in ``exc``, raised validating ``model``."""
    errors = exc.errors()
    err = errors[0]
    loc = tuple(err["loc"])
    message = _pydantic_message(err)
    if err.get("type") == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        if allowed:
            message += f" (allowed: {allowed})"
    more = len(errors) - 1
    if more:
        message += f"; and {more} more problem{'s' if more > 1 else ''}"
    return format_loc(loc), message


def format_loc(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path: ``("faults", 0, "at")`` -> ``faults[0].at``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown field {err['loc'][-1]!r}"
    if kind == "missing":
        return "required field is missing"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    given = err.get("input")
    if kind not in ("missing",) and not isinstance(given, (dict, list)):
        msg += f" (got {given!r})"
    return msg


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Names the fields allowed where an unknown one was found, walking the schema by ``loc``."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            by_alias = {f.alias: f for f in current.model_fields.values() if f.alias}
            field = by_alias.get(part)
        if field is None:
            return ""
        current = _model_in(field.annotation)
    if current is None or not hasattr(current, "model_fields"):
        return ""
    names = [f.alias or n for n, f in current.model_fields.items() if n != "path"]
    return ", ".join(sorted(names))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
