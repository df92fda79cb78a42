"""rnnlm playground: generate with, compare, score and browse small recurrent language models.

    python app.py    serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change that)

The view only: layout and wiring. build_demo(models) lays out a page for any list of served models (tests
build one from fixture models); which models are served, from where, and the fallbacks are
rnnlm.playground.load_app_models' policy. Every action is a call into rnnlm.playground.
"""
from __future__ import annotations

import contextlib
import html
import io
import math
import os
import time
from importlib.util import find_spec
from pathlib import Path

import gradio as gr
from PIL import Image
import pandas as pd

from rnnlm import playground as pg
from rnnlm import threads
from rnnlm.hub import HubError, redact
from rnnlm.models import MODELS
from rnnlm.playground import guard
from rnnlm.playground.apidocs import one_line_defaults
from rnnlm.playground.copies import copies_html, copy_report, recall_note, training_index
from rnnlm.playground.examples import DEFAULT_PROMPT, EXAMPLES, SCORE_EXAMPLES
from rnnlm.playground import inside as ins_view
from rnnlm.playground.inputs import DEFAULTS, MAX_GENERATE, MAX_PROMPT, MAX_TEMPERATURE, MAX_TOP_K
from rnnlm.playground import racejobs
from rnnlm.playground.race import race_types
from rnnlm.playground.raceplot import race_png

NO_MODEL = "No model is available: the list at the top of the page says why for each."
# One model request at a time, using every core: a batch-1 step is memory-bound, so two requests on
# two cores finish no sooner, and each waits on the other (measured: compare 1.1 s alone on 2 threads,
# 1.4 s on 1 thread). Up to QUEUE_SIZE more wait their turn; then visitors are told to retry.
MODELS_RUN = dict(concurrency_id="models", concurrency_limit=1)
QUEUE_SIZE = 64


# --- handlers: check inputs, call rnnlm.playground, shape its results for the components ------------


def fail(message: str) -> gr.Error:
    """A gr.Error for the visitor; an expected one, so the server log gets no traceback."""
    return gr.Error(message, print_exception=False)


def notes_markdown(notes: list[pg.Note]) -> str:
    """Show each note as a toast, and return them as Markdown (API callers read them there)."""
    for n in notes:
        (gr.Warning if n.level == "warning" else gr.Info)(n.text)
    return "\n".join(f"- {n.text}" for n in notes)


def dedupe(notes: list[pg.Note]) -> list[pg.Note]:
    """Notes without repeats (three models with one vocabulary skip the same characters)."""
    seen, out = set(), []
    for n in notes:
        if n.text not in seen:
            seen.add(n.text)
            out.append(n)
    return out


def checked(prompt, length, temperature, top_k, top_p, seed) -> pg.Request:
    """The sampling inputs checked and clamped, or a gr.Error."""
    try:
        return pg.check_sampling(prompt, length, temperature, top_k, top_p, seed)
    except pg.InputError as e:
        raise fail(str(e)) from None


BUNDLED, YOURS = "bundled", "yours"  # the model sets: the served checkpoints, or those trained in this session
MODEL_SETS = [("bundled (Tiny Shakespeare)", BUNDLED), ("Your text (trained in the Train tab)", YOURS)]


def session_of(request) -> str:
    """The visitor's session id (one per open page, or per API client)."""
    return getattr(request, "session_hash", None) or "anonymous"


def model_set_radio(view, tab: str) -> gr.Radio:
    """Which models a tab uses: the bundled ones or the visitor's own. Hidden until a race in the Train tab gives
    the visitor models of their own (it then shows the radio and selects them): until then it is a choice of one."""
    radio = gr.Radio(MODEL_SETS, value=BUNDLED, label="model set", elem_id=f"{tab}-set", visible=False,
                     info="'Your text': the models trained in the 'Train on your text' tab (this session only).")
    view.__dict__.setdefault("set_radios", []).append(radio)
    return radio


