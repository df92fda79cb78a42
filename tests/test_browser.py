"""The page in a real browser (Debian's chromium driven by playwright), as a visitor meets it: on a 1440x900
screen and a 390x844 phone, by mouse and by keyboard alone, in the light and the dark theme.

Screenshots of every step go to $RNNLM_SCREENSHOTS when it is set (none otherwise); look at them.
"""
from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path

import pytest

from rnnlm.playground import racejobs
from rnnlm.playground.inputs import MAX_PROMPT, MAX_SCORE
from tests.support import MODEL_TYPES, REPO, TEXT, make_tiny_checkpoints, make_tiny_sets, serve_app, served

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (CI runs as root), no GPU, and nothing that phones home: the test runs offline.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
TABS = ["Generate", "Compare", "Score", "Inside the models", "Train on your text", "Gallery", "Models"]
CONTRAST = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")
# Roles a person operates: each needs an accessible name (what a screen reader says on reaching it).
CONTROLS = {"textbox", "slider", "radio", "checkbox", "combobox", "button", "spinbutton", "listbox", "tab", "searchbox"}

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


@pytest.fixture(scope="module")
def browser():
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class Shots:
    """Screenshots for a person to look at, in $RNNLM_SCREENSHOTS; none when it is not set. They assert
    nothing, so a failed capture (chromium can drop a very tall full-page capture on a busy machine) is a
    warning, not a failed test."""

    def __init__(self, folder: str | None):
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def take(self, page, name: str, full_page: bool = False) -> None:
        if self.folder is None:
            return
        from playwright.sync_api import Error as PlaywrightError

        try:
            page.screenshot(path=str(self.folder / name), full_page=full_page)
        except PlaywrightError as e:
            warnings.warn(f"screenshot {name} not taken: {e}")


@pytest.fixture(scope="module")
def shots():
    taker = Shots(os.environ.get("RNNLM_SCREENSHOTS"))
    yield taker
    if taker.folder:
        print(f"\nscreenshots in {taker.folder}")


def open_page(browser, url, viewport=DESKTOP, scheme="light"):
    """A fresh visitor's page (its own session), loaded, with its script errors collected in page.errors."""
    page = browser.new_page(viewport=viewport, color_scheme=scheme)
    page.errors = []  # uncaught exceptions in the page's scripts
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.get_by_role("tab", name="Generate", exact=True).wait_for()
    page.locator("#generate-prompt textarea").wait_for()  # the first tab's controls drawn, not only the tab strip
    return page


@pytest.fixture
def page(browser, url):
    page = open_page(browser, url)
    yield page
    page.close()


def wait_for_lengths(page, selectors, n, timeout=30_000):
    """Wait until every text box in selectors holds n characters."""
    page.wait_for_function(
        "([sels, n]) => sels.every(s => { const t = document.querySelector(s); return t && t.value.length === n; })",
        arg=[selectors, n], timeout=timeout)


def prompt_end(page, tab: str, ending: str) -> str:
    """The prompt's end shown above the tab's continuations, once it ends with `ending` (it is updated beside the
    models' run, not in its queue)."""
    sel = f"#{tab}-after pre"
    page.wait_for_function("([sel, end]) => document.querySelector(sel)?.innerText.trimEnd().endsWith(end)", arg=[sel, ending],
                           timeout=10_000)
    return page.locator(sel).inner_text()


def in_view(page, selector, at_least=150) -> bool:
    """Whether at least `at_least` pixels of the element's height are on screen, the page unscrolled."""
    return page.evaluate(
        """([sel, min]) => { const r = document.querySelector(sel).getBoundingClientRect();
             return window.scrollY === 0 && Math.min(r.bottom, innerHeight) - Math.max(r.top, 0) >= min; }""",
        [selector, at_least])


def slug(tab: str) -> str:
    return re.sub(r"\W+", "-", tab.lower())


