"""CPU the model client spends per request, httpx's pool against aiohttp (not a test).

    .venv/bin/python benchmarks/model_client.py                 # 2,000 requests, 64 at once

The scripted model server of the tests runs in a child process (its CPU is not counted), answers
after 0.2 s and serves 64 requests at once. The openai client sends the same chat requests, half
with a 20 kB image, 64 in flight, once over its default httpx transport and once over
`DefaultAioHttpClient` (what `iccgen.model.ModelClient` uses); the script prints the client
process's CPU per request and the wall time of each, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iccgen.model import user_message  # noqa: E402

SERVER = f"""
import sys, time
sys.path.insert(0, {str(ROOT / "tests")!r})
from model_server import ModelServer, reply
with ModelServer(lambda r: reply("ok " * 40), capacity={{capacity}}, latency={{latency}}) as s:
    print(s.url, flush=True)
    time.sleep(3600)
"""


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def send(client: openai.AsyncOpenAI, n: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    png = b"\x89PNG" + bytes(20_000)

    async def one(i: int) -> None:
        async with gate:
            await client.chat.completions.create(
                model="bench", messages=[user_message("describe " * 200, (png,) if i % 2 else ())])

    await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()


def measure(url: str, transport: str, n: int, concurrency: int) -> tuple[float, float]:
    pool = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = (openai.DefaultAioHttpClient(limits=pool) if transport == "aiohttp"
            else openai.DefaultAsyncHttpxClient(limits=pool))
    client = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0, http_client=http)
    cpu0, t0 = cpu_s(), time.perf_counter()
    asyncio.run(send(client, n, concurrency))
    return (cpu_s() - cpu0) / n * 1000, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    code = SERVER.format(capacity=args.concurrency, latency=args.latency)
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        ideal = args.requests * args.latency / args.concurrency
        results = {t: measure(url, t, args.requests, args.concurrency) for t in ("httpx", "aiohttp")}
    finally:
        server.kill()
    print(f"{args.requests} requests, {args.concurrency} in flight, {args.latency:g} s each "
          f"(the endpoint alone needs {ideal:.1f} s)")
    for transport, (ms, wall) in results.items():
        print(f"{transport:8s} client CPU {ms:5.2f} ms/request, wall {wall:5.1f} s")
    print(f"httpx / aiohttp CPU per request: {results['httpx'][0] / results['aiohttp'][0]:.1f}x")


if __name__ == "__main__":
    main()
