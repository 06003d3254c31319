"""The local literature page in a real headless Chromium: type a query, see results."""

import gzip
import json
import os
import shutil
import threading

import pytest

from sim2sky.literature.corpus import read_corpus
from sim2sky.literature.index import LitIndex
from sim2sky.literature.serve import make_server

pytest.importorskip("tantivy", reason="the 'lit' extra (tantivy) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def server(tmp_path):
    recs = [{"id": "2502.00002", "title": "Supernova remnants classified with [SII]/Halpha",
             "abstract": "Radiative shocks raise [SII]/Halpha above 0.4. We classify <b>supernova remnants</b> in NGC 300.",
             "categories": ["astro-ph.GA"], "authors": ["C. Author"], "date": "2025-02-10"},
            {"id": "2301.00003", "title": "Neutrino mass from CMB lensing", "abstract": "CMB lensing constrains neutrino masses.",
             "categories": ["astro-ph.CO"], "authors": [], "date": "2023-01-15"}]
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    LitIndex(tmp_path / "i", create=True).add(list(read_corpus(tmp_path / "c.jsonl.gz")))
    srv = make_server(tmp_path / "i", port=0)
    assert srv.server_address[0] == "127.0.0.1"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()


def test_api_search(server):
    import urllib.request

    with urllib.request.urlopen(server + "api/search?q=supernova+remnants") as resp:
        rows = json.loads(resp.read())
    assert rows[0]["id"] == "2502.00002"


def test_type_a_query_in_chromium(server):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page()
        page.goto(server)
        page.fill("#q", "which [SII]/Halpha ratio marks supernova remnants")
        page.click("#go")
        page.wait_for_selector("#results")
        first = page.locator("#paper-1")
        assert "Supernova remnants classified" in first.inner_text()
        assert first.locator("a").first.get_attribute("href") == "https://arxiv.org/abs/2502.00002"
        answer = page.locator("#answer")
        assert "0.4" in answer.inner_text()
        assert answer.locator("a[href='#paper-1']").count() >= 1  # clickable citation
        assert page.locator("b").count() == 1  # abstract HTML is escaped, not rendered (only the page's own <b>)
        browser.close()
