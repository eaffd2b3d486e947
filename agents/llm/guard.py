"""The verifier loop around every model call: constrain, parse, validate, retry with the reason, or reject.

A call passes only if its text parses as JSON, validates against the pydantic model, and
passes the caller's semantic check (tool names, argument schemas, entity names from the
toolbox). Each failure is logged to the trace with its reason and fed back to the model;
after ``retries`` failed attempts the call is rejected and the caller falls back.
"""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

from agents.llm.backends import LLMBackend
from agents.llm.trace import Trace
from twin.errors import AgentError

__all__ = ["ask", "check_tool_call", "RETRIES"]

RETRIES = 2
M = TypeVar("M", bound=BaseModel)


def ask(backend: LLMBackend, messages: list[dict[str, str]], model: type[M], *, schema: dict, trace: Trace,
        purpose: str, check: Callable[[M], str | None] | None = None, retries: int = RETRIES,
        max_tokens: int = 256) -> M | None:
    """One constrained, validated model answer, or None after ``retries`` logged rejections."""
    convo = list(messages)
    for attempt in range(retries + 1):
        try:
            out = backend.complete(convo, schema=schema, max_tokens=max_tokens)
        except AgentError as exc:
            trace.log("rejection", purpose=purpose, attempt=attempt, reason=f"back-end failed: {exc}", text="")
            return None
        trace.count(out.prompt_tokens, out.completion_tokens, out.wall_s)
        trace.log("llm_call", purpose=purpose, attempt=attempt, messages=convo, output=out.text,
                  prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens, llm_s=round(out.wall_s, 3))
        reason, value = _validate(out.text, model, check)
        if reason is None:
            return value
        trace.log("rejection", purpose=purpose, attempt=attempt, reason=reason, text=out.text[:500])
        convo = [*messages, {"role": "assistant", "content": out.text[:400]},
                 {"role": "user", "content": f"That answer was rejected: {reason}. Answer again with JSON that "
                                             "follows the schema, using only the listed names."}]
    trace.log("gave_up", purpose=purpose, attempts=retries + 1)
    return None


def _validate(text: str, model: type[M], check: Callable[[M], str | None] | None) -> tuple[str | None, M | None]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return f"not JSON ({exc.msg if hasattr(exc, 'msg') else exc})", None
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}", None
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        return f"schema: {where}: {first['msg']}", None
    if check is not None:
        problem = check(value)
        if problem:
            return problem, None
    return None, value


def check_tool_call(toolbox: Any, tool: str, args: Any, allowed: set[str] | None = None) -> str | None:
    """Why a proposed tool call is invalid (unknown or disallowed tool, bad arguments, unknown entity), or None."""
    import jsonschema

    if not isinstance(tool, str) or tool not in toolbox.names():
        return f"unknown tool {tool!r}"
    if allowed is not None and tool not in allowed:
        return f"tool {tool!r} is not allowed here (allowed: {', '.join(sorted(allowed))})"
    if not isinstance(args, dict):
        return f"arguments must be an object, got {type(args).__name__}"
    spec = toolbox.registry.get(tool)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(spec.parameters).iter_errors(args))
    if error is not None:
        return f"{tool}: arguments invalid: {error.message}"
    props = spec.parameters.get("properties", {})
    for arg, value in args.items():
        kind = props.get(arg, {}).get("x-entity")
        if kind is not None and value not in toolbox.entities(kind):
            return f"{tool}: unknown {kind} {value!r}"
    return None