class View:
    """The handlers of one page, bound to the models it serves."""

    def __init__(self, models: list[pg.Served]):
        self.models = list(models)
        self.available = [m for m in self.models if m.available]
        # baselines (the n-gram) score beside the networks; Compare adds them only when asked
        self.baselines = [m for m in self.models if m.name in MODELS and MODELS[m.name].baseline]
        self.networks = [m for m in self.models if m not in self.baselines]
        self.gallery = pg.Gallery.read(self.models)
        self.lapse_steps = [f"{f:.0%}" for f in self.gallery.lapse_fractions()]
        # the best model by recorded validation loss is what a first visit should show
        ranked = sorted([m for m in self.available if m in self.networks],
                        key=lambda m: m.metrics.get("val_nats_per_char", float("inf")))
        self.default_model = (ranked or self.models)[0].name if self.models else None
        self.vocab_size = self.available[0].model.config.vocab_size if self.available else 65

    def pick_model(self, name) -> pg.Served:
        """The model named by an API caller or the radio ('lstm' or 'LSTM'), or a clear error."""
        wanted = str(name).strip().lower()[:100]
        for m in self.models:
            if wanted in (m.name, m.label.lower()):
                if not m.available:
                    raise fail(m.error)
                return m
        raise fail(f"unknown model {str(name)[:40]!r}; choose one of: {', '.join(m.name for m in self.models)}")

    def generate(self, model, prompt, length, temperature, top_k, top_p, seed, show_copied=False):
        """Stream one model's text: (prompt + continuation, stats, notes, copied-from-training view)."""
        m = self.pick_model(model)
        req = checked(prompt, length, temperature, top_k, top_p, seed)
        pg.check_known(req.prompt, m.model.vocab, req.notes)
        notes = notes_markdown(req.notes)
        c = None
        for c in pg.generate_stream(m, req.prompt, req.settings):
            yield req.prompt + c.text, f"{pg.column_stats(c)}  \n{req.summary()}", notes, ""
        if c is not None and show_copied is True:
            yield req.prompt + c.text, f"{pg.column_stats(c)}  \n{req.summary()}", notes, self.copies([(m, c.text)])

    def copies(self, texts: list[tuple[pg.Served, str]]) -> str:
        """Each generated text with the stretches it shares with its model's training text marked."""
        parts = []
        for m, text in texts:
            index = training_index(m.model.config)
            if index is None:
                name = m.model.config.training.get("data") or "its training text"
                parts.append(f"<p><b>{m.label}</b>: {name} is not on this machine (set RNNLM_DATA_DIR to the folder "
                             "that holds it, or run <code>python -m rnnlm download</code>), so copies cannot be "
                             "checked.</p>")
            else:
                parts.append(copies_html(m.label, text, copy_report(index, text)))
        return "".join(parts)

    def compare(self, prompt, length, temperature, top_k, top_p, seed, with_baseline=False, show_copied=False):
        """Stream the models' continuations of one prompt side by side from one random stream: N continuations (the
        prompt is not repeated in each), N stats lines, notes, copies.

        The networks always; the baselines (the n-gram) when with_baseline is true.
        """
        chosen = [m for m in self.available if with_baseline is True or m not in self.baselines]
        if not chosen:
            raise fail(NO_MODEL)
        req = checked(prompt, length, temperature, top_k, top_p, seed)
        for m in chosen:
            pg.check_known(req.prompt, m.model.vocab, req.notes)
        notes = notes_markdown(dedupe(req.notes)) + f"\n\nUsed: {req.summary()}"
        columns = []
        for columns in pg.compare_stream(chosen, req.prompt, req.settings):
            yield *self._compare_outputs(columns, req), notes, ""
        if columns and show_copied is True:
            yield *self._compare_outputs(columns, req), notes, self.copies([(c.loaded, c.text) for c in columns])

    def _compare_outputs(self, columns, req) -> list[str]:
        """The continuations and the stats lines of every model's column (empty for a model not compared)."""
        by_name = {c.loaded.name: c for c in columns}
        texts, stats = [], []
        for m in self.models:
            c = by_name.get(m.name)
            texts.append(c.text if c else "")
            stats.append(f"{pg.model_facts(m)}  \n{pg.column_stats(c)}" if c else (m.error or "not compared"))
        return texts + stats

    def score(self, text):
        """Score text with every model: (table, heat map, next-char top-10 per model, notes)."""
        if not self.available:
            raise fail(NO_MODEL)
        try:
            notes = []
            for m in self.available:
                text, more = pg.check_score_text(text, m.model.vocab)
                notes += more
            results = pg.score_all(self.available, text)
        except (pg.InputError, ValueError) as e:
            raise fail(str(e)) from None
        recall = recall_note(training_index(self.available[0].model.config), text)
        if recall:
            notes.append(pg.Note("warning", recall))
        tops = {m.name: pg.next_char_top(m, s) for m, s in results}
        labels = [tops.get(m.name) for m in self.models]
        networks = [(m, s) for m, s in results if m in self.networks]
        maps = (pg.difference_html(networks) + "<details><summary>each model's surprisal, character by character"
                "</summary>" + pg.heatmap_html(results) + "</details>")
        return pg.score_rows(results), maps, *labels, notes_markdown(dedupe(notes))

    def lapse_frame(self, step):
        """The time-lapse texts at one point of training (a label like '20%')."""
        steps = self.lapse_steps
        index = steps.index(step) if step in steps else len(steps) - 1
        return [gr.Textbox(label=caption, value=text) for caption, text in self.gallery.lapse_frame(index)]

    def lapse_play(self):
        """Step through the time-lapse, a frame every 1.5 s."""
        for i, step in enumerate(self.lapse_steps):
            if i:
                time.sleep(1.5)
            yield step, *self.lapse_frame(step)

    def status_markdown(self) -> str:
        """Which models are loaded from where, which are unavailable and why, and which replace the one asked for."""
        lines = []
        for m in self.models:
            lines.append(f"- **{m.label}**: {m.source}" if m.available else f"- ⚠️ {m.error}")
            if m.note:
                lines.append(f"  - ⚠️ {m.note}")
        return "\n".join(lines)

    def warn_fallbacks(self) -> None:
        """Toast each model's note as the page opens: the status list is easy to read past."""
        for m in self.models:
            if m.note:
                gr.Warning(m.note)

    # --- Train on your text: races (rnnlm.playground.racejobs), and the session's models in the other tabs ---

    @property
    def races(self) -> racejobs.RaceServer:
        return racejobs.server()

    def session_view(self, request) -> "View":
        """A view over the models this visitor trained, or a clear error when there are none."""
        session = self.races.sessions.get(session_of(request))
        if session is None:
            raise fail("No models trained on your text in this session (they are freed an hour after training, or "
                       "when you leave the page): train them in the 'Train on your text' tab first.")
        if session.view is None:
            session.view = View(session.served)
        return session.view

    def generate_from(self, model, prompt, length, temperature, top_k, top_p, seed, show_copied=False,
                      model_set=BUNDLED, request: gr.Request = None):
        """generate, from the bundled models or from this visitor's ('Your text')."""
        view = self.session_view(request) if model_set == YOURS else self
        yield from view.generate(model, prompt, length, temperature, top_k, top_p, seed, show_copied)

    def compare_from(self, prompt, length, temperature, top_k, top_p, seed, with_baseline=False, show_copied=False,
                     model_set=BUNDLED, request: gr.Request = None):
        """compare, from the bundled models or from this visitor's, laid out in the page's columns by model type."""
        if model_set != YOURS:
            yield from self.compare(prompt, length, temperature, top_k, top_p, seed, with_baseline, show_copied)
            return
        view = self.session_view(request)
        n = len(view.models)
        for out in view.compare(prompt, length, temperature, top_k, top_p, seed, False, show_copied):
            texts = {m.name: (t, st) for m, t, st in zip(view.models, out[:n], out[n : 2 * n])}
            missing = ("", "not among the models trained on your text")
            yield (*[texts.get(m.name, missing)[0] for m in self.models],
                   *[texts.get(m.name, missing)[1] for m in self.models], *out[2 * n :])

    def score_from(self, text, model_set=BUNDLED, request: gr.Request = None):
        """score, with the bundled models or this visitor's; next-character charts placed by model type."""
        if model_set != YOURS:
            return self.score(text)
        view = self.session_view(request)
        table, heat, *labels, notes = view.score(text)
        by_name = dict(zip((m.name for m in view.models), labels))
        return table, heat, *[by_name.get(m.name) for m in self.models], notes

    def race_start(self, file=None, text=None, seconds=None, models=None, size="auto", request: gr.Request = None):
        """Queue a race on the visitor's text and stream its progress: status, figure, table, samples, zip, sets."""
        races, session = self.races, session_of(request)
        try:
            if file:
                body, name = racejobs.read_upload(file, races.limits.max_bytes), Path(file).name
            else:
                body, name = text, "text"
            job = races.submit(session, body, seconds, models, size or "auto", name)
        except (pg.InputError, ValueError) as e:
            raise fail(str(e)) from None
        shown = -1
        try:
            while True:
                settled = job.settled  # read first: the outputs below are then at least as new as it
                count = sum(len(p) for p in job.points.values())
                yield self.race_outputs(job, count != shown)
                shown = count
                if settled:
                    break
                races.wait(job, 1.0)
        finally:
            if not job.finished:  # the page went away mid-race (the event was cancelled): nobody is watching
                races.stop(session)

    def race_outputs(self, job, new_points: bool = True):
        """What the Train tab shows of job now."""
        labels = {m: MODELS[m].label for m in race_types()}
        figure = gr.skip()
        if new_points and job.points:
            title = f"validation (solid) and training (faint) nats/char · {job.plan.size} models"
            figure = Image.open(io.BytesIO(race_png(job.points, labels, title, vocab_size=job.vocab_size)))
        rows = []
        for name, points in job.points.items():
            last = points[-1]
            train = f"{last['train']:.3f}" if last.get("train") is not None else ""
            rows.append([labels.get(name, name), f"{last['params']:,}", last["seconds"], last["steps"],
                         f"{last['chars']:,}", round(last["val"], 4), round(last["best"], 4), train])
        samples = [(job.points.get(m) or [{}])[-1].get("sample", "") for m in race_types()]
        finished_ok = job.finished and self.races.sessions.get(job.session) is not None \
            and self.races.sessions.get(job.session).job is job
        zipped = gr.skip()
        sets = [gr.skip()] * 3
        if finished_ok:
            zipped = str(racejobs.zip_models(job, {"race.png": race_png(job.points, labels, vocab_size=job.vocab_size)}))
            sets = [gr.Radio(value=YOURS, visible=True)] * 3
        return (self.race_status(job), figure, rows, *samples, zipped, *sets)

    def race_status(self, job) -> str:
        """The race's state in words: queue position and wait, progress, or how it ended."""
        races, plan = self.races, job.plan
        if job.state == "queued":
            return (f"Waiting: position **{races.position(job)}** in the queue, about **{races.wait_seconds(job):.0f} s** "
                    "before your race starts (one race trains at a time on this server).")
        if job.state == "running":
            elapsed = time.monotonic() - (job.started or time.monotonic())
            first = "" if job.points else " Loading the models; the first curve point comes in a few seconds."
            return (f"Training: {elapsed:.0f} of {plan.seconds:.0f} s. Equal CPU time for each model, one thread. "
                    f"Size {plan.why}.{first}")
        if job.state in ("done", "stopped") and job.points:
            verb = "Done" if job.state == "done" else "Stopped: the best checkpoint of each model so far is kept"
            return (f"{verb}. Your models are now the **Your text** set in Generate, Compare and Score (this "
                    "session only, freed after an hour). Download them below, or push them to the Hub.")
        return f"⚠️ {job.message or job.state}"

    def race_stop(self, request: gr.Request = None) -> str:
        """Stop this visitor's race (or take it out of the queue)."""
        job = self.races.stop(session_of(request))
        if job is None:
            return "No race to stop."
        self.races.wait(job, 5)
        return self.race_status(job)

    def race_push(self, owner=None, token=None, private=True, request: gr.Request = None,
                  oauth_token: gr.OAuthToken | None = None) -> str:
        """Push this visitor's models to the Hub; the commit URLs, or what went wrong."""
        session = self.races.sessions.get(session_of(request))
        if session is None:
            raise fail("Nothing to push: train models on your text first (they are kept for an hour).")
        secret = (token or "").strip() or (oauth_token.token if oauth_token is not None else "") \
            or os.environ.get("HF_TOKEN", "")
        try:
            urls = racejobs.push_models(session.job, secret, owner, private is not False)
        except (pg.InputError, HubError, ValueError) as e:
            raise fail(redact(e)) from None
        return "\n".join(f"- **{MODELS[m].label}**: {u}" for m, u in urls.items())

    def race_leave(self, request: gr.Request = None) -> None:
        """The page was closed: stop the visitor's race and free their models."""
        self.races.end_session(session_of(request))
    # --- Inside the models ---

    def inside_models(self) -> list[pg.Served]:
        """The networks the Inside tab shows: every non-baseline model with a hidden state (or its error)."""
        from rnnlm.inspect import inspectable

        return [m for m in self.networks if not m.available or inspectable(m.model)]

    def _inside_samples(self) -> ins_view.Samples:
        if not hasattr(self, "_samples"):
            self._samples = ins_view.Samples()  # held-out statistics, computed at first use and kept
        return self._samples

    def inside_gradients(self, text=None):
        """Gradient flow: (curves, one explanation per model, notes)."""
        rows, captions, notes = ins_view.gradient_view(self.inside_models(), text)
        return pd.DataFrame(rows), *captions, "\n".join(f"- {n}" for n in notes)

    def inside_looked_at(self, text=None, position=None):
        """What each prediction looked at: (heat maps, top-5 bars per model, explanations, notes)."""
        heat, bars, captions, notes = ins_view.looked_at_view(self.inside_models(), text, position)
        return heat, *[pd.DataFrame(b) for b in bars], *captions, "\n".join(f"- {n}" for n in notes)

    def inside_neurons(self, text=None, feature=None, rank=None):
        """Ranked units per model, the passage coloured by the chosen one: (HTML per model, explanations, notes)."""
        htmls, captions, notes = ins_view.neuron_view(self.inside_models(), self._inside_samples(), text, feature, rank)
        return *htmls, *captions, "\n".join(f"- {n}" for n in notes)

    def inside_gates(self, text=None):
        """Gate saturation per unit: (scatter per model, explanations, notes)."""
        tables, captions, notes = ins_view.gate_view(self.inside_models(), self._inside_samples(), text)
        return *[pd.DataFrame(t) for t in tables], *captions, "\n".join(f"- {n}" for n in notes)


