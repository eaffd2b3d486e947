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


def validation_problem(exc: ValidationError, model: type[BaseModel], union_noun: str = "kind") -> tuple[str, str]:
    """``(field path, message)`` for the first error in ``exc``, raised validating ``model``.

    A misspelt field also shows as a missing one: the misspelling is named first. Tags that
    pydantic inserts into a location inside a tagged union (``faults.0.link_down.params``) are
    dropped, and an unknown tag is reported as ``unknown <union_noun> 'x' (allowed: ...)``.
    """
    errors = exc.errors()
    err = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    loc, parent = _resolve(model, tuple(err["loc"]))
    kind = err.get("type", "")
    if kind == "union_tag_invalid":
        tags = str(err.get("ctx", {}).get("expected_tags", "")).replace("'", "")
        allowed = ", ".join(sorted(t.strip() for t in tags.split(",") if t.strip()))
        return format_loc((*loc, "kind")), f"unknown {union_noun} {err['ctx'].get('tag')!r} (allowed: {allowed})"
    if kind == "union_tag_not_found":
        return format_loc((*loc, "kind")), "required field is missing"
    message = _pydantic_message(err)
    if kind == "extra_forbidden":
        allowed = _allowed_fields(parent)
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
        if part == "[key]":  # pydantic's marker for a bad mapping key: the key itself is the path
            continue
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
    if not isinstance(given, (dict, list)):
        msg += f" (got {given!r})"
    return msg


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _tagged(annotation: Any, part: Any) -> type[BaseModel] | None:
    """The variant of a tagged union that pydantic names by its tag ``part`` in an error's loc."""
    models = _models_in(annotation)
    if len(models) < 2:
        return None
    return next((m for m in models if "kind" in m.model_fields
                 and typing.get_args(m.model_fields["kind"].annotation) == (part,)), None)


def _resolve(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """An error's ``loc`` without union tags, and the model holding its last part."""
    clean: list[Any] = []
    current: Any = model
    parent: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            clean.append(part)
            continue
        if typing.get_origin(current) is dict:  # ``part`` is a key: its value's type holds what follows
            clean.append(part)
            current = typing.get_args(current)[1]
            continue
        variant = _tagged(current, part)
        if variant is not None:
            current = variant
            continue
        clean.append(part)
        models = _models_in(current)
        parent, current = (models[0] if models else None), None
        for m in models:
            aliases = {f.alias: f for f in m.model_fields.values() if f.alias}
            field = m.model_fields.get(part) or aliases.get(part)
            if field is not None:
                parent, current = m, field.annotation
                break
    return tuple(clean), parent


def _allowed_fields(model: type[BaseModel] | None) -> str:
    """Names the fields allowed in ``model`` (where an unknown one was found)."""
    if model is None:
        return ""
    return ", ".join(sorted(f.alias or n for n, f in model.model_fields.items() if n != "path"))
