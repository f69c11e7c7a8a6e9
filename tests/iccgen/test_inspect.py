"""The gallery in real headless Chromium, the funnel, the readers and the rejects sample, over
one tiny solid + diversity job run once for the module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iccgen.cli import main
from iccgen.config import load_config
from iccgen.runner import run_job

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def out(ray_session, tmp_path_factory) -> str:
    folder = str(tmp_path_factory.mktemp("job") / "out")
    run_job(load_config(pipelines=["solid", "diversity"], n=12, shard_size=6, workers=1, out=folder))
    return folder


def test_rejects_are_sampled_with_program_and_image_beside_the_shards(out):
    from iccgen.store import ShardStore

    store = ShardStore(out)
    tables = [store.read_rejects("diversity", u) for u in store.committed_units("diversity")]
    rows = [r for t in tables if t is not None for r in t.to_pylist()]
    counts = sum((sum(s["rejects"].values()) for _, s in store.iter_stats("diversity")), 0)
    assert rows and len(rows) <= counts
    assert all(r["code"] and r["reason"] for r in rows)
    drawn = [r for r in rows if r["reason"] == "near_duplicate"]
    assert drawn and all(r["image"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n" for r in drawn)


def test_readers_see_the_committed_rows_only(out, ray_session):
    import datasets
    import pandas as pd

    import iccgen

    table = iccgen.open(out).to_table(columns=["id", "pipeline"])
    assert table.num_rows == 24
    assert sorted(set(table.column("pipeline").to_pylist())) == ["diversity", "solid"]
    ds = datasets.load_dataset("parquet", data_files=f"{out}/*/*.parquet", split="train")
    assert len(ds) == 24 and ds[0]["image"].size[0] > 0
    assert len(pd.read_parquet(f"{out}/solid")) == 12
    assert ray_session.data.read_parquet(f"{out}/diversity").count() == 12


def test_stats_json_and_plot(out, tmp_path, capsys):
    png = tmp_path / "funnel.png"
    assert main(["stats", out, "--json", "--plot", str(png)]) == 0
    funnels = {f["pipeline"]: f for f in json.loads(capsys.readouterr().out)}
    d = funnels["diversity"]
    dropped = sum(sum(s["dropped"].values()) for s in d["stages"])
    assert d["candidates"] - dropped == d["kept"] == 12
    assert [s["name"] for s in d["stages"]][:2] == ["executed", "passed image and text checks"]
    assert d["rows_per_s"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gallery_in_chromium(out, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    gallery = tmp_path / "gallery"
    assert main(["inspect", out, "--html", str(gallery), "--n", "10"]) == 0
    with playwright.sync_playwright() as p:
        # Playwright gives every launch a fresh, empty profile of its own.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        # The page's CSP forbids eval, which Playwright's own evaluate() needs.
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, bypass_csp=True)
        page.goto((gallery / "index.html").as_uri())
        page.wait_for_function("[...document.images].every(i => i.complete)")
        widths = page.eval_on_selector_all(".card img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) == 20 and min(widths) > 0
        assert page.locator(".code .k").count() > 0  # pygments' keyword spans
        page.screenshot(path=str(tmp_path / "gallery.png"))
        page.select_option("#f-pipeline", "solid")
        assert page.locator(".card").count() == 10
        ids = page.eval_on_selector_all(".card h2", "hs => hs.map(h => h.textContent)")
        assert all(i.startswith("solid-") for i in ids)
        page.fill("#f-id", ids[3])
        assert page.locator(".card").count() == 1
        page.select_option("#f-pipeline", "")
        page.fill("#f-id", "")
        assert page.locator(".card").count() == 20
        page.click("#tab-rejects")
        reasons = page.eval_on_selector_all(".card .reason", "rs => rs.map(r => r.textContent)")
        assert "near_duplicate" in reasons
        page.select_option("#f-reason", "near_duplicate")
        assert page.locator(".card").count() == reasons.count("near_duplicate")
        page.screenshot(path=str(tmp_path / "rejects.png"))
        browser.close()


def test_status_watch_stops_once_the_job_is_finished(out):
    import io

    from rich.console import Console

    from iccgen.watch import finished, watch

    assert finished(out)
    console = Console(file=io.StringIO(), width=140, force_terminal=True)
    assert watch(out, console, every_s=0.01) == 0
    assert "units done" in console.file.getvalue()