# --- layout ----------------------------------------------------------------------------------------


def sampling_controls(tab: str, side_by_side: bool = False):
    """Length and temperature in view (in one row when side_by_side), top-k, top-p and seed folded under "more
    settings" (elem_id: tab-length ...).

    Returns the five inputs in the API's order and the accordion, for the tab's other settings."""
    with gr.Row() if side_by_side else contextlib.nullcontext():
        length = gr.Slider(1, MAX_GENERATE, value=DEFAULTS["length"], step=1, label="length",
                           info="Characters to generate.", elem_id=f"{tab}-length")
        temperature = gr.Slider(
            0, MAX_TEMPERATURE, value=DEFAULTS["temperature"], step=0.05, label="temperature",
            elem_id=f"{tab}-temperature",
            info="0 = always the likeliest character; below 1 safer and more repetitive, above 1 wilder.")
    with gr.Accordion("more settings: top-k, top-p, seed", open=False) as more:
        top_k = gr.Slider(0, MAX_TOP_K, value=DEFAULTS["top_k"], step=1, label="top-k", elem_id=f"{tab}-top-k",
                          info="Pick only among the k likeliest characters. 0 = off.")
        top_p = gr.Slider(
            0.01, 1, value=DEFAULTS["top_p"], step=0.01, label="top-p", elem_id=f"{tab}-top-p",
            info="Pick only among the likeliest characters that together hold this much probability. 1 = off.")
        seed = gr.Textbox(value=DEFAULTS["seed"], label="seed", max_lines=1, elem_id=f"{tab}-seed",
                          info="A whole number gives the same text every time; 'random' draws one (and shows it).")
    return [length, temperature, top_k, top_p, seed], more


