"""The model client against the scripted server: retries, backoff, Retry-After, timeouts, spreading."""

from __future__ import annotations

import asyncio
import pickle
import socket
import time

import pytest
from model_server import (ModelServer, empty_choices, malformed, rate_limited, reply,
                          server_error, slow)

from iccgen.config import ModelConfig
from iccgen.errors import ConfigError, EndpointError, ModelRequestError
from iccgen.model import PROMPT_RESERVE, ModelClient, check_context, served_context, user_message

PNG = b"\x89PNG\r\n\x1a\n fake"


def client(*urls: str, **cfg) -> ModelClient:
    fast = dict(model="test-model", timeout_s=0.5, backoff_s=0.02, max_backoff_s=0.1, max_retries=6)
    return ModelClient(ModelConfig(base_urls=list(urls), **{**fast, **cfg}))


def ask(c: ModelClient, n: int = 1, text: str = "hello") -> list:
    async def many():
        try:
            return await asyncio.gather(*(c.chat([user_message(text, (PNG,))]) for _ in range(n)))
        finally:
            await c.aclose()  # its connections belong to this event loop
    return asyncio.run(many())


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there now: connection refused


@pytest.fixture
def server():
    with ModelServer(lambda r: reply(f"echo {r.text} {len(r.images)}")) as s:
        yield s


def test_answer_usage_image_and_key(server, monkeypatch):
    monkeypatch.setenv("ICCGEN_TEST_KEY", "sk-secret-123")
    c = client(server.url, api_key_env="ICCGEN_TEST_KEY")
    (r,) = ask(c)
    assert r.text == "echo hello 1" and r.finish_reason == "stop"
    assert r.usage == {"prompt_tokens": 100, "completion_tokens": 3, "requests": 1, "retries": 0}
    request = server.log[0]
    assert request.images == [PNG]  # sent as a base64 data URL, decoded intact
    assert request.authorization == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(c) and b"sk-secret" not in pickle.dumps(c)
    assert pickle.loads(pickle.dumps(c)).cfg == c.cfg


def test_no_key_sends_placeholder(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ask(client(server.url))
    assert server.log[0].authorization == "Bearer EMPTY"


def test_transient_faults_cost_retries_not_answers(server):
    server.faults.extend([malformed(), empty_choices(), server_error(500), server_error(503),
                          slow(2.0), rate_limited(0)])
    (r,) = ask(client(server.url))
    assert r.text.startswith("echo")
    assert r.usage["retries"] == 6 and server.requests == 7


def test_retry_after_is_honoured(server):
    server.faults.append(rate_limited(1))
    t0 = time.monotonic()
    ask(client(server.url))
    assert time.monotonic() - t0 >= 0.95  # backoff alone would have waited ~0.02 s
    assert server.requests == 2


def test_backoff_grows_exponentially(server):
    server.faults.extend([server_error(500)] * 3)
    t0 = time.monotonic()
    ask(client(server.url, backoff_s=0.1, max_backoff_s=10))
    # Full jitter in [cap/2, cap] with caps 0.1, 0.2, 0.4.
    assert 0.35 <= time.monotonic() - t0 < 2.0


def test_timeout_then_gives_up_with_endpoint_error(server):
    server.faults.extend([slow(1.0)] * 3)
    with pytest.raises(EndpointError, match=r"no answer within 0.3 s.*run the same command again"):
        ask(client(server.url, timeout_s=0.3, max_retries=2))
    assert server.requests == 3


def test_dead_endpoint_fails_with_its_url():
    url = dead_url()
    with pytest.raises(EndpointError) as e:
        ask(client(url, max_retries=2))
    assert url in str(e.value) and "cannot connect" in str(e.value)


def test_load_is_spread_over_endpoints():
    with ModelServer(latency=0.2) as a, ModelServer(latency=0.2) as b:
        ask(client(a.url, b.url), n=20)
        assert a.requests + b.requests == 20
        assert min(a.requests, b.requests) >= 8


def test_a_dead_endpoint_is_avoided(server):
    c = client(dead_url(), server.url, backoff_s=0.5, max_backoff_s=1)

    async def two_bursts():
        burst = [user_message("hi")]
        first = await asyncio.gather(*(c.chat(burst) for _ in range(20)))
        second = await asyncio.gather(*(c.chat(burst) for _ in range(20)))
        return first, second

    first, second = asyncio.run(two_bursts())
    assert server.requests == 40
    # The first burst is spread before anything is known; each request fails over once at most,
    # and once the endpoint is marked down the next burst no longer tries it.
    assert max(r.usage["retries"] for r in first) <= 1
    assert sum(r.usage["retries"] for r in second) == 0


def test_concurrency_is_bounded():
    with ModelServer(latency=0.1) as s:
        ask(client(s.url, concurrency=4), n=16)
        assert s.peak == 4


def test_refusals_are_not_retried(server):
    server.faults.append(server_error(400))
    with pytest.raises(ModelRequestError, match="HTTP 400"):
        ask(client(server.url))
    server.faults.append(server_error(404))
    with pytest.raises(EndpointError, match="404 for model 'test-model'"):
        ask(client(server.url))
    server.faults.append(server_error(401))
    with pytest.raises(EndpointError, match="OPENAI_API_KEY"):
        ask(client(server.url))
    assert server.requests == 3


def test_a_client_needs_an_endpoint():
    with pytest.raises(ConfigError, match="--endpoint"):
        ModelClient(ModelConfig())


def test_max_tokens_over_the_served_context_is_refused_before_any_request():
    with ModelServer(max_model_len=4096) as s:
        with pytest.raises(ConfigError) as e:
            check_context(ModelConfig(base_urls=[s.url], model="test-model", max_tokens=4096))
        assert s.requests == 0
        message = str(e.value)
        assert f"{s.url} serves 'test-model' with a context of 4096 tokens" in message
        assert f"max_tokens under [model] to {4096 - PROMPT_RESERVE} or less" in message
        assert f"--max-model-len {4096 + PROMPT_RESERVE} or more" in message
        check_context(ModelConfig(base_urls=[s.url], model="test-model", max_tokens=4096 - PROMPT_RESERVE))


def test_the_context_check_needs_the_server_to_say():
    with ModelServer() as unlisted, ModelServer(max_model_len=512) as small:
        for url, model in ((unlisted.url, "test-model"), (small.url, "other-model"), (dead_url(), "m")):
            check_context(ModelConfig(base_urls=[url], model=model, max_tokens=100_000))
        assert served_context(small.url, "test-model", None, 5) == 512
        with pytest.raises(ConfigError, match="a context of 512 tokens"):  # any endpoint too small
            check_context(ModelConfig(base_urls=[unlisted.url, small.url], model="test-model"))
