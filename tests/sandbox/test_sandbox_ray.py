"""The pool inside an async Ray actor, as a UnitWorker holds it: many programs in flight at once."""
from __future__ import annotations

import asyncio

import pytest

PLOT = "import matplotlib.pyplot as plt\nplt.bar(range({i}), range({i}))\nplt.title('actor {i}')\n"


@pytest.mark.slow  # starting Ray alone takes 6-40 s on a shared 2-core machine
def test_sandbox_in_async_actor(ray_session):
    ray = ray_session

    @ray.remote(num_cpus=0)
    class Worker:
        def __init__(self):
            from sandbox import Sandbox
            self.sb = Sandbox(workers=2)

        async def render_many(self, n: int):
            results = await asyncio.gather(*(self.sb.arun(PLOT.format(i=i + 1), trace=True)
                                             for i in range(n)))
            return [(r.status.value, r.trace["summary"]["titles"], r.width) for r in results]

        def close(self):
            self.sb.close()
            return True

    worker = Worker.remote()
    out = ray.get(worker.render_many.remote(8), timeout=120)
    assert out == [("ok", [f"actor {i + 1}"], 800) for i in range(8)]
    assert ray.get(worker.close.remote(), timeout=60)
    ray.kill(worker)