def copied_toggle(tab: str) -> gr.Checkbox:
    """Whether to mark, under the result, what the text copies verbatim from the model's training text."""
    return gr.Checkbox(False, label="mark text copied from the training text", elem_id=f"{tab}-copied",
                       info="Highlights every stretch of 20+ characters found verbatim in what the model read.")


def prompt_box(elem_id: str, lines: int = 3) -> gr.Textbox:
    """The prompt input, with the default Shakespearean prompt. No length cap in the browser: the server keeps
    the last MAX_PROMPT characters and says so (a browser cap would cut silently)."""
    return gr.Textbox(DEFAULT_PROMPT, label="prompt", lines=lines, max_lines=8, elem_id=elem_id,
                      info="The model reads this first, then continues it. Characters it never saw are skipped.")


def header(view: View) -> None:
    gr.Markdown(
        "# RNN vs LSTM vs GRU, one character at a time\n"
        "Three small networks read the same Shakespeare one character at a time and learned to guess the next. "
        "**Start here: Compare**, and watch which one keeps a speaker, a colon and a verse line going. "
        "Then Generate with one model, Score a text of your own, or open the Gallery to see them learn."
    )
    with gr.Accordion("where the models come from", open=any(m.note or not m.available for m in view.models)):
        gr.Markdown(view.status_markdown(), elem_classes="status")


def generate_tab(view: View) -> None:
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                model = gr.Radio([(m.label, m.name) for m in view.models], label="model", value=view.default_model,
                                 info="Which model continues your prompt.", elem_id="generate-model")
                model_set = model_set_radio(view, "generate")
                prompt = prompt_box("generate-prompt", lines=3)
                button = gr.Button("Generate (Ctrl+Enter)", variant="primary", elem_id="generate-button")
                settings, more = sampling_controls("generate")
                with more:
                    copied = copied_toggle("generate")
            with gr.Column(scale=3, min_width=320):
                text = gr.Textbox(label="your prompt, then the model's continuation", lines=14, max_lines=24,
                                  interactive=False, autoscroll=True, buttons=["copy"], elem_id="generate-output")
                stats = gr.Markdown(elem_classes="stats", label="speed and settings")
                notes = gr.Markdown(elem_classes="notes", label="notes")
                copies = gr.HTML(elem_id="generate-copies", label="copied from the training text")
        gr.Examples(EXAMPLES, [prompt, settings[1]], label="Try these prompts (click one, then Generate)")
        gr.Markdown(
            "**Notice:** the text streams in as it is sampled, one character per step of the network, with "
            "one random number per character. Set a seed and generate twice: the same text. Lower the temperature "
            "to 0.2 and the model repeats its favourite words; raise it to 1.5 and it invents new ones."
        )
    button.click(view.generate_from, [model, prompt, *settings, copied, model_set], [text, stats, notes, copies],
                 api_name="generate",
                 preprocess=False, show_progress="minimal", **MODELS_RUN)


def compare_button_label(view: View) -> str:
    """What the Compare button says: how many networks it runs, as many as are loaded."""
    n = len([m for m in view.available if m in view.networks])
    label = "Compare all three" if n == 3 else f"Compare the {n} models" if n > 1 else "Compare"
    return f"{label} (Ctrl+Enter)"


def prompt_tail_html(prompt) -> str:
    """The end of the prompt, shown once above the compare columns: each column's text starts where it stops."""
    lines = str(prompt or "")[-MAX_PROMPT:].split("\n")
    tail = ("…" if len(lines) > 3 else "") + "\n".join(lines[-3:])[-240:]
    return f'<div class="cmp-after">Each column continues your prompt, which ends:<pre>{html.escape(tail)}</pre></div>'


