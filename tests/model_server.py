"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks only.

It answers `POST /v1/chat/completions` from a script (a function of the request) after
draining a queue of injected faults: 429 with Retry-After, 5xx, answers slower than the client's
timeout, malformed JSON, empty choices, dropped connections. `capacity` bounds the requests
served at once, like a GPU's batch, and the server integrates the number in service over time
so a benchmark can tell how busy the client kept it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """What the server does with one request."""

    text: str | None = "ok"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as the body instead of a completion (malformed answers)
    choices: bool = True
    drop: bool = False  # close the connection without answering, as a crashed server does


def reply(text: str, delay: float = 0.0) -> Answer:
    return Answer(text=text, delay=delay)


def rate_limited(retry_after: float = 1) -> Answer:
    return Answer(status=429, headers={"Retry-After": f"{retry_after:g}"})


def server_error(status: int = 500) -> Answer:
    return Answer(status=status)


def slow(seconds: float, text: str = "late") -> Answer:
    return Answer(text=text, delay=seconds)


def malformed() -> Answer:
    return Answer(raw=b'{"id": "x", "choices": [{"message": ')


def empty_choices() -> Answer:
    return Answer(choices=False)


def dropped() -> Answer:
    return Answer(drop=True)


EXPLANATION = """The image shows a STEM figure.

1. Create the figure and its axes.
2. Draw the marks the figure shows.

```python
import matplotlib.pyplot as plt
plt.show()
```

Usage notes: needs matplotlib; change the parameters at the top."""


def targets_answer(request: "Request") -> Answer | None:
    """A plain answer to the grounded-caption and code-target prompts (pipelines/prompts/targets),
    None for any other prompt: refine keeps the draft, explanations carry a stand-in program
    (the pipeline splices the real one in)."""
    text = request.text
    if "Verified facts:" in text:
        return reply(text.split("Draft:\n", 1)[1].split("\n\nVerified facts:", 1)[0])
    if "Execution log (JSON):" in text:
        return reply("- The program draws what the execution log records.")
    if "Ground-truth program:" in text or "explained for a student" in text:
        return reply(EXPLANATION)
    if "Overall Structure:" in text:
        return reply("Overall Structure: a STEM figure on a white background.")
    return None


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    text: str
    images: list[bytes]
    authorization: str


def parse_request(body: dict[str, Any], authorization: str) -> Request:
    texts: list[str] = []
    images: list[bytes] = []
    for message in body.get("messages", []):
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for part in parts:
            if part.get("type") == "text":
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                url = part["image_url"]["url"]
                images.append(base64.b64decode(url.split(",", 1)[1]))
    return Request(body, "\n".join(texts), images, authorization)


def completion(answer: Answer, model: str) -> bytes:
    choices = [] if not answer.choices else [{
        "index": 0,
        "message": {"role": "assistant", "content": answer.text},
        "finish_reason": "stop",
    }]
    words = len((answer.text or "").split())
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": choices,
        "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words},
    }).encode()


class ModelServer:
    """Start with `with ModelServer(script) as server:`; `server.url` is the base URL."""

    def __init__(self, script: Callable[[Request], Answer] | None = None, *, port: int = 0,
                 capacity: int | None = None, latency: float = 0.0, max_model_len: int | None = None):
        self.script = script or (lambda request: reply("ok"))
        self.max_model_len = max_model_len  # listed under /v1/models, as vLLM does
        self.faults: deque[Answer] = deque()
        self.latency = latency
        self.capacity = threading.BoundedSemaphore(capacity) if capacity else None
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.log: list[Request] = []
        self.in_service = _Gauge()  # requests holding a capacity slot
        self.present = _Gauge()  # requests received and not yet answered (queued or in service)
        self._lock = threading.Lock()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self) -> ModelServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 512  # the default backlog of 5 drops bursts of connections
        httpd.allow_reuse_address = True  # restart on the same port ("the endpoint is back")
        httpd.server_bind()
        httpd.server_activate()
        self._port = httpd.server_address[1]
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def peak(self) -> int:
        return self.in_service.peak

    def busy(self) -> float:
        """Mean requests in service from the first request's arrival to the last one's end."""
        return self.in_service.mean(since=self.present.first)

    def _next(self, request: Request) -> Answer:
        with self._lock:
            self.requests += 1
            self.log.append(request)
            fault = self.faults.popleft() if self.faults else None
        return fault or self.script(request)

    def serve(self, request: Request) -> Answer:
        """Hold a capacity slot for the answer's latency, as a batch slot on a GPU would be."""
        self.present.change(+1)
        answer = self._next(request)
        if self.capacity:
            self.capacity.acquire()
        self.in_service.change(+1)
        try:
            time.sleep(self.latency + answer.delay)
        finally:
            self.in_service.change(-1)
            if self.capacity:
                self.capacity.release()
            self.present.change(-1)
        with self._lock:
            self.statuses[answer.status] += 1
        return answer


class _Gauge:
    """A count over time: its peak, and its integral for the mean since a given moment."""

    def __init__(self) -> None:
        self.value = self.peak = 0
        self.first = self.last = 0.0
        self.history: list[tuple[float, int]] = []  # (time, value from then on)
        self._lock = threading.Lock()

    def change(self, delta: int) -> None:
        with self._lock:
            now = time.monotonic()
            if not self.first:
                self.first = now
            self.value += delta
            self.peak = max(self.peak, self.value)
            self.last = now
            self.history.append((now, self.value))

    def mean(self, since: float | None = None, until: float | None = None) -> float:
        """Time-weighted mean over [since, until] (default: first change to last change)."""
        with self._lock:
            start, end = since or self.first, until or self.last
            if end <= start:
                return 0.0
            area, value, at = 0.0, 0, start
            for t, v in self.history:
                if t > at:
                    area += value * (min(t, end) - at)
                    at = min(t, end)
                value = v
                if t >= end:
                    break
            area += value * (end - at)
            return area / (end - start)


class _Handler(BaseHTTPRequestHandler):
    owner: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive, as vLLM's server does

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            entry: dict[str, Any] = {"id": "test-model", "object": "model"}
            if self.owner.max_model_len is not None:
                entry["max_model_len"] = self.owner.max_model_len
            self._send(200, json.dumps({"object": "list", "data": [entry]}).encode())
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": "not found"}')
            return
        request = parse_request(body, self.headers.get("Authorization", ""))
        answer = self.owner.serve(request)
        if answer.drop:
            self.close_connection = True
        elif answer.status != 200:
            payload = json.dumps({"error": {"message": f"scripted {answer.status}"}}).encode()
            self._send(answer.status, payload, answer.headers)
        else:
            self._send(200, answer.raw or completion(answer, body.get("model", "")), answer.headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout passed); that is the point of a slow answer


def run_and_close(coro: Any, client: Any) -> Any:
    """`asyncio.run(coro)`, then close the model client's connections in that same loop: they
    belong to it, and aiohttp warns about a session left open when its loop is gone."""
    async def main() -> Any:
        try:
            return await coro
        finally:
            if client is not None:
                await client.aclose()
    return asyncio.run(main())