def no_messages(page):
    toasts = page.locator('[data-testid="toast-body"]')
    assert toasts.count() == 0, f"unexpected messages on the page: {toasts.all_inner_texts()}"
    assert page.errors == []


# --- results in view ------------------------------------------------------------------------------


def test_compare_shows_the_prompt_once_and_three_continuations_in_view(page, shots):
    prompt = "BRUTUS:\nThe night is "
    page.get_by_role("tab", name="Compare").click()
    box = page.locator("#compare-prompt textarea")
    box.fill("")
    box.type(prompt)  # typed key by key, as a visitor would
    page.get_by_role("button", name="Compare all three").click()
    columns = [f"#compare-{name} textarea" for name in MODEL_TYPES]
    wait_for_lengths(page, columns, 300)  # the default length, and no copy of the prompt
    shots.take(page, "desktop-compare.png")
    for sel in columns:
        assert in_view(page, sel), f"{sel} is below the fold at 1440x900"
        assert not page.locator(sel).input_value().startswith("BRUTUS")
    assert prompt_end(page, "compare", "night is") == prompt  # once, above the columns
    no_messages(page)


def test_the_scores_of_a_long_passage_are_brought_into_view(page, shots):
    page.get_by_role("tab", name="Score").click()
    lines = [" ".join(reversed(line.split())) for line in TEXT.splitlines()[:40]]  # not in the training text
    page.locator("#score-text textarea").fill("\n".join(lines))
    table_top = "() => document.querySelector('#score-table').getBoundingClientRect().top"
    assert page.evaluate(table_top) > DESKTOP["height"]  # the table starts below the window
    page.locator("#score-button").click()
    page.locator("#score-heat .heatmap").first.wait_for(timeout=30_000)
    page.wait_for_function(f"() => {{ const top = ({table_top})(); return top >= 0 && top < innerHeight / 2; }}",
                           timeout=10_000)  # scrolled smoothly up to the table
    shots.take(page, "desktop-score-in-view.png")
    no_messages(page)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_long_compare_grows_its_columns_level_and_without_inner_scrollbars(browser, url, shots, viewport):
    page = open_page(browser, url, viewport=viewport)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill("BRUTUS:\nThe night is ")
    length = page.locator("#compare-length input[type=number]")
    length.fill("2000")
    length.press("Enter")
    page.get_by_role("button", name="more settings: top-k, top-p, seed").click()
    seed = page.locator("#compare-seed input")
    seed.wait_for()
    page.wait_for_timeout(300)  # the accordion opened: a value typed while it renders can be lost
    seed.fill("1")  # the same three texts every run: the tiny models' lines stay well under COLUMN_LINES
    page.locator("#compare-button").click()
    wait_for_lengths(page, [f"#compare-{name} textarea" for name in MODEL_TYPES], 2000, timeout=60_000)
    assert "seed 1" in page.get_by_text("Used:").inner_text()
    page.wait_for_timeout(500)  # the boxes' last resize
    if viewport == DESKTOP:  # one label a line longer than the others, as the bundled models' labels can be
        page.evaluate("""() => document.querySelector('#compare-rnn [data-testid=block-info]').firstChild
            .appendData(' (a label long enough to take one more line than the others do)')""")
        page.wait_for_timeout(300)
    name = "desktop" if viewport == DESKTOP else "phone"
    shots.take(page, f"{name}-compare-2000.png", full_page=True)
    columns = page.evaluate("""names => names.map(n => document.querySelector(`#compare-${n} textarea`)).map(t => ({
        frame: t.parentElement.getBoundingClientRect().height, box: t.getBoundingClientRect().height,
        top: t.getBoundingClientRect().top,
        hidden: t.scrollHeight - t.clientHeight,
        under: t.closest('.column').querySelector('.cmp-stats').getBoundingClientRect().top}))""", list(MODEL_TYPES))
    assert all(c["hidden"] <= 1 for c in columns), f"a column scrolls inside the page: {columns}"
    if viewport == DESKTOP:  # side by side: the texts start level, their frames end level, the lines under them too
        assert max(c["top"] for c in columns) - min(c["top"] for c in columns) <= 1, columns
        assert max(c["frame"] for c in columns) - min(c["frame"] for c in columns) <= 1, columns
        assert max(c["under"] for c in columns) - min(c["under"] for c in columns) <= 1, columns
        assert max(c["box"] for c in columns) == pytest.approx(columns[0]["frame"], abs=1)  # the longest text sets it
    page.close()