def compare_tab(view: View) -> None:
    with gr.Tab("Compare"):
        with gr.Row():
            with gr.Column(scale=3, min_width=320):
                prompt = prompt_box("compare-prompt", lines=2)
                button = gr.Button(compare_button_label(view), variant="primary", elem_id="compare-button")
            with gr.Column(scale=2, min_width=320):
                model_set = model_set_radio(view, "compare")
                settings, more = sampling_controls("compare", side_by_side=True)
                with more:
                    baseline = gr.Checkbox(False, label="add the n-gram baseline as a column",
                                           elem_id="compare-baseline", visible=bool(view.baselines),
                                           info="A count-based model: how much do the networks beat counting?")
                    copied = copied_toggle("compare")
        after = gr.HTML(prompt_tail_html(DEFAULT_PROMPT), elem_id="compare-after", label="the end of the prompt")
        with gr.Row(equal_height=True):
            texts, stats, baseline_columns = [], [], []
            for m in view.models:
                with gr.Column(visible=m not in view.baselines, min_width=300) as column:
                    if m in view.baselines:
                        baseline_columns.append(column)
                    texts.append(gr.Textbox(label=f"{m.label} · {pg.model_facts(m)}", lines=12, max_lines=40,
                                            interactive=False, autoscroll=True, elem_id=f"compare-{m.name}",
                                            elem_classes="cmp-text"))
                    stats.append(gr.Markdown(m.error if not m.available else "", elem_classes="stats",
                                             label=f"{m.label} speed"))
        notes = gr.Markdown(elem_classes="notes", label="notes")
        copies = gr.HTML(elem_id="compare-copies", label="copied from the training text")
        gr.Markdown(
            "**Notice:** the models draw the *same* random numbers (same seed, one draw per character), so where "
            "their texts differ, the models differ, not the luck. Look at the layout: the LSTM and GRU usually keep "
            "a speaker's name in capitals, a colon, a few verse lines and a blank line going for hundreds of "
            "characters, because their gates let information pass many steps almost unchanged. The vanilla RNN "
            "squeezes its whole memory through a tanh at every step, so it sooner forgets who is speaking and how "
            "long the line has run."
        )
        gr.Examples(EXAMPLES, [prompt], label="Try these prompts (click one, then Compare)")
    button.click(view.compare_from, [prompt, *settings, baseline, copied, model_set], [*texts, *stats, notes, copies],
                 api_name="compare", preprocess=False, show_progress="minimal", **MODELS_RUN)
    button.click(prompt_tail_html, [prompt], [after], api_visibility="private", queue=False, preprocess=False)
    if baseline_columns:
        baseline.change(lambda on: [gr.Column(visible=on is True) for _ in baseline_columns], [baseline],
                        baseline_columns, api_visibility="private", concurrency_limit=None, preprocess=False)


def score_tab(view: View) -> None:
    with gr.Tab("Score"):
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(SCORE_EXAMPLES[0], label="text to score", lines=5,
                                  elem_id="score-text", info="Each character is predicted from all the characters before it.")
                model_set = model_set_radio(view, "score")
                button = gr.Button("Score (Ctrl+Enter)", variant="primary", elem_id="score-button")
                gr.Examples([[t] for t in SCORE_EXAMPLES], [text], label="Try these texts")
            with gr.Column(scale=2):
                gr.Markdown(
                    "**bits/char** is how many yes/no questions a model needs, on average, to pin down each "
                    "character: lower is better. **Perplexity** is 2^bits: the model is as unsure as if it were "
                    "choosing among that many characters. Text unlike the training text (modern office English, "
                    "random letters) costs every model more bits, the weakest model most."
                )
        table = gr.Dataframe(headers=pg.SCORE_HEADERS, label="how surprised each model is", interactive=False,
                             elem_id="score-table")
        gr.Markdown(
            "**Where the models differ:** the best and the worst network on your text, character by character "
            "(hover for both probabilities). The first letters of words and names surprise every model; look for "
            "green at the ends of long words and on the line after a speaker's name, where memory pays. Each "
            "model's own surprisal map is folded underneath."
        )
        heat = gr.HTML(label="where the models differ, character by character", elem_id="score-heat")
        gr.Markdown("**What comes next?** Each model's ten likeliest next characters after your text. "
                    "A confident model puts most probability on one or two; its entropy (in the table) is low.")
        with gr.Row():
            nexts = [gr.Label(label=f"{m.label}: next character", num_top_classes=10) for m in view.models]
        notes = gr.Markdown(elem_classes="notes", label="notes")
    button.click(view.score_from, [text, model_set], [table, heat, *nexts, notes], api_name="score", preprocess=False,
                 **MODELS_RUN)


def gallery_tab(view: View) -> None:
    g, steps, V = view.gallery, view.lapse_steps, view.vocab_size
    with gr.Tab("Gallery"):
        gr.Markdown(
            "**Loss curves.** Held-out loss in bits per character: how many yes/no questions a model needs per "
            "character of the last 10% of the text, which no model trained on (\"validation\"); "
            f"log₂ {V} ≈ {math.log2(V):.2f} is a blind guess among {V} characters. Left against "
            "characters read, right against training time: the same data buys the gated models a lower loss, but "
            "each of their steps costs more."
        )
        curves = g.curves()
        with gr.Row():
            gr.LinePlot(curves, x="chars (millions)", y=pg.gallery.BITS, color="model", label="against characters seen")
            gr.LinePlot(curves, x="minutes", y=pg.gallery.BITS, color="model", label="against training time")
        gr.Markdown("**How much does memory help?** A count-based n-gram model predicts from the last N-1 "
                    "characters only. Its validation loss by order N, against the networks' (flat lines): "
                    + g.memory_caption())
        gr.LinePlot(g.memory_plot(), x="order", y=pg.gallery.BITS, color="model",
                    label="n-gram by order vs the networks")
        gr.Markdown(
            "**Watch it learn.** The same prompt and seed, sampled at points of each training run: first random "
            "characters, then spaces and common letters, then words, then names, colons and verse lines."
        )
        with gr.Row():
            step = gr.Radio(steps, value=steps[-1] if steps else None, label="point of training", scale=4)
            play = gr.Button("▶ Play", scale=1)
        with gr.Row(equal_height=True):
            texts = [gr.Textbox(label=caption, value=text, lines=8, interactive=False)
                     for caption, text in g.lapse_frame(len(steps) - 1)]
        gr.Markdown(
            "**Temperature x model.** Final samples, all from the same prompt and seed. Down a column only the "
            "temperature changes: low repeats the commonest words, high invents words and breaks the layout."
        )
        gr.HTML(g.sample_grid_html())
    step.change(view.lapse_frame, [step], texts, api_visibility="private", concurrency_limit=None)
    play.click(view.lapse_play, None, [step, *texts], api_visibility="private", concurrency_limit=4)


