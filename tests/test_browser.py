"""The page in a real browser (Debian's chromium driven by playwright): type a prompt, compare, and
see three texts stream in with no error on the page."""
from __future__ import annotations

from pathlib import Path

import pytest

import zipfile

from rnnlm.playground import racejobs
from tests.support import MODEL_TYPES, TEXT, make_tiny_checkpoints, serve_app, served

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
    races = racejobs.RaceServer(racejobs.Limits(min_seconds=2), tmp_path_factory.mktemp("races"))  # races of seconds
    old = racejobs.set_server(races)
    try:
        with serve_app(served(make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints"))) as (_, url):
            yield url
    finally:
        races.close()
        racejobs.set_server(old)


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


def test_train_on_an_uploaded_text_then_generate_from_it_and_download_the_zip(page, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    (tmp_path / "play.txt").write_text(TEXT, encoding="utf-8")
    page.get_by_role("tab", name="Train on your text").click()
    page.locator("#train-file input[type=file]").set_input_files(str(tmp_path / "play.txt"))
    seconds = page.locator("#train-seconds input[type=number]")
    seconds.fill("5")
    seconds.press("Enter")
    page.locator("#train-button").click()
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Done')", timeout=90_000)
    page.screenshot(path=str(shots / "train-done.png"), full_page=True)
    table = page.locator("#train-table").inner_text()
    assert all(label in table for label in ("vanilla RNN", "LSTM", "GRU"))  # three curves' latest points
    assert page.locator("#train-plot img").count() == 1
    assert len(page.locator("#train-sample-lstm textarea").input_value()) > 20
    with page.expect_download() as download:
        page.locator("#train-zip a").first.click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert {"rnn/model.safetensors", "lstm/README.md", "gru/config.json", "race.png"} <= set(names)

    page.get_by_role("tab", name="Generate").click()
    yours = page.locator("#generate-set").get_by_role("radio", name="Your text (trained in the Train tab)")
    assert yours.is_checked()  # the race switched the tabs to the new models
    page.get_by_role("radio", name="LSTM").click()
    box = page.locator("#generate-prompt textarea")
    box.fill("BRUTUS:")
    page.locator("#generate-button").click()
    out = page.locator("#generate-output textarea")
    page.wait_for_function("el => el.value.length >= 7 + 300", arg=out.element_handle(), timeout=30_000)
    assert out.input_value().startswith("BRUTUS:")
    page.screenshot(path=str(shots / "generate-yours.png"), full_page=True)
    print(f"screenshots in {shots}")
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