def test_generate_shows_the_prompt_dimmed_above_the_continuation(page, shots):
    prompt = "PORTIA:\nI pray you, gentle sir, what news from Rome?\nBRUTUS:\nThe night is "
    page.locator("#generate-prompt textarea").fill(prompt)
    page.locator("#generate-button").click()
    out = page.locator("#generate-output textarea")
    page.wait_for_function("el => el.value.length === 300", arg=out.element_handle(), timeout=30_000)
    shots.take(page, "desktop-generate.png")
    assert prompt_end(page, "generate", "night is") == "…" + "\n".join(prompt.split("\n")[-3:])
    assert "PORTIA" not in out.input_value()  # the box holds what the model wrote, nothing of the prompt
    looks = page.evaluate("""() => ['#generate-after pre', '#generate-output textarea'].map(s => {
        const e = document.querySelector(s), c = getComputedStyle(e);
        return [c.color, c.fontSize, c.backgroundColor].join(' '); })""")
    assert looks[0] != looks[1], f"the prompt and the continuation look the same: {looks[0]}"
    assert in_view(page, "#generate-after pre", at_least=30) and in_view(page, "#generate-output textarea")
    no_messages(page)


def test_the_prompt_end_drawn_in_the_browser_is_the_one_the_server_draws(page):
    import app  # the block is drawn by the page as the button is pressed, and by the server when a set is switched

    for prompt in ["", "BRUTUS:", "a <b> & 'c' \"d\"", "one\ntwo\nthree\nfour\n", "x" * 3000 + "\ny",
                   "ROMEO:\n" + "word " * 80]:
        for who in ("The model", "Each column"):
            shown = page.evaluate(f"p => ({app.prompt_end_js(who)})(p)", prompt)
            assert shown == app.prompt_end_html(prompt, who), prompt[:40]