def models_tab(view: View) -> None:
    with gr.Tab("Models"):
        gr.Markdown("Each model's architecture, size, training data and figures, and where it was loaded from "
                    "(for a Hub model, its repo and commit).")
        with gr.Row():
            for m in view.models:
                with gr.Column():
                    gr.Markdown(view.gallery.card_markdown(m))
                    if view.gallery.cards.get(m.name):
                        with gr.Accordion("model card (README.md)", open=False):
                            gr.Markdown(view.gallery.cards[m.name])


def train_tab(view: View, demo: gr.Blocks) -> None:
    races = view.races
    limits, types = races.limits, race_types()
    with gr.Tab("Train on your text"):
        gr.Markdown(
            "Train the networks on **your own text** and watch them race: each gets the same CPU time, and every few "
            "seconds all are scored on the last 10% of your text (which none trains on) and write a sample from the "
            f"same prompt and seed. Characters are the tokens. Up to {limits.max_bytes / 1e6:g} MB of UTF-8 text, "
            f"at least {limits.min_chars:,} characters; one race trains at a time on this server, the others wait.")
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="upload a .txt file (UTF-8)", file_types=[".txt"], type="filepath",
                                 elem_id="train-file")
                text = gr.Textbox(label="or paste text", lines=6, max_length=limits.max_bytes, elem_id="train-text",
                                  info="Used when no file is uploaded.")
                seconds = gr.Slider(limits.min_seconds, limits.max_seconds, value=limits.default_seconds, step=1,
                                    label="time budget (seconds)", elem_id="train-seconds",
                                    info="For the whole race; the models share it equally.")
                models = gr.CheckboxGroup([(MODELS[m].label, m) for m in types], value=types, label="models",
                                          elem_id="train-models")
                size = gr.Dropdown(["auto", "tiny", "small", "medium"], value="auto", label="size",
                                   info="auto: tiny below 40 s per model or 50k characters, small below 150 s or "
                                        "500k, medium above. Bigger learns more per step but takes fewer steps.")
                with gr.Row():
                    train = gr.Button("Train", variant="primary", elem_id="train-button")
                    stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id="train-status", label="race status")
                figure = gr.Image(label="the race: nats/char against training seconds", type="pil", show_label=False,
                                  elem_id="train-plot", interactive=False)
                table = gr.Dataframe(headers=["model", "parameters", "CPU seconds", "steps", "characters seen",
                                              "val nats/char", "best val", "train nats/char"],
                                     label="latest evaluation", interactive=False, elem_id="train-table")
        with gr.Row(equal_height=True):
            samples = [gr.Textbox(label=f"{MODELS[m].label}: sample (same prompt and seed each time)", lines=7,
                                  interactive=False, elem_id=f"train-sample-{m}") for m in types]
        with gr.Row():
            with gr.Column():
                zipped = gr.File(label="download the checkpoint folders (zip: config, weights, card, logs)",
                                 interactive=False, elem_id="train-zip")
            with gr.Column():
                gr.Markdown("**Push to the Hugging Face Hub** as `owner/rnnlm-<name>-<model>`, one repo per model.")
                if os.environ.get("SPACE_ID") and os.environ.get("OAUTH_CLIENT_ID") and find_spec("authlib"):
                    gr.LoginButton()  # on a Space with hf_oauth: true, the write-repos scope and gradio[oauth]
                owner = gr.Textbox(label="owner (user or organisation)", placeholder="the token's user",
                                   elem_id="train-owner")
                token = gr.Textbox(label="Hugging Face token (write access)", type="password", elem_id="train-token",
                                   info="Used for this push only; never stored or shown. Blank: your sign-in, "
                                        "else HF_TOKEN.")
                private = gr.Checkbox(True, label="private repos", elem_id="train-private")
                push = gr.Button("Push to the Hub", elem_id="train-push")
                pushed = gr.Markdown(elem_id="train-pushed", label="pushed repos")
    sets = view.__dict__.get("set_radios", [])
    train.click(races.warm, None, None, api_visibility="private", concurrency_limit=None, queue=False)
    train.click(view.race_start, [upload, text, seconds, models, size],
                [status, figure, table, *samples, zipped, *sets], api_name="train", concurrency_limit=None,
                show_progress="minimal")
    stop.click(view.race_stop, None, [status], api_name="stop", concurrency_limit=None)
    push.click(view.race_push, [owner, token, private], [pushed], api_name="push", concurrency_limit=1)
    demo.unload(view.race_leave)
