"""iccgen's model client against vLLM itself: an answer and its usage, and vLLM's error answers
mapped to iccgen's errors (a refused request vs. a wrong endpoint), and the served context
read before the first request."""

from __future__ import annotations

import asyncio
import io

import pytest
from cpu_server import CONTEXT, IMAGE_LIMIT, Served
from PIL import Image, ImageDraw

from iccgen.config import ModelConfig
from iccgen.errors import ConfigError, EndpointError, ModelRequestError
from iccgen.model import PROMPT_RESERVE, ModelClient, check_context, served_context, user_message

pytestmark = [pytest.mark.realserver, pytest.mark.timeout(900)]


def figure(width: int = 320, height: int = 240) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((40, 60, 120, 200), fill="steelblue")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def ask(served: Served, images: tuple[bytes, ...], model: str | None = None, **params):
    client = ModelClient(ModelConfig(base_urls=[served.url], model=model or served.model,
                                     max_tokens=32, timeout_s=120, max_retries=1, backoff_s=0.1))

    async def once():
        try:
            return await client.chat([user_message("Describe the figure.", images)], **params)
        finally:
            await client.aclose()
    return asyncio.run(once())


def test_an_answer_and_its_usage_come_from_vllm(served):
    prompt_before, generated_before = served.tokens_served()
    reply = ask(served, (figure(),))
    prompt_after, generated_after = served.tokens_served()
    assert reply.text and reply.finish_reason in ("stop", "length") and reply.endpoint == served.url
    assert 0 < reply.usage["completion_tokens"] <= 32
    # a 320x240 image is 10 x 7.5 32-pixel cells: 80 image tokens (the grid rounds to 16-pixel
    # patches) plus the chat template and the text
    assert reply.usage["prompt_tokens"] > 80
    assert reply.usage["prompt_tokens"] == prompt_after - prompt_before
    assert reply.usage["completion_tokens"] == generated_after - generated_before


def test_a_wrong_model_name_is_the_endpoints_fault(served):
    with pytest.raises(EndpointError, match="answered 404 for model 'no-such-model'"):
        ask(served, (figure(),), model="no-such-model")


@pytest.mark.parametrize("images, why", [
    ((figure(),) * (IMAGE_LIMIT + 1), f"At most {IMAGE_LIMIT} image"),
    ((b"\x89PNG\r\n\x1a\n not an image",), "image"),
], ids=["too-many-images", "broken-image"])
def test_a_request_vllm_refuses_is_that_requests_fault(served, images, why):
    with pytest.raises(ModelRequestError, match="HTTP 400") as e:
        ask(served, images)
    assert why in str(e.value)


def test_max_tokens_over_the_context(served):
    with pytest.raises(ModelRequestError, match=f"HTTP 400.*max_model_len={CONTEXT}"):
        ask(served, (), max_tokens=CONTEXT + 1)
    assert served_context(served.url, served.model, None, 10) == CONTEXT
    with pytest.raises(ConfigError, match=f"a context of {CONTEXT} tokens"):
        check_context(ModelConfig(base_urls=[served.url], model=served.model, max_tokens=CONTEXT))
    check_context(ModelConfig(base_urls=[served.url], model=served.model,
                              max_tokens=CONTEXT - PROMPT_RESERVE))
