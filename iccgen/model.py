"""Async client for OpenAI-compatible chat endpoints (vLLM serving Qwen3-VL, or a hosted model).

Retries are ours, not the openai client's (built with `max_retries=0`), because a retry should be
able to go to another endpoint, an answer with no choices or broken JSON deserves a retry like a
5xx, and every retry is counted in the unit's statistics. The API key is read from the variable
named by `api_key_env` when the first request is made, inside the worker; it never enters a pickle,
a repr or a log line.

Requests go over aiohttp (openai's `DefaultAioHttpClient`), not httpx's own pool: with 64
requests in flight, httpx spent 12.4 ms of CPU per request against 1.7 ms for aiohttp
(benchmarks/model_client.py), and a worker's CPU is what keeps the GPU fed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai

from iccgen.config import ModelConfig
from iccgen.errors import ConfigError, EndpointError, ModelRequestError

# A server asking for a longer pause than this is treated as down rather than waited for.
MAX_RETRY_AFTER_S = 120.0
# Refusals of one request, not of the endpoint: the prompt or image is too large or malformed.
REQUEST_STATUSES = frozenset({400, 413, 422})
# Statuses a healthy server returns under load or while starting.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Room a request's prompt needs beside its answer in the served context: the instructions, a
# program to repair or judge, and an image (iccgen's prompts measured 1,600-1,950 tokens on average
# against vLLM, tests/realserver). vLLM refuses a request whose prompt plus max_tokens exceeds it.
PROMPT_RESERVE = 2048


def image_part(png: bytes) -> dict[str, Any]:
    """An image as an OpenAI `image_url` content part holding a base64 data URL."""
    data = base64.b64encode(png).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}


def user_message(text: str, images: tuple[bytes, ...] = ()) -> dict[str, Any]:
    """A user turn: the images first (as Qwen3-VL's chat template expects), then the text."""
    content = [image_part(png) for png in images] + [{"type": "text", "text": text}]
    return {"role": "user", "content": content}


@dataclass(frozen=True)
class Reply:
    text: str
    endpoint: str
    finish_reason: str | None
    #: prompt_tokens, completion_tokens, requests (HTTP requests made) and retries
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class _Endpoint:
    url: str
    client: openai.AsyncOpenAI
    in_flight: int = 0
    started: int = 0
    failures: int = 0  # in a row; a dead endpoint is skipped for longer each time
    down_until: float = 0.0

    def load_key(self, now: float) -> tuple[bool, int, int]:
        # Healthy endpoints first, then the least loaded, then the least used (round robin).
        return (self.down_until > now, self.in_flight, self.started)


class _Retry(Exception):
    """One failed try that may succeed later: why, and how long the server asked us to wait."""

    def __init__(self, why: str, wait: float | None = None, endpoint_fault: bool = True):
        super().__init__(why)
        self.wait = wait
        self.endpoint_fault = endpoint_fault


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), if present."""
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


class ModelClient:
    """Chat completions over one or more endpoints with bounded concurrency and retries."""

    def __init__(self, cfg: ModelConfig):
        if not cfg.base_urls:
            raise ConfigError(
                "model.base_urls is empty: pass --endpoint URL (the URL `iccgen serve` prints, "
                "e.g. http://127.0.0.1:8000/v1) or set base_url under [model]"
            )
        self.cfg = cfg
        self._endpoints: list[_Endpoint] = []
        self._gate: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the config alone: connections, counters and the key stay behind.
        return (type(self), (self.cfg,))

    def __repr__(self) -> str:
        return f"ModelClient({self.cfg.model!r} at {self.cfg.base_urls})"

    @property
    def in_flight(self) -> int:
        return sum(e.in_flight for e in self._endpoints)

    def _connect(self) -> None:
        """Connections and the concurrency gate belong to the running event loop; a client used
        under a new loop (each `asyncio.run`) connects again."""
        key = os.environ.get(self.cfg.api_key_env) or "EMPTY"  # vLLM needs none
        pool = httpx.Limits(max_connections=self.cfg.concurrency,
                            max_keepalive_connections=self.cfg.concurrency)
        self._endpoints = [
            _Endpoint(url, openai.AsyncOpenAI(
                base_url=url, api_key=key, timeout=self.cfg.timeout_s, max_retries=0,
                http_client=openai.DefaultAioHttpClient(limits=pool)))
            for url in self.cfg.base_urls
        ]
        self._gate = asyncio.Semaphore(self.cfg.concurrency)
        self._loop = asyncio.get_running_loop()

    async def aclose(self) -> None:
        """Close the connections, from the event loop that used them."""
        for endpoint in self._endpoints:
            await endpoint.client.close()
        self._endpoints, self._gate, self._loop = [], None, None

    def _pick(self) -> _Endpoint:
        now = time.monotonic()
        return min(self._endpoints, key=lambda e: e.load_key(now))

    def _backoff(self, retry: int) -> float:
        # Full jitter: spreads the retries of many waiting requests over the whole window.
        cap = min(self.cfg.max_backoff_s, self.cfg.backoff_s * 2**retry)
        return random.uniform(cap / 2, cap)

    async def chat(self, messages: list[dict[str, Any]], **params: Any) -> Reply:
        """One chat completion; raises EndpointError once every retry has failed.

        `params` may override the config's temperature, top_p and max_tokens for this call.
        """
        if self._loop is not asyncio.get_running_loop():
            self._connect()
        assert self._gate is not None
        failures: list[str] = []
        async with self._gate:
            for tried in range(self.cfg.max_retries + 1):
                endpoint = self._pick()
                try:
                    return await self._try(endpoint, messages, params, tried)
                except _Retry as e:
                    failures.append(f"{endpoint.url}: {e}")
                    wait = e.wait if e.wait is not None else self._backoff(tried)
                    if e.endpoint_fault:
                        endpoint.failures += 1
                        endpoint.down_until = time.monotonic() + self._backoff(endpoint.failures)
                        if self._pick().down_until <= time.monotonic():
                            wait = 0.0  # another endpoint is healthy: fail over at once
                    if tried < self.cfg.max_retries:
                        await asyncio.sleep(wait)
        raise EndpointError(self._give_up(failures))

    async def _try(
        self, endpoint: _Endpoint, messages: list[dict[str, Any]], params: dict[str, Any], tried: int
    ) -> Reply:
        endpoint.in_flight += 1
        endpoint.started += 1
        try:
            response = await endpoint.client.chat.completions.create(
                model=self.cfg.model,
                messages=messages,
                temperature=params.get("temperature", self.cfg.temperature),
                top_p=params.get("top_p", self.cfg.top_p),
                max_tokens=params.get("max_tokens", self.cfg.max_tokens),
            )
        except openai.APIStatusError as e:
            raise self._status_failure(endpoint, e) from None
        except openai.APITimeoutError as e:
            cause = _root_cause(e)
            # The aiohttp transport reports a refused or dropped connection as a connect timeout.
            if not isinstance(cause, (TimeoutError, httpx.TimeoutException)):
                raise _Retry(f"cannot connect ({cause})") from None
            raise _Retry(f"no answer within {self.cfg.timeout_s:g} s (model.timeout_s)") from None
        except openai.APIConnectionError as e:
            raise _Retry(f"cannot connect ({e.__cause__ or e})") from None
        except (openai.APIResponseValidationError, ValueError) as e:
            raise _Retry(f"malformed answer ({type(e).__name__})") from None
        finally:
            endpoint.in_flight -= 1
        reply = self._reply(endpoint, response, tried)
        endpoint.failures = 0
        return reply

    def _status_failure(self, endpoint: _Endpoint, e: openai.APIStatusError) -> Exception:
        status = e.status_code
        if status in TRANSIENT_STATUSES:
            wait = retry_after(e.response.headers) if status in (429, 503) else None
            if wait is not None and wait > MAX_RETRY_AFTER_S:
                return EndpointError(
                    f"{endpoint.url} asked to wait {wait:.0f} s (Retry-After); the endpoint is "
                    "overloaded or rate-limited: add capacity or lower model.concurrency, "
                    "then run the same command again to resume"
                )
            return _Retry(f"HTTP {status}", None if wait is None else max(0.0, wait),
                          endpoint_fault=status != 429)
        if status in REQUEST_STATUSES:
            return ModelRequestError(f"HTTP {status} from {endpoint.url}: {_brief(e)}")
        if status in (401, 403):
            return EndpointError(
                f"{endpoint.url} refused the API key (HTTP {status}): put the key in the "
                f"environment variable {self.cfg.api_key_env} (model.api_key_env names it)"
            )
        if status == 404:
            return EndpointError(
                f"{endpoint.url} answered 404 for model {self.cfg.model!r}: check --model against "
                f"the names listed at {endpoint.url.rstrip('/')}/models, and that the URL ends in /v1"
            )
        return EndpointError(f"{endpoint.url} answered HTTP {status}: {_brief(e)}")

    def _reply(self, endpoint: _Endpoint, response: Any, tried: int) -> Reply:
        choices = getattr(response, "choices", None)
        if not choices:
            raise _Retry("answer has no choices")
        message = choices[0].message
        if message is None or message.content is None:
            raise _Retry("answer has no message content")
        usage = getattr(response, "usage", None)
        return Reply(
            text=message.content,
            endpoint=endpoint.url,
            finish_reason=choices[0].finish_reason,
            usage={
                "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
                "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
                "requests": tried + 1,
                "retries": tried,
            },
        )

    def _give_up(self, failures: list[str]) -> str:
        urls = ", ".join(self.cfg.base_urls)
        last = failures[-1] if failures else "no attempt was made"
        return (
            f"model endpoint {urls} failed {len(failures)} time(s) in a row (last: {last}); "
            "check that the server is up and serves this model (`iccgen serve` prints its URL; "
            f"`curl {self.cfg.base_urls[0].rstrip('/')}/models` lists the models), then run the same "
            "command again"
        )


def served_context(url: str, model: str, key: str | None, timeout: float) -> int | None:
    """The context `url` serves `model` with (vLLM lists it as max_model_len under /models);
    None when the endpoint does not say, or cannot be asked now (the job's requests then report)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        listing = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=timeout).json()
        entries = listing.get("data", []) if isinstance(listing, dict) else []
    except (httpx.HTTPError, ValueError):
        return None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == model:
            length = entry.get("max_model_len")
            return length if isinstance(length, int) else None
    return None


def check_context(cfg: ModelConfig, setting: str = "max_tokens under [model]") -> None:
    """Refuse, before the first request, a max_tokens that leaves a prompt no room in the served
    context: every request would be refused (HTTP 400) and every candidate rejected."""
    key = os.environ.get(cfg.api_key_env)
    for url in cfg.base_urls:
        context = served_context(url, cfg.model, key, min(cfg.timeout_s, 10.0))
        if context is not None and cfg.max_tokens + PROMPT_RESERVE > context:
            raise ConfigError(
                f"max_tokens = {cfg.max_tokens} leaves a prompt too little room: {url} serves "
                f"{cfg.model!r} with a context of {context} tokens (max_model_len), and prompts need "
                f"up to {PROMPT_RESERVE} of them. Set {setting} to "
                f"{max(context - PROMPT_RESERVE, 0)} or less, or restart the server with "
                f"--max-model-len {cfg.max_tokens + PROMPT_RESERVE} or more"
            )


def _root_cause(e: BaseException) -> BaseException:
    while e.__cause__ is not None:
        e = e.__cause__
    return e


def _brief(e: openai.APIStatusError) -> str:
    body = e.body if isinstance(e.body, (str, dict)) else e.message
    return str(body)[:300]