def inside_tab(view: View) -> None:
    from rnnlm.inspect import has_gates

    models = view.inside_models()
    skipped = [m for m in view.models if m not in models]
    first = next((m for m in models if m.available), None)
    passage = ins_view.default_passage(first.model.config) if first else ins_view.FALLBACK_PASSAGE
    with gr.Tab("Inside the models"):
        gr.Markdown(
            "**Why gates help.** Backpropagation through time multiplies one Jacobian per step, so a vanilla RNN's "
            "gradient shrinks with distance; the LSTM's additive cell and the GRU's update gate can pass information "
            "and gradient along almost unchanged. Here you can measure that on the trained models and your own text. "
            "The passage defaults to held-out text (the last 10% of the training text, which no model trained on)."
            + (" Not shown: " + "; ".join(f"{m.label} (no hidden state to look inside)" for m in skipped) + "."
               if skipped else ""))
        text = gr.Textbox(passage, label="passage", lines=6, max_lines=12, elem_id="inside-passage",
                          info=f"Any text; the views read its first {ins_view.ins.MAX_PASSAGE:,} characters.")
        button = gr.Button("Look inside", variant="primary", elem_id="inside-button")
        notes = gr.Markdown(elem_classes="notes", label="notes")

        def row(what: str) -> list[gr.Markdown]:
            """One caption per model, named for the API page: 'LSTM: gradient flow'."""
            return [gr.Markdown(elem_classes="stats", label=f"{m.label}: {what}") for m in models]

        gr.Markdown("### 1. Gradient flow\nHow much the log-probability of a character depends on the input k "
                    "characters back: the norm of the gradient with respect to the RNN's one-hot input and the "
                    "LSTM's and GRU's embedding, divided by its value at k = 1, on a log10 scale (−3 is 1/1000).")
        curves = gr.LinePlot(x="k", y="log10 relative gradient", color="model", elem_id="inside-gradients",
                             label="gradient norm against distance", x_title="k (characters back)",
                             y_title="log10 (norm / norm at k = 1)")
        with gr.Row(equal_height=True):
            flow_text = row("gradient flow")

        gr.Markdown("### 2. What did it look at?\nThe influence of every character read on one prediction, "
                    "as gradient × input: the first-order change in log p if that character's input were zeroed. "
                    "Below, each model's five likeliest next characters at temperature 0.5, 1 and 1.5.")
        position = gr.Slider(1, ins_view.ins.MAX_PASSAGE, value=min(len(passage), 300), step=1,
                             label="predict after this many characters", elem_id="inside-position")
        heat = gr.HTML(elem_id="inside-heat", label="influence of each character read")
        with gr.Row(equal_height=True):
            bars = [gr.BarPlot(x="next", y="probability", color="temperature", label=f"{m.label}: top 5 next",
                               x_title="next character at temperature 0.5 / 1 / 1.5", x_label_angle=-45)
                    for m in models]
        with gr.Row(equal_height=True):
            look_text = row("what it looked at")

        gr.Markdown("### 3. Neurons\nUnits ranked by how strongly they correlate with a feature of the text, over "
                    "a longer held-out sample (any layer: the RNN's h, the LSTM's cell c and h, the GRU's h). The "
                    "passage is coloured by the chosen unit: red positive, blue negative.")
        with gr.Row():
            feature = gr.Dropdown(list(ins_view.ins.FEATURES), value="line position", label="feature",
                                  elem_id="inside-feature")
            rank = gr.Slider(1, 5, value=1, step=1, label="unit (1 = best)", elem_id="inside-rank")
        with gr.Row(equal_height=True):
            units = [gr.HTML(label=f"{m.label}: passage coloured by the unit") for m in models]
        with gr.Row(equal_height=True):
            unit_text = row("the chosen unit")

        gr.Markdown("### 4. Gates\nFor each unit of the LSTM and GRU, the share of held-out steps its gate is "
                    "shut (< 0.1, left-saturated) against open (> 0.9, right-saturated), per gate and layer.")
        gated = [m for m in models if m.available and has_gates(m.model)]
        texts = {m.name: gr.Markdown(elem_classes="stats", label=f"{m.label}: gates")
                 for m in models if m not in gated}  # "no gates"
        gates = []
        with gr.Row(equal_height=True):
            for m in gated:
                with gr.Column():
                    gates.append(gr.ScatterPlot(x="left-saturated", y="right-saturated", color="gate",
                                                label=f"{m.label} gates", x_title="share of steps < 0.1 (shut)",
                                                y_title="share of steps > 0.9 (open)", x_lim=[0, 1], y_lim=[0, 1]))
                    texts[m.name] = gr.Markdown(elem_classes="stats", label=f"{m.label}: gates")
        gate_text = [texts[m.name] for m in models]  # in the handler's order

    run = dict(preprocess=False, show_progress="minimal", **MODELS_RUN)
    views = [(view.inside_gradients, [text], [curves, *flow_text, notes], "inside_gradients"),
             (view.inside_looked_at, [text, position], [heat, *bars, *look_text, notes], "inside_looked_at"),
             (view.inside_neurons, [text, feature, rank], [*units, *unit_text, notes], "inside_neurons"),
             (view.inside_gates, [text], [*gates, *gate_text, notes], "inside_gates")]
    for fn, inputs, outputs, name in views:
        button.click(fn, inputs, outputs, api_name=name, **run)
    position.release(views[1][0], views[1][1], views[1][2], api_visibility="private", **run)
    feature.change(views[2][0], views[2][1], views[2][2], api_visibility="private", **run)
    rank.release(views[2][0], views[2][1], views[2][2], api_visibility="private", **run)


class Page(gr.Blocks):
    """The app's Blocks, whose "Use via API" snippets run as shown (rnnlm.playground.apidocs)."""

    def get_api_info(self, all_endpoints: bool = False, page: str | None = None):
        return one_line_defaults(super().get_api_info(all_endpoints=all_endpoints, page=page))


def build_demo(models: list[pg.Served]) -> gr.Blocks:
    """The whole page for these models: a header and one tab each to generate, compare, score, browse, read."""
    view = View(models)
    with Page(title="rnnlm: RNN vs LSTM vs GRU", analytics_enabled=False) as demo:
        header(view)
        with gr.Tabs(overflow_behavior="wrap"):  # every tab in sight on a phone too, not behind a "..." menu
            generate_tab(view)
            compare_tab(view)
            score_tab(view)
            inside_tab(view)
            train_tab(view, demo)
            gallery_tab(view)
            models_tab(view)
        if any(m.note for m in view.models):
            demo.load(view.warn_fallbacks, None, None, api_visibility="private", concurrency_limit=None)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)  # the model endpoints share one slot (MODELS_RUN)
    guard_queue(demo)
    demo.view = view  # for tests and benchmarks
    return demo


