"""The page in a real browser (Debian's chromium driven by playwright): type a prompt, compare, and
see three texts stream in with no error on the page."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import MODEL_TYPES, make_tiny_checkpoints, serve_app, served

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (CI runs as root), no GPU, and nothing that phones home: the test runs offline.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no browser: {CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium; .ci/run does)",
)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with serve_app(served(make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints"))) as (_, url):
        yield url


@pytest.fixture
def page(url):
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.errors = []  # uncaught exceptions in the page's scripts
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(url)
        yield page
        browser.close()


def test_compare_in_the_browser_fills_all_three_columns_without_error(page):
    prompt = "BRUTUS:\nThe night is "
    page.get_by_role("tab", name="Compare").click()
    box = page.locator("#compare-prompt textarea")
    box.fill("")
    box.type(prompt)  # typed key by key, as a visitor would
    page.get_by_role("button", name="Compare all three").click()
    columns = [f"#compare-{name} textarea" for name in MODEL_TYPES]
    # the default length is 300: wait until every column holds the prompt and 300 more characters
    page.wait_for_function(
        "([sels, n]) => sels.every(s => { const t = document.querySelector(s); return t && t.value.length === n; })",
        arg=[columns, len(prompt) + 300], timeout=30_000,
    )
    for sel in columns:
        assert page.locator(sel).input_value().startswith(prompt)
    toasts = page.locator('[data-testid="toast-body"]')
    assert toasts.count() == 0, f"unexpected messages on the page: {toasts.all_inner_texts()}"
    assert page.errors == []


def test_inside_tab_shows_the_plots_heat_maps_and_units(page, tmp_path_factory):
    shots = tmp_path_factory.mktemp("inside-screenshots")
    page.get_by_role("tab", name="Inside the models").click()
    assert page.locator("#inside-passage textarea").input_value().strip()  # a default passage is there
    page.get_by_role("button", name="Look inside").click()
    page.wait_for_function("document.querySelectorAll('#inside-heat span').length > 100", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 6",
                           timeout=60_000)  # the curves, three bar charts and two gate scatters (the RNN's is empty)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(shots / "inside.png"), full_page=True)
    for name in ("k (characters back)", "LSTM gates", "GRU: top 5 next"):
        assert page.get_by_text(name).count() > 0, name
    assert page.get_by_text("correlates r = ").count() >= 3
    toasts = page.locator('[data-testid="toast-body"]')
    assert toasts.count() == 0, f"unexpected messages on the page: {toasts.all_inner_texts()}"
    assert page.errors == []
    print(f"screenshot: {shots / 'inside.png'}")