def test_generate_by_keyboard_alone_with_the_focus_always_visible(page, shots):
    def focused():
        return page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return {box: e.closest("[id]")?.id || "", tag: e.tagName, type: e.type || "",
                    ring: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2}; }""")

    stops = []
    while not stops or stops[-1]["box"] != "generate-prompt":
        assert len(stops) < 15, f"the prompt is not within 15 Tab presses: {stops}"
        page.keyboard.press("Tab")
        stops.append(focused())
    page.keyboard.press("Control+a")
    page.keyboard.type("BRUTUS:")
    page.keyboard.press("Control+Enter")
    out = page.locator("#generate-output textarea")
    page.wait_for_function("el => el.value.length === 300", arg=out.element_handle(), timeout=30_000)
    assert prompt_end(page, "generate", "BRUTUS:") == "BRUTUS:"
    shots.take(page, "desktop-generate-keyboard.png")
    assert in_view(page, "#generate-output textarea")
    while stops[-1]["type"] != "range":  # on to the first slider
        assert len(stops) < 25, f"no slider within 25 Tab presses: {stops}"
        page.keyboard.press("Tab")
        stops.append(focused())
    assert [s for s in stops if not s["ring"]] == [], "focus without a visible ring"
    assert {"radio", "textarea", "range", "submit"} <= {s["type"] for s in stops}
    no_messages(page)


def test_a_paste_longer_than_the_limit_is_cut_with_a_note_in_view(page, shots):
    prompt = "".join(f"BRUTUS:\nLine {i} of a long speech.\n" for i in range(120))
    assert len(prompt) > MAX_PROMPT
    page.locator("#generate-prompt textarea").fill(prompt)  # as a paste: the whole text at once
    page.locator("#generate-button").click()
    page.get_by_text(f"using its last {MAX_PROMPT:,}").first.wait_for(timeout=30_000)
    shots.take(page, "desktop-generate-long-paste.png")
    shown = prompt_end(page, "generate", "Line 119 of a long speech.")
    assert shown.startswith("…") and prompt.rstrip().endswith(shown[1:].rstrip())
    assert in_view(page, "#generate-output textarea")  # the continuation, not the paste, fills the box

    page.get_by_role("tab", name="Score").click()
    page.locator("#score-text textarea").fill(prompt * 3)
    assert len(prompt * 3) > MAX_SCORE
    page.locator("#score-button").click()
    page.get_by_text(f"scoring its first {MAX_SCORE:,}").first.wait_for(timeout=30_000)
    assert page.errors == []


# --- every tab: contrast, names, and the phone --------------------------------------------------


def show_results(page, tab):
    """Fill a tab with results where it has them, so that they are checked too (from text in the tiny models'
    vocabulary: the defaults' other characters would be skipped, with a note)."""
    if tab == "Score":
        page.locator("#score-text textarea").fill(" ".join(reversed(TEXT[:400].split())))  # not in the training text
        page.locator("#score-button").click()
        page.locator("#score-heat .heatmap").first.wait_for(timeout=30_000)
    elif tab == "Compare":
        page.locator("#compare-prompt textarea").fill("BRUTUS:\nThe night is ")
        page.locator("#compare-button").click()
        wait_for_lengths(page, [f"#compare-{name} textarea" for name in MODEL_TYPES], 300)
    if tab in ("Score", "Compare"):  # the event's end: gradio dims outputs while they stream, then fades them in
        page.wait_for_function("() => !document.querySelector('.generating, .pending')", timeout=30_000)
        page.wait_for_timeout(500)


def unnamed_controls(page) -> list[str]:
    """The controls chromium's accessibility tree gives no name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        return [f"{n['role']['value']} (DOM node {n.get('backendDOMNodeId')})" for n in nodes
                if not n.get("ignored") and n.get("role", {}).get("value") in CONTROLS
                and not str(n.get("name", {}).get("value", "")).strip()]
    finally:
        cdp.detach()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_tab_passes_a_contrast_check_and_names_its_controls(browser, url, shots, scheme):
    page = open_page(browser, url, scheme=scheme)
    for tab in TABS:
        page.get_by_role("tab", name=tab, exact=True).click()
        page.wait_for_timeout(300)  # the tab's first paint
        show_results(page, tab)
        shots.take(page, f"desktop-{scheme}-{slug(tab)}.png", full_page=True)
        failures = page.evaluate(CONTRAST)
        assert failures == [], f"{tab} ({scheme}): text below WCAG AA contrast: {failures[:5]}"
        if tab == "Score":  # the probabilities in words under the map, not only in a tooltip for a mouse to find
            first = page.locator("#score-heat .surprises li").first
            assert first.is_visible() and " p = " in first.inner_text()
        if tab != "Models":  # one unit on the learner's pages: bits (the Models tab's cards give nats too)
            assert "nats" not in page.locator("body").inner_text(), f"{tab}: a figure in nats"
        assert unnamed_controls(page) == [], f"{tab} ({scheme}): controls without an accessible name"
    no_messages(page)
    page.close()


def test_the_phone_shows_every_tab_and_nothing_scrolls_sideways(browser, url, shots):
    page = open_page(browser, url, viewport=PHONE)
    for tab in TABS:
        button = page.get_by_role("tab", name=tab, exact=True)
        assert button.is_visible(), f"the {tab} tab is hidden on a phone"
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"the {tab} tab is off screen"
    for tab in TABS:
        page.get_by_role("tab", name=tab, exact=True).click()
        page.wait_for_timeout(300)
        show_results(page, tab)
        shots.take(page, f"phone-{slug(tab)}.png", full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{tab}: the page is {width} px wide on a {PHONE['width']} px phone"
        # and no table runs past the screen's edge, scrolling sideways in its box or cut off
        right = page.evaluate(
            "Math.max(0, ...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right))")
        assert right <= PHONE["width"], f"{tab}: a table reaches {right:.0f} px on a {PHONE['width']} px phone"
    no_messages(page)
    page.close()


def test_with_a_missing_model_the_compare_button_counts_what_is_there(browser, tmp_path_factory):
    folders = make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny-checkpoints")
    models = served({"rnn": folders["rnn"], "lstm": tmp_path_factory.mktemp("no-checkpoint"), "gru": folders["gru"]})
    with serve_app(models) as (_, url):
        page = open_page(browser, url)
        page.get_by_role("tab", name="Compare").click()
        assert page.locator("#compare-button").inner_text() == "Compare the 2 models (Ctrl+Enter)"
        page.locator("#compare-button").click()
        wait_for_lengths(page, ["#compare-rnn textarea", "#compare-gru textarea"], 300)
        assert page.get_by_text("LSTM is unavailable").first.is_visible()
        page.close()


# --- model sets ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sets_url(tmp_path_factory):
    """The app serving the bundled sets when the Sherlock words set is built here, else tiny ones."""
    from rnnlm import playground as pg

    built = (REPO / "checkpoints" / "sherlock-words" / "lstm" / "config.json").is_file()
    root = None if built else make_tiny_sets(tmp_path_factory.getbasetemp())
    with serve_app(pg.load_app_sets(root, {})) as (_, url):
        yield url, built


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_picking_the_sherlock_words_set_then_next_word_shows_each_models_ten_words(browser, sets_url, shots,
                                                                                     viewport):
    url, built = sets_url
    page = open_page(browser, url, viewport=viewport)
    assert not page.get_by_role("tab", name="Next word").is_visible()  # the first set reads characters
    page.locator("#model-set").get_by_role("radio", name="Sherlock Holmes · words").click()
    page.get_by_role("tab", name="Next word").click()
    assert page.locator("#next-prompt textarea").input_value() == "I will close the door if"
    if not built:  # the tiny models' words
        page.locator("#next-prompt textarea").fill("The cat sat on the")
    page.locator("#next-button").click()
    page.wait_for_function("document.querySelectorAll('#next-bars-0 .bar, #next-bars-0 [data-testid=\"label-output-value\"]')"
                           ".length > 0 && document.querySelector('#next-text-0 textarea').value.length > 0",
                           timeout=60_000)
    name = "desktop" if viewport is DESKTOP else "phone"
    shots.take(page, f"{name}-sherlock-next-word.png", full_page=True)
    assert page.locator("#next-bars-0").inner_text().count("%") >= 10  # ten words, each with its probability as text
    failures = page.evaluate(CONTRAST)
    assert failures == [], f"Next word: text below WCAG AA contrast: {failures[:5]}"
    assert unnamed_controls(page) == []
    if viewport is PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("tab", name="Which sentence is more likely?").click()
    page.locator("#sentences-button").click()
    page.locator("#sentences-table table").first.wait_for(timeout=60_000)
    page.wait_for_function("document.querySelector('#sentences-table').innerText.includes('LSTM')", timeout=60_000)
    shots.take(page, f"{name}-sherlock-sentences.png", full_page=True)
    page.locator("#model-set").get_by_role("radio", name="Shakespeare · characters").click()
    page.get_by_role("tab", name="Which sentence is more likely?").wait_for(state="hidden")  # back to characters
    assert page.errors == []  # (a note may name a sentence's words the models never saw: that is the point)
    page.close()


# --- the API page ----------------------------------------------------------------------------------


def test_the_api_page_snippets_run_as_shown(page, shots):
    page.get_by_role("button", name=re.compile("Use via API")).click()
    page.get_by_text('api_name="/generate"').first.wait_for()
    shots.take(page, "desktop-api-page.png")
    snippets = {}
    for code in page.locator("pre").all_inner_texts():
        if "client.predict(" in code and (name := re.search(r'api_name="(/\w+)"', code)):
            snippets[name.group(1)] = code
    assert {"/generate", "/compare", "/score", "/train"} <= snippets.keys()
    for name, code in snippets.items():
        compile(code, f"the API page's {name} snippet", "exec")  # each one parses
    for name in ("/generate", "/compare", "/score"):
        scope = {}
        exec(snippets[name], scope)  # as shown: the snippet names this server
        result = scope["result"]
        if name == "/generate":
            assert len(result[0]) == 300  # the continuation, as /compare gives each model's
        elif name == "/compare":
            assert all(len(text) == 300 for text in result[:3])
        else:
            assert [row[0] for row in result[0]["data"]] == ["vanilla RNN", "LSTM", "GRU"]
    returns = page.locator(".api-docs").inner_text()
    assert not re.search(r"value_\d+", returns), "an output the API page names only by number"


# --- training in the page ---------------------------------------------------------------------------


def test_train_on_an_uploaded_text_then_generate_from_it_and_download_the_zip(page, tmp_path, shots):
    (tmp_path / "play.txt").write_text(TEXT, encoding="utf-8")
    assert page.locator("#model-set").get_by_role("radio").count() == 1  # one model set until the race adds one
    page.get_by_role("tab", name="Train on your text").click()
    page.locator("#train-file input[type=file]").set_input_files(str(tmp_path / "play.txt"))
    seconds = page.locator("#train-seconds input[type=number]")
    seconds.fill("5")
    seconds.press("Enter")
    page.locator("#train-button").click()
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Done')", timeout=90_000)
    shots.take(page, "desktop-train-done.png", full_page=True)
    table = page.locator("#train-table").inner_text()
    assert all(label in table for label in ("vanilla RNN", "LSTM", "GRU"))  # three curves' latest points
    assert "bits/char" in table and "nats" not in page.locator("body").inner_text()
    assert page.locator("#train-plot img").count() == 1
    assert len(page.locator("#train-sample-lstm textarea").input_value()) > 20
    with page.expect_download() as download:
        page.locator("#train-zip a").first.click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert {"rnn/model.safetensors", "lstm/README.md", "gru/config.json", "race.png"} <= set(names)

    page.get_by_role("tab", name="Generate").click()
    yours = page.locator("#model-set").get_by_role("radio", name="Your text (trained in the Train tab)")
    assert yours.is_checked()  # the race showed the model sets and switched the tabs to the new models
    page.get_by_role("radio", name="LSTM").click()
    box = page.locator("#generate-prompt textarea")
    box.fill("BRUTUS:")
    page.locator("#generate-button").click()
    out = page.locator("#generate-output textarea")
    page.wait_for_function("el => el.value.length === 300", arg=out.element_handle(), timeout=30_000)
    shots.take(page, "desktop-generate-yours.png", full_page=True)
    assert page.errors == []


def test_inside_tab_shows_the_plots_heat_maps_and_units(page, shots):
    page.get_by_role("tab", name="Inside the models").click()
    assert page.locator("#inside-passage textarea").input_value().strip()  # a default passage is there
    page.get_by_role("button", name="Look inside").click()
    page.wait_for_function("document.querySelectorAll('#inside-heat span').length > 100", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 6",
                           timeout=60_000)  # the curves, three bar charts and two gate scatters (the RNN's is empty)
    page.wait_for_timeout(1000)
    shots.take(page, "desktop-inside.png", full_page=True)
    for name in ("k (characters back)", "LSTM gates", "GRU: top 5 next"):
        assert page.get_by_text(name).count() > 0, name
    assert page.get_by_text("correlates r = ").count() >= 3
    no_messages(page)