THEME = gr.themes.Soft(primary_hue="indigo", font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"]).set(  # system fonts: nothing to fetch
    # help text and labels dark enough for WCAG AA contrast (4.5:1) on the light and the dark background
    block_info_text_color="*neutral_700", block_info_text_color_dark="*neutral_300",
    body_text_color_subdued="*neutral_700", body_text_color_subdued_dark="*neutral_300",
    block_label_text_color="*neutral_800", block_label_text_color_dark="*neutral_200",
    # the labels' pills, primary buttons, selected radios and the selected tab: indigo 500 gives white text, or
    # text on indigo 100, 4.47:1 and 3.6:1; indigo 600 and 700 pass (the dark theme's selected tab: CSS below)
    block_title_text_color="*primary_700", color_accent="*primary_600",
    button_primary_background_fill="*primary_600", button_primary_background_fill_hover="*primary_700",
    button_primary_background_fill_hover_dark="*primary_700",
    checkbox_label_background_fill_selected="*primary_600",
)
# Ctrl+Enter (Cmd+Enter on a Mac) in a text box presses its tab's button; a visitor never has to tab to it.
# And every text box is named after its label for screen readers: gradio wraps a box and its copy button in one
# <label>, which then names the button (the first control in it) and leaves the box nameless.
SHORTCUTS = """
() => {
  const name = () => document.querySelectorAll("label textarea:not([aria-label])").forEach((box) => {
    const label = box.closest("label").querySelector("[data-testid=block-info]");
    if (label && label.textContent.trim()) box.setAttribute("aria-label", label.textContent.trim());
  });
  name();
  new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
  const buttons = {"generate-prompt": "generate-button", "compare-prompt": "compare-button", "score-text": "score-button"};
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    for (const [box, button] of Object.entries(buttons)) {
      if (e.target.closest && e.target.closest("#" + box)) {
        e.preventDefault();
        document.getElementById(button)?.click();
      }
    }
  });
}
"""
CSS = pg.heatmap_css() + """
.stats p { font-size: .9em; opacity: .85; margin: 0; }
.notes:empty { display: none; }
.cmp-text textarea, textarea { font-family: ui-monospace, SFMono-Regular, monospace; }
.cmp-text textarea { font-size: .85em; }
.sample-grid { border-collapse: collapse; width: 100%; }
.sample-grid th, .sample-grid td { border: 1px solid var(--border-color-primary); padding: .4em; vertical-align: top; }
.sample-grid pre { white-space: pre-wrap; margin: 0; font-size: .85em; }
.sample-grid caption { caption-side: top; text-align: left; padding: .4em 0; opacity: .8; }
.copies pre { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, monospace; }
.copies mark { background: #ffd54f; color: #1a1a1a; }
.cmp-after { font-size: .9em; color: var(--body-text-color-subdued); }
.cmp-after pre { margin: .2em 0 0; padding: .2em .6em; border-left: 3px solid var(--color-accent); white-space: pre-wrap;
  font-family: ui-monospace, SFMono-Regular, monospace; }
@media (max-width: 600px) {  /* a phone: a smaller title leaves more of the first screen to the tabs */
  h1 { font-size: 1.5em !important; }
  /* the tables in the phone's width, not scrolling sideways: the score table without perplexity, nats/char (both
     bits/char in other terms) and chars scored; the race's without CPU seconds, steps, characters and train loss */
  #score-table :is(th, td):is(:nth-child(3), :nth-child(4), :nth-child(5)),
  #train-table :is(th, td):is(:nth-child(3), :nth-child(4), :nth-child(5), :nth-child(8)) { display: none !important; }
  :is(#score-table, #train-table) :is(th, td) { min-width: 0 !important; width: auto !important;
    max-width: none !important; padding: 4px !important; }
  :is(#score-table, #train-table) :is(th, th *) { white-space: normal !important; }
  :is(#score-table, #train-table) table { width: 100% !important; font-size: .8em; }
  /* the temperature x model grid: one cell under another, each naming its model */
  .sample-grid, .sample-grid caption, .sample-grid tbody, .sample-grid tr, .sample-grid th, .sample-grid td {
    display: block; }
  .sample-grid tr.heads { display: none !important; }
  .sample-grid td::before { content: attr(data-model); display: block; font-weight: 600; }
}
*:focus-visible, input[type=range]:focus, textarea:focus, input:focus {
  outline: 3px solid #4338ca !important; outline-offset: 2px; }
.dark [role=tab][aria-selected=true] { color: var(--primary-400); }  /* indigo 600 on the dark page is 3:1 */
.dark *:focus-visible, .dark input[type=range]:focus, .dark textarea:focus, .dark input:focus {
  outline-color: #a5b4fc !important; }  /* 3:1 against the dark background too */
"""


# --- limits: what the server refuses before a handler runs (rnnlm.playground.guard) --------------------


def guard_queue(blocks: gr.Blocks) -> None:
    """Refuse calls missing inputs, and a visitor's model requests beyond MAX_WAITING_PER_SESSION waiting."""
    guard.guard_queue(blocks._queue, MODELS_RUN["concurrency_id"])  # gradio has no public hook at its queue's door


def launch(blocks: gr.Blocks | None = None, **kwargs):
    """Serve a demo (the module's own by default) with the app's theme, styles and keyboard shortcuts (Gradio 6
    takes them at launch), request bodies capped and few sessions kept (guard.launch_options). The Inside tab's
    held-out statistics are computed in the background meanwhile (several seconds, once)."""
    blocks = blocks or demo
    view = blocks.view
    view._inside_samples().warm(view.inside_models())
    return blocks.launch(theme=THEME, css=CSS, js=SHORTCUTS, **(guard.launch_options() | kwargs))


threads.single_stream()  # this process only samples and scores; training runs in processes of its own
demo = build_demo(pg.load_app_models())  # the Space serves this

if __name__ == "__main__":
    launch()
