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
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import gradio as gr
from PIL import Image
import pandas as pd

from rnnlm import playground as pg
from rnnlm import threads
from rnnlm.hub import HubError, redact
from rnnlm.models import MODELS, compiled
from rnnlm.modelsets import MODEL_SETS
from rnnlm.playground import guard
from rnnlm.playground.apidocs import one_line_defaults
from rnnlm.playground.copies import copies_html, copy_report, recall_note, training_index
from rnnlm.playground.examples import DEFAULT_PROMPT, EXAMPLES, SCORE_EXAMPLES
from rnnlm.playground import inside as ins_view
from rnnlm.playground import words as wd
from rnnlm.playground.inputs import DEFAULTS, MAX_GENERATE, MAX_PROMPT, MAX_TEMPERATURE, MAX_TOP_K
from rnnlm.playground import racejobs
from rnnlm.playground.race import race_types
from rnnlm.playground.raceplot import race_png

LN2 = math.log(2)  # the races record nats/char; the page shows bits/char (nats / ln 2)
NO_MODEL = "No model is available: the list at the top of the page says why for each."
# One model request at a time, using every core: a batch-1 step is memory-bound, so two requests on
# two cores finish no sooner, and each waits on the other (measured: compare 1.1 s alone on 2 threads,
# 1.4 s on 1 thread). Up to QUEUE_SIZE more wait their turn; then visitors are told to retry.
MODELS_RUN = dict(concurrency_id="models", concurrency_limit=1)
QUEUE_SIZE = 64
# Score's table sits under a long passage, below a 900-pixel-high window: bring it up once the scores are in
SCROLL_TO_SCORES = """() => {
  const table = document.getElementById("score-table");
  if (table && table.getBoundingClientRect().top > window.innerHeight * 0.6)
    table.scrollIntoView({behavior: "smooth", block: "start"});
}"""


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


# The model sets an API call names (its last input): a set's name ("sherlock-words") or label, "yours" for the models
# this session trained, "bundled" for the first set (the Shakespeare one, also what a call without a set gets).
BUNDLED, YOURS = "bundled", "yours"
YOURS_LABEL = "Your text (trained in the Train tab)"


def session_of(request) -> str:
    """The visitor's session id (one per open page, or per API client)."""
    return getattr(request, "session_hash", None) or "anonymous"


class View:
    """The handlers of one page, bound to the models it serves."""

    def __init__(self, models: list[pg.Served], spec=None):
        self.models = list(models)
        self.spec = spec  # the rnnlm.modelsets.ModelSet served; None for a visitor's own models
        self.available = [m for m in self.models if m.available]
        # baselines (the n-gram) score beside the networks; Compare adds them only when asked
        self.baselines = [m for m in self.models if m.baseline]
        self.networks = [m for m in self.models if m not in self.baselines]
        self.gallery = pg.Gallery.read(self.models)
        self.lapse_steps = [f"{f:.0%}" for f in self.gallery.lapse_fractions()]
        # the best model by recorded validation loss is what a first visit should show
        ranked = sorted([m for m in self.available if m in self.networks],
                        key=lambda m: m.metrics.get("val_nats_per_char", float("inf")))
        self.default_model = (ranked or self.models)[0].name if self.models else None
        self.vocab_size = self.available[0].model.config.vocab_size if self.available else 65
        kinds = {m.kind for m in self.available}
        self.words = "word" in kinds if kinds else getattr(spec, "tokens", "char") == "word"
        self.unit = "word" if self.words else "character"  # what one step of a model writes
        self.label = spec.label if spec is not None else YOURS_LABEL
        self.prompt = DEFAULT_PROMPT if spec is None or spec.folder == "" else spec.prompt

    def words_only(self, what: str) -> list[pg.Served]:
        """The word models a word view runs, or a clear error naming the set."""
        try:
            return wd.check_words(self.available)
        except pg.InputError as e:
            raise fail(f"{what}: {e} The {self.label} set reads characters.") from None

    def next_word(self, prompt, length=wd.DEFAULT_CONTINUE):
        """Each model's ten likeliest next words after prompt and its greedy continuation of `length` words:
        (a {word: probability} per model, a continuation per model, notes)."""
        chosen = self.words_only("Next word")
        try:
            tops, texts, notes = wd.next_words(chosen, prompt, length)
        except pg.InputError as e:
            raise fail(str(e)) from None
        by_name = {m.name: (top, text) for m, top, text in zip(chosen, tops, texts)}
        out = [by_name.get(m.name, (None, m.error or "not a word model")) for m in self.models]
        return *[o[0] for o in out], *[o[1] for o in out], notes_markdown(dedupe(notes))

    def rank_sentences(self, text):
        """Each model's ranking of the sentences (one a line), most likely first: (table, notes)."""
        chosen = self.words_only("Which sentence is more likely?")
        try:
            rows, notes = wd.rank_sentences(chosen, text)
        except pg.InputError as e:
            raise fail(str(e)) from None
        return pd.DataFrame(rows, columns=wd.SENTENCE_HEADERS), notes_markdown(notes)

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
        """Stream one model's continuation of the prompt: (continuation, stats, notes, copied-from-training view).

        The continuation alone, as /compare gives each model's: the page shows the prompt's end above it."""
        m = self.pick_model(model)
        req = checked(prompt, length, temperature, top_k, top_p, seed)
        pg.check_known(req.prompt, m.model.vocab, req.notes)
        notes = notes_markdown(req.notes)
        c = None
        for c in pg.generate_stream(m, req.prompt, req.settings):
            yield c.text, f"{pg.column_stats(c)}  \n{req.summary()}", notes, ""
        if c is not None and show_copied is True:
            yield c.text, f"{pg.column_stats(c)}  \n{req.summary()}", notes, self.copies([(m, c.text)])

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
        tops = {m.name: pg.next_char_top(m, s) for m, s in results}  # characters or words
        labels = [tops.get(m.name) for m in self.models]
        networks = [(m, s) for m, s in results if m in self.networks]
        maps = (pg.difference_html(networks) + f"<details><summary>each model's surprisal, {self.unit} by "
                f"{self.unit}</summary>" + pg.heatmap_html(results) + "</details>")
        return pg.score_rows(results), maps, *labels, notes_markdown(dedupe(notes))

    def lapse_frame(self, step):
        """The time-lapse texts at one point of training (a label like '20%')."""
        steps = self.lapse_steps
        index = steps.index(step) if step in steps else len(steps) - 1
        return [gr.Textbox(label=caption, value=text, visible=True) for caption, text in self.gallery.lapse_frame(index)]

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

    set_choices: list = []  # the picker's choices, to which a finished race adds the visitor's own set

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
            title = f"validation (solid) and training (faint) bits/char · {job.plan.size} models"
            figure = Image.open(io.BytesIO(race_png(job.points, labels, title, vocab_size=job.vocab_size)))
        rows = []
        for name, points in job.points.items():
            last = points[-1]
            train = f"{last['train'] / LN2:.3f}" if last.get("train") is not None else ""
            rows.append([labels.get(name, name), f"{last['params']:,}", last["seconds"], last["steps"],
                         f"{last['chars']:,}", round(last["val"] / LN2, 4), round(last["best"] / LN2, 4), train])
        samples = [(job.points.get(m) or [{}])[-1].get("sample", "") for m in race_types()]
        finished_ok = job.finished and self.races.sessions.get(job.session) is not None \
            and self.races.sessions.get(job.session).job is job
        zipped = gr.skip()
        picker = gr.skip()
        if finished_ok:
            zipped = str(racejobs.zip_models(job, {"race.png": race_png(job.points, labels, vocab_size=job.vocab_size)}))
            picker = gr.Radio(choices=[*self.set_choices, (YOURS_LABEL, YOURS)], value=YOURS)  # switches every tab
        return (self.race_status(job), figure, rows, *samples, zipped, picker)

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
            return (f"{verb}. Your models are now the **Your text** model set at the top of the page, in every tab "
                    "(this session only, freed after an hour). Download them below, or push them to the Hub.")
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


class Sets:
    """The page's model sets: a View per set, and the handlers every tab calls with the set's name last.

    The page lays out `slots` places per per-model row (the most models any set has); set i's j-th model fills
    place j, and switching sets (the picker at the top) relabels the places and hides the spare ones, per session,
    without reloading. An API call names its set as its last input; without one it gets the first set.
    """

    def __init__(self, sets: list[pg.ServedSet]):
        self.offered = [s for s in sets if not s.missing]
        self.missing = [s for s in sets if s.missing]
        self.views = {s.name: View(s.models, s.spec) for s in self.offered}
        self.first = next(iter(self.views.values()))
        self.choices = [(s.label, s.name) for s in self.offered]
        for v in self.views.values():
            v.set_choices = self.choices
        self.slots = max(len(v.models) for v in self.views.values())
        self.inside_slots = max(1, *(len(v.inside_models()) for v in self.views.values()))
        self.switchers: list = []  # (components, fn(view) -> {component: update}) per tab
        self.picker: gr.Radio | None = None

    def view_for(self, model_set=None, request=None) -> View:
        """The View of the set an API caller or the picker names (name or label), or a clear error."""
        wanted = str(model_set if model_set is not None else "").strip()[:100]
        if wanted.lower() in ("", BUNDLED):
            return self.first
        if wanted.lower() in (YOURS, YOURS_LABEL.lower()):
            return self.session_view(request)
        for name, view in self.views.items():
            if wanted.lower() in (name, view.label.lower()):
                return view
        for s in self.missing:
            if wanted.lower() in (s.name, s.label.lower()):
                raise fail(s.missing)
        names = ", ".join([*self.views, YOURS])
        raise fail(f"unknown model set {wanted[:40]!r}; choose one of: {names}")

    def session_view(self, request) -> View:
        """A view over the models this visitor trained, or a clear error when there are none."""
        session = self.first.races.sessions.get(session_of(request))
        if session is None:
            raise fail("No models trained on your text in this session (they are freed an hour after training, or "
                       "when you leave the page): train them in the 'Train on your text' tab first.")
        if session.view is None:
            session.view = View(session.served)
        return session.view

    def pad(self, values: list, filler, slots: int | None = None) -> list:
        """values (one per model of a set) filled out to the page's places."""
        return list(values) + [filler] * ((slots or self.slots) - len(values))

    def on_switch(self, components: list, fn) -> None:
        """Have these components follow the picker: fn(view) gives their updates."""
        self.switchers.append((components, fn))

    def switch(self, model_set=None, request: gr.Request = None) -> dict:
        """Every tab's updates for the chosen set."""
        view = self.view_for(model_set, request)
        out = {}
        for _, fn in self.switchers:
            out.update(fn(view))
        return out

    # --- the handlers behind the API, each taking the set last ---

    def generate(self, model, prompt, length, temperature, top_k, top_p, seed, show_copied=False,
                 model_set=BUNDLED, request: gr.Request = None):
        """generate, with a model of the set named last (the first set by default)."""
        yield from self.view_for(model_set, request).generate(model, prompt, length, temperature, top_k, top_p, seed,
                                                              show_copied)

    def compare(self, prompt, length, temperature, top_k, top_p, seed, with_baseline=False, show_copied=False,
                model_set=BUNDLED, request: gr.Request = None):
        """compare, with the set's models in the page's columns."""
        view = self.view_for(model_set, request)
        n = len(view.models)
        for out in view.compare(prompt, length, temperature, top_k, top_p, seed, with_baseline, show_copied):
            yield (*self.pad(out[:n], ""), *self.pad(out[n : 2 * n], "no model here in this set"), *out[2 * n :])

    def score(self, text, model_set=BUNDLED, request: gr.Request = None):
        """score, with the set's models; the next-token charts in the page's places."""
        table, heat, *labels, notes = self.view_for(model_set, request).score(text)
        return table, heat, *self.pad(labels, None), notes

    def next_word(self, prompt, length=wd.DEFAULT_CONTINUE, model_set=BUNDLED, request: gr.Request = None):
        """Each word model's ten likeliest next words (bars) and greedy continuation, in the page's places."""
        view = self.view_for(model_set, request)
        n = len(view.models)
        out = view.next_word(prompt, length)
        return *self.pad(out[:n], None), *self.pad(out[n : 2 * n], ""), out[-1]

    def sentences(self, text, model_set=BUNDLED, request: gr.Request = None):
        """Each word model's ranking of the sentences (one a line): (table, notes)."""
        return self.view_for(model_set, request).rank_sentences(text)

    def inside_view(self, model_set, request) -> View:
        view = self.view_for(model_set, request)
        if view.words:
            raise fail(f"Inside the models is for character models: it follows gradients and units character by "
                       f"character. The {view.label} set's models read words; pick a character set at the top.")
        return view

    def inside_gradients(self, text=None, model_set=BUNDLED, request: gr.Request = None):
        """Gradient flow in the set's networks: (curves, one explanation per place, notes)."""
        curves, *captions, notes = self.inside_view(model_set, request).inside_gradients(text)
        return curves, *self.pad(captions, "", self.inside_slots), notes

    def inside_looked_at(self, text=None, position=None, model_set=BUNDLED, request: gr.Request = None):
        """What each prediction looked at: (heat maps, top-5 bars per place, explanations, notes)."""
        view = self.inside_view(model_set, request)
        n = len(view.inside_models())
        heat, *rest = view.inside_looked_at(text, position)
        k = self.inside_slots
        return heat, *self.pad(rest[:n], pd.DataFrame(), k), *self.pad(rest[n : 2 * n], "", k), rest[-1]

    def inside_neurons(self, text=None, feature=None, rank=None, model_set=BUNDLED, request: gr.Request = None):
        """Ranked units per network, the passage coloured by the chosen one, in the page's places."""
        view = self.inside_view(model_set, request)
        n, k = len(view.inside_models()), self.inside_slots
        out = view.inside_neurons(text, feature, rank)
        return *self.pad(out[:n], "", k), *self.pad(out[n : 2 * n], "", k), out[-1]

    def inside_gates(self, text=None, model_set=BUNDLED, request: gr.Request = None):
        """Gate saturation per unit: (scatter per place, explanations, notes)."""
        view = self.inside_view(model_set, request)
        n, k = len(view.inside_models()), self.inside_slots
        out = view.inside_gates(text)
        return *self.pad(out[:n], pd.DataFrame(), k), *self.pad(out[n : 2 * n], "", k), out[-1]

    def lapse_frame(self, step, model_set=BUNDLED, request: gr.Request = None):
        """The time-lapse texts of the set's models at one point of training, in the page's places."""
        return self.pad(self.view_for(model_set, request).lapse_frame(step), gr.Textbox(visible=False))

    def lapse_play(self, model_set=BUNDLED, request: gr.Request = None):
        """Step through the set's time-lapse, a frame every 1.5 s."""
        view = self.view_for(model_set, request)
        for i, step in enumerate(view.lapse_steps):
            if i:
                time.sleep(1.5)
            yield step, *self.pad(view.lapse_frame(step), gr.Textbox(visible=False))


def slot(view: View, i: int) -> pg.Served | None:
    """The model in place i of a per-model row, or None where the set has fewer."""
    return view.models[i] if i < len(view.models) else None


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


def intro(view: View) -> str:
    """The page's opening lines for a set: what the models read and where to start."""
    if view.words:
        return ("# RNN vs LSTM vs GRU, one word at a time\n"
                f"The **{view.label}** models read the text a word (or punctuation mark) at a time and learned to "
                "guess the next. **Start here: Next word**: type a phrase and see each model's ten likeliest next "
                "words, then ask **Which sentence is more likely?**, or Compare their continuations.")
    return ("# RNN vs LSTM vs GRU, one character at a time\n"
            "Three small networks read the same text one character at a time and learned to guess the next. "
            "**Start here: Compare**, and watch which one keeps a speaker, a colon and a verse line going. "
            "Then Generate with one model, Score a text of your own, or open the Gallery to see them learn.")


def status_markdown(site: Sets, view: View) -> str:
    """Where the set's models come from, and which sets this server lacks."""
    missing = "".join(f"\n- ⚠️ {s.missing}" for s in site.missing)
    return view.status_markdown() + (f"\n\n**Sets not on this server:**{missing}" if missing else "")


def header(site: Sets) -> None:
    view = site.first
    title = gr.Markdown(intro(view), elem_id="intro")
    site.picker = gr.Radio(site.choices, value=next(iter(site.views)), label="model set", elem_id="model-set",
                           info="Which models every tab uses: the corpus they read, and whether by characters or by "
                                "words. Switching keeps your place.")
    with gr.Accordion("where the models come from",
                      open=any(m.note or not m.available for m in view.models)) as where:
        status = gr.Markdown(status_markdown(site, view), elem_classes="status")
    site.on_switch([title, status, where], lambda v: {
        title: intro(v), status: status_markdown(site, v),
        where: gr.Accordion(open=any(m.note or not m.available for m in v.models))})


def generate_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                model = gr.Radio([(m.label, m.name) for m in view.models], label="model", value=view.default_model,
                                 info="Which model continues your prompt.", elem_id="generate-model")
                prompt = prompt_box("generate-prompt", lines=3)
                button = gr.Button("Generate (Ctrl+Enter)", variant="primary", elem_id="generate-button")
                settings, more = sampling_controls("generate")
                with more:
                    copied = copied_toggle("generate")
            with gr.Column(scale=3, min_width=320):
                after = gr.HTML(prompt_end_html(view.prompt, "The model"), elem_id="generate-after",
                                label="the end of the prompt")
                text = gr.Textbox(label="the model's continuation", lines=12, max_lines=24,
                                  interactive=False, autoscroll=True, buttons=["copy"], elem_id="generate-output")
                stats = gr.Markdown(elem_classes="stats", label="speed and settings")
                notes = gr.Markdown(elem_classes="notes", label="notes")
                copies = gr.HTML(elem_id="generate-copies", label="copied from the training text")
        examples = gr.Examples(EXAMPLES, [prompt, settings[1]], label="Try these prompts (click one, then Generate)")
        notice = gr.Markdown(notice_generate(view))
    button.click(site.generate, [model, prompt, *settings, copied, site.picker], [text, stats, notes, copies],
                 api_name="generate", preprocess=False, show_progress="minimal", **MODELS_RUN)
    button.click(None, [prompt], [after], js=prompt_end_js("The model"), api_visibility="private", queue=False,
                 show_progress="hidden")
    site.on_switch([model, prompt, after, *settings, examples.dataset, text, stats, notes, copies, notice], lambda v: {
        model: gr.Radio(choices=[(m.label, m.name) for m in v.models], value=v.default_model),
        prompt: gr.Textbox(value=v.prompt, info=prompt_info(v)), after: prompt_end_html(v.prompt, "The model"),
        **unit_infos(v, settings),
        examples.dataset: gr.Dataset(visible=v is site.first), text: "", stats: "", notes: "", copies: "",
        notice: notice_generate(v)})


def prompt_info(view: View) -> str:
    """What the prompt box says of the tokens a model reads."""
    if view.words:
        return "The model reads this first, then continues it. A word it never saw is read as the unknown-word token."
    return "The model reads this first, then continues it. Characters it never saw are skipped."


def unit_infos(view: View, settings: list) -> dict:
    """The sampling controls' help, in the set's tokens (characters or words)."""
    length, temperature, top_k, top_p, _ = settings
    u = view.unit
    return {length: gr.Slider(info=f"{u.capitalize()}s to generate."),
            temperature: gr.Slider(info=f"0 = always the likeliest {u}; below 1 safer and more repetitive, above 1 "
                                        "wilder."),
            top_k: gr.Slider(info=f"Pick only among the k likeliest {u}s. 0 = off."),
            top_p: gr.Slider(info=f"Pick only among the likeliest {u}s that together hold this much probability. "
                                  "1 = off.")}


def notice_generate(view: View) -> str:
    if view.words:
        return ("**Notice:** the text streams in a word at a time, one step of the network and one random number "
                "per word or punctuation mark. At temperature 0 a model always takes its likeliest word and soon "
                "loops; at 1 it samples, and rarer words appear.")
    return ("**Notice:** the text streams in as it is sampled, one character per step of the network, with "
            "one random number per character. Set a seed and generate twice: the same text. Lower the temperature "
            "to 0.2 and the model repeats its favourite words; raise it to 1.5 and it invents new ones.")


def compare_button_label(view: View) -> str:
    """What the Compare button says: how many networks it runs, as many as are loaded."""
    n = len([m for m in view.available if m in view.networks])
    label = "Compare all three" if n == 3 else f"Compare the {n} models" if n > 1 else "Compare"
    return f"{label} (Ctrl+Enter)"


TAIL_LINES, TAIL_CHARS = 3, 240  # how much of the prompt's end is shown above the continuations


def prompt_end_html(prompt, who: str = "Each column") -> str:
    """The end of the prompt, dimmed, shown once above the continuations (Generate's, Compare's columns), which
    start where it stops: the continuations hold only what the models wrote."""
    prompt = str(prompt or "")[-MAX_PROMPT:]
    if not prompt:
        return f'<div class="prompt-end">{who} starts after a newline: your prompt is empty.</div>'
    lines = prompt.split("\n")
    tail = ("…" if len(lines) > TAIL_LINES else "") + "\n".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]
    return (f'<div class="prompt-end">{who} continues your prompt, which ends:<pre>{html.escape(tail, quote=False)}'
            "</pre></div>")


def prompt_end_js(who: str = "Each column") -> str:
    """prompt_end_html in the browser, run as the button is pressed: a round trip to the server would show the new
    continuation under the old prompt for a moment (measured: the block came ~0.15 s after the first characters)."""
    return ("""(prompt) => {
      const p = String(prompt || "").slice(-%d);
      if (!p) return '<div class="prompt-end">%s starts after a newline: your prompt is empty.</div>';
      const lines = p.split("\\n");
      const tail = (lines.length > %d ? "…" : "") + lines.slice(-%d).join("\\n").slice(-%d);
      const escaped = tail.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      return '<div class="prompt-end">%s continues your prompt, which ends:<pre>' + escaped + '</pre></div>';
    }""" % (MAX_PROMPT, who, TAIL_LINES, TAIL_LINES, TAIL_CHARS, who))


COLUMN_LINES = 150  # a compare column grows with its text up to this many lines: 2,000 characters of verse make
# 60-80 lines at a third of a desktop's width or a phone's; a model that writes short lines can make twice as many


def column_visible(view: View, i: int, with_baseline) -> bool:
    """Whether Compare shows place i: a model of the set, and a baseline only when asked for."""
    m = slot(view, i)
    return m is not None and (with_baseline is True or not m.baseline)


def compare_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Compare"):
        with gr.Row():
            with gr.Column(scale=3, min_width=320):
                prompt = prompt_box("compare-prompt", lines=2)
                button = gr.Button(compare_button_label(view), variant="primary", elem_id="compare-button")
            with gr.Column(scale=2, min_width=320):
                settings, more = sampling_controls("compare", side_by_side=True)
                with more:
                    baseline = gr.Checkbox(False, label="add the n-gram baseline as a column",
                                           elem_id="compare-baseline", visible=bool(view.baselines),
                                           info="A count-based model: how much do the networks beat counting?")
                    copied = copied_toggle("compare")
        after = gr.HTML(prompt_end_html(view.prompt), elem_id="compare-after", label="the end of the prompt")
        with gr.Row(equal_height=True):
            texts, stats, columns = [], [], []
            for i in range(site.slots):
                m = slot(view, i)
                with gr.Column(visible=column_visible(view, i, False), min_width=300) as column:
                    columns.append(column)
                    texts.append(gr.Textbox(label=compare_label(m), lines=12, max_lines=COLUMN_LINES,
                                            interactive=False, autoscroll=True, elem_id=f"compare-{m.name if m else i}",
                                            elem_classes="cmp-text"))
                    stats.append(gr.Markdown(m.error if m and not m.available else "",
                                             elem_classes=["stats", "cmp-stats"],
                                             label=f"{m.label if m else f'model {i + 1}'} speed"))
        notes = gr.Markdown(elem_classes="notes", label="notes")
        copies = gr.HTML(elem_id="compare-copies", label="copied from the training text")
        notice = gr.Markdown(notice_compare(view))
        examples = gr.Examples(EXAMPLES, [prompt], label="Try these prompts (click one, then Compare)")
    button.click(site.compare, [prompt, *settings, baseline, copied, site.picker], [*texts, *stats, notes, copies],
                 api_name="compare", preprocess=False, show_progress="minimal", **MODELS_RUN)
    button.click(None, [prompt], [after], js=prompt_end_js(), api_visibility="private", queue=False,
                 show_progress="hidden")

    def columns_shown(on, model_set=None, request: gr.Request = None):
        v = site.view_for(model_set, request)
        return [gr.Column(visible=column_visible(v, i, on)) for i in range(site.slots)]

    baseline.change(columns_shown, [baseline, site.picker], columns, api_visibility="private",
                    concurrency_limit=None, preprocess=False)

    def switch(v: View) -> dict:
        out = {prompt: gr.Textbox(value=v.prompt, info=prompt_info(v)), after: prompt_end_html(v.prompt),
               button: compare_button_label(v), **unit_infos(v, settings),
               baseline: gr.Checkbox(value=False, visible=bool(v.baselines)), notes: "", copies: "",
               notice: notice_compare(v), examples.dataset: gr.Dataset(visible=v is site.first)}
        for i in range(site.slots):
            m = slot(v, i)
            out[columns[i]] = gr.Column(visible=column_visible(v, i, False))
            out[texts[i]] = gr.Textbox(label=compare_label(m), value="")
            out[stats[i]] = m.error if m and not m.available else ""
        return out

    site.on_switch([prompt, after, button, baseline, notes, copies, notice, examples.dataset, *settings,
                    *columns, *texts, *stats], switch)


def compare_label(m) -> str:
    return f"{m.label} · {pg.model_facts(m)}" if m else "no model here in this set"


def notice_compare(view: View) -> str:
    if view.words:
        return ("**Notice:** the models draw the *same* random numbers (same seed, one draw per word), so where their "
                "texts differ, the models differ, not the luck. Read for grammar: does a sentence that opens with "
                "a quotation mark close it, does a verb follow its subject?")
    return ("**Notice:** the models draw the *same* random numbers (same seed, one draw per character), so where "
            "their texts differ, the models differ, not the luck. Look at the layout: the LSTM and GRU usually keep "
            "a speaker's name in capitals, a colon, a few verse lines and a blank line going for hundreds of "
            "characters, because their gates let information pass many steps almost unchanged. The vanilla RNN "
            "squeezes its whole memory through a tanh at every step, so it sooner forgets who is speaking and how "
            "long the line has run.")


def score_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Score"):
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(score_text(view), label="text to score", lines=5, elem_id="score-text",
                                  info="Each token (a character, or a word) is predicted from all those before it.")
                button = gr.Button("Score (Ctrl+Enter)", variant="primary", elem_id="score-button")
                examples = gr.Examples([[t] for t in SCORE_EXAMPLES], [text], label="Try these texts")
            with gr.Column(scale=2):
                gr.Markdown(
                    "**bits/char** is how many yes/no questions a model needs, on average, to pin down each "
                    "character: lower is better, and it compares a word model with a character model on the same "
                    "text. **Perplexity** is per token: the model is as unsure as if it were choosing among that "
                    "many characters (or words). Text unlike the training text costs every model more bits, the "
                    "weakest model most."
                )
        table = gr.Dataframe(headers=pg.SCORE_HEADERS, label="how surprised each model is", interactive=False,
                             elem_id="score-table")
        gr.Markdown(
            "**Where the models differ:** the best and the worst network on your text, token by token "
            "(hover a token for both probabilities; the biggest differences are listed under the map). The first "
            "letters of words and names surprise every model; look for green where memory pays. Each model's own "
            "surprisal map is folded underneath."
        )
        heat = gr.HTML(label="where the models differ, token by token", elem_id="score-heat")
        gr.Markdown("**What comes next?** Each model's likeliest next tokens after your text (up to ten, those of "
                    "1% or more). A confident model puts most probability on one or two; its entropy (in the table) "
                    "is low.")
        with gr.Row():
            nexts = [gr.Label(label=next_label(slot(view, i), view), num_top_classes=10, visible=slot(view, i) is not None)
                     for i in range(site.slots)]
        notes = gr.Markdown(elem_classes="notes", label="notes")
    button.click(site.score, [text, site.picker], [table, heat, *nexts, notes], api_name="score", preprocess=False,
                 **MODELS_RUN).success(None, js=SCROLL_TO_SCORES, api_visibility="private", queue=False)

    def switch(v: View) -> dict:
        out = {text: score_text(v), table: None, heat: "", notes: "", examples.dataset: gr.Dataset(visible=v is site.first)}
        for i, label in enumerate(nexts):
            out[label] = gr.Label(label=next_label(slot(v, i), v), value=None, visible=slot(v, i) is not None)
        return out

    site.on_switch([text, table, heat, notes, examples.dataset, *nexts], switch)


def next_label(m, view: View) -> str:
    return f"{m.label}: next {view.unit}" if m else "no model here in this set"


def score_text(view: View) -> str:
    """The Score tab's starting text: the page's passage for the first set, held-out text of the others."""
    if view.spec is not None and view.spec.folder == "":
        return SCORE_EXAMPLES[0]
    first = next((m for m in view.available), None)
    if first is None:
        return view.prompt
    passage = ins_view.default_passage(first.model.config)
    cut = passage.rfind("\n", 0, 600)  # held-out text, ending at a line break: no word cut in two
    return passage[:cut] if cut > 200 else passage[:600]


def next_word_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Next word", visible=view.words) as tab:
        gr.Markdown("**Next word.** Type a phrase: each model reads it and shows its ten likeliest next words, then "
                    "continues it greedily, always taking its likeliest word.")
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(next_prompt(view), label="phrase", lines=2, elem_id="next-prompt",
                                    info="A word the models never saw is read as <unk>.")
            with gr.Column(scale=2):
                length = gr.Slider(0, wd.MAX_CONTINUE, value=wd.DEFAULT_CONTINUE, step=1, label="words to continue",
                                   elem_id="next-length", info="Greedy: always the likeliest next word. 0 = none.")
                button = gr.Button("Predict the next word (Ctrl+Enter)", variant="primary", elem_id="next-button")
        with gr.Row(equal_height=True):
            bars, texts = [], []
            for i in range(site.slots):
                m = slot(view, i)
                with gr.Column(min_width=240, visible=m is not None) as column:
                    bars.append(gr.Label(label=f"{m.label if m else f'model {i + 1}'}: next words",
                                         num_top_classes=wd.NEXT_WORDS, elem_id=f"next-bars-{i}"))
                    texts.append(gr.Textbox(label=f"{m.label if m else f'model {i + 1}'}: greedy continuation",
                                            lines=3, interactive=False, elem_id=f"next-text-{i}"))
                bars[-1].column = column
        notes = gr.Markdown(elem_classes="notes", label="notes")
    button.click(site.next_word, [prompt, length, site.picker], [*bars, *texts, notes], api_name="next_word",
                 preprocess=False, show_progress="minimal", **MODELS_RUN)

    def switch(v: View) -> dict:
        out = {tab: gr.Tab(visible=v.words), prompt: next_prompt(v), notes: ""}
        for i in range(site.slots):
            m = slot(v, i)
            name = m.label if m else f"model {i + 1}"
            out[bars[i].column] = gr.Column(visible=m is not None)
            out[bars[i]] = gr.Label(label=f"{name}: next words", value=None)
            out[texts[i]] = gr.Textbox(label=f"{name}: greedy continuation", value="")
        return out

    site.on_switch([tab, prompt, notes, *[b.column for b in bars], *bars, *texts], switch)


def next_prompt(view: View) -> str:
    return view.spec.prompt if view.spec is not None and view.words else "I will close the door if"


def sentences_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Which sentence is more likely?", visible=view.words) as tab:
        gr.Markdown("**Which sentence is more likely?** Give two or more sentences, one per line. Each model reads "
                    "each sentence from the start of a line and multiplies the probabilities of its words: the "
                    "table ranks them per model, most likely first, with the total log-probability in bits (fewer "
                    "is likelier) and the perplexity per token (the model is as unsure as if choosing among that "
                    "many words at each step). Try a sentence against its words shuffled, or a grammatical against "
                    "an ungrammatical variant.")
        text = gr.Textbox(sentence_text(view), label="sentences, one per line", lines=4, elem_id="sentences-text")
        examples = gr.Dataset(components=[text], samples=sentence_examples(view), type="values",
                              label="Examples (click one, then Rank)", elem_id="sentences-examples")
        button = gr.Button("Rank the sentences (Ctrl+Enter)", variant="primary", elem_id="sentences-button")
        table = gr.Dataframe(headers=wd.SENTENCE_HEADERS, label="each model's ranking", interactive=False,
                             elem_id="sentences-table")
        notes = gr.Markdown(elem_classes="notes", label="notes")
    examples.click(lambda sample: sample[0], [examples], [text], api_visibility="private", queue=False)
    button.click(site.sentences, [text, site.picker], [table, notes], api_name="sentences", preprocess=False,
                 **MODELS_RUN)
    site.on_switch([tab, text, examples, table, notes], lambda v: {
        tab: gr.Tab(visible=v.words), text: sentence_text(v), examples: gr.Dataset(samples=sentence_examples(v)),
        table: None, notes: ""})


def sentence_examples(view: View) -> list[list[str]]:
    pairs = wd.sentence_pairs(view.spec.sentences if view.spec is not None else ())
    return [[p] for p in pairs] or [["The cat sat on the mat.\nMat the on sat cat the."]]


def sentence_text(view: View) -> str:
    return sentence_examples(view)[0][0]


def gallery_intro(view: View) -> str:
    V, unit = view.vocab_size, view.unit
    return ("**Loss curves.** Held-out loss in bits per character: how many yes/no questions a model needs per "
            "character of the last 10% of the text, which no model trained on (\"validation\")"
            + (f"; log₂ {V} ≈ {math.log2(V):.2f} is a blind guess among {V} characters" if unit == "character" else
               f"; a word model's loss per word is spread over the characters of the text, so the figures compare "
               f"with a character model's")
            + ". Left against tokens read, right against training time: the same data buys the gated models a "
              "lower loss, but each of their steps costs more.")


def gallery_tab(site: Sets) -> None:
    view = site.first
    g, steps = view.gallery, view.lapse_steps
    with gr.Tab("Gallery"):
        caption = gr.Markdown(gallery_intro(view))
        with gr.Row():
            by_chars = gr.LinePlot(g.curves(), x="chars (millions)", y=pg.gallery.BITS, color="model",
                                   label="against tokens seen")
            by_time = gr.LinePlot(g.curves(), x="minutes", y=pg.gallery.BITS, color="model",
                                  label="against training time")
        memory_text = gr.Markdown(memory_caption(view))
        memory = gr.LinePlot(g.memory_plot(), x="order", y=pg.gallery.BITS, color="model",
                             label="n-gram by order vs the networks", visible=bool(view.baselines))
        gr.Markdown(
            "**Watch it learn.** The same prompt and seed, sampled at points of each training run: first random "
            "tokens, then common ones, then words, then the corpus' layout."
        )
        with gr.Row():
            step = gr.Radio(steps, value=steps[-1] if steps else None, label="point of training", scale=4)
            play = gr.Button("▶ Play", scale=1)
        with gr.Row(equal_height=True):
            frame = g.lapse_frame(len(steps) - 1)
            texts = [gr.Textbox(label=frame[i][0] if i < len(frame) else "", value=frame[i][1] if i < len(frame) else "",
                                lines=8, interactive=False, visible=i < len(frame)) for i in range(site.slots)]
        gr.Markdown(
            "**Temperature x model.** Final samples, all from the same prompt and seed. Down a column only the "
            "temperature changes: low repeats the commonest words, high invents words and breaks the layout."
        )
        grid = gr.HTML(g.sample_grid_html())
    step.change(site.lapse_frame, [step, site.picker], texts, api_visibility="private", concurrency_limit=None)
    play.click(site.lapse_play, [site.picker], [step, *texts], api_visibility="private", concurrency_limit=4)

    def switch(v: View) -> dict:
        gv, frame = v.gallery, v.gallery.lapse_frame(len(v.lapse_steps) - 1)
        out = {caption: gallery_intro(v), by_chars: gv.curves(), by_time: gv.curves(), memory_text: memory_caption(v),
               memory: gr.LinePlot(gv.memory_plot(), visible=bool(v.baselines)), grid: gv.sample_grid_html(),
               step: gr.Radio(choices=v.lapse_steps, value=v.lapse_steps[-1] if v.lapse_steps else None)}
        for i, box in enumerate(texts):
            out[box] = (gr.Textbox(label=frame[i][0], value=frame[i][1], visible=True) if i < len(frame)
                        else gr.Textbox(visible=False))
        return out

    site.on_switch([caption, by_chars, by_time, memory_text, memory, grid, step, *texts], switch)


def memory_caption(view: View) -> str:
    if not view.baselines:
        return ""
    return ("**How much does memory help?** A count-based n-gram model predicts from the last N-1 tokens only. Its "
            "validation loss by order N, against the networks' (flat lines): " + view.gallery.memory_caption())


def models_tab(site: Sets) -> None:
    view = site.first
    with gr.Tab("Models"):
        gr.Markdown("Each model's architecture, size, training data and figures, and where it was loaded from "
                    "(for a Hub model, its repo and commit).")
        cards, columns, fulls, folds = [], [], [], []
        with gr.Row():
            for i in range(site.slots):
                m = slot(view, i)
                with gr.Column(visible=m is not None) as column:
                    columns.append(column)
                    cards.append(gr.Markdown(view.gallery.card_markdown(m) if m else ""))
                    with gr.Accordion("model card (README.md)", open=False,
                                      visible=bool(m and view.gallery.cards.get(m.name))) as fold:
                        folds.append(fold)
                        fulls.append(gr.Markdown(view.gallery.cards.get(m.name, "") if m else ""))

    def switch(v: View) -> dict:
        out = {}
        for i in range(site.slots):
            m = slot(v, i)
            card = v.gallery.cards.get(m.name, "") if m else ""
            out[columns[i]] = gr.Column(visible=m is not None)
            out[cards[i]] = v.gallery.card_markdown(m) if m else ""
            out[folds[i]] = gr.Accordion(visible=bool(card))
            out[fulls[i]] = card
        return out

    site.on_switch([*columns, *cards, *folds, *fulls], switch)


def train_tab(site: Sets, demo: gr.Blocks) -> None:
    view = site.first
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
                figure = gr.Image(label="the race: bits/char against training seconds", type="pil", show_label=False,
                                  elem_id="train-plot", interactive=False)
                table = gr.Dataframe(headers=["model", "parameters", "CPU seconds", "steps", "characters seen",
                                              "val bits/char", "best val", "train bits/char"],
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
    train.click(races.warm, None, None, api_visibility="private", concurrency_limit=None, queue=False)
    train.click(view.race_start, [upload, text, seconds, models, size],
                [status, figure, table, *samples, zipped, site.picker], api_name="train", concurrency_limit=None,
                show_progress="minimal")
    stop.click(view.race_stop, None, [status], api_name="stop", concurrency_limit=None)
    push.click(view.race_push, [owner, token, private], [pushed], api_name="push", concurrency_limit=1)
    demo.unload(view.race_leave)


def inside_tab(site: Sets) -> None:
    view = site.first
    K = site.inside_slots

    def inside_of(v: View) -> list:
        """The set's networks in the tab's places (None where it has fewer)."""
        models = [] if v.words else v.inside_models()
        return models + [None] * (K - len(models))

    def lead(v: View) -> str:
        models = inside_of(v)
        skipped = [m for m in v.models if m not in models]
        return ("**Why gates help.** Backpropagation through time multiplies one Jacobian per step, so a vanilla "
                "RNN's gradient shrinks with distance; the LSTM's additive cell and the GRU's update gate can pass "
                "information and gradient along almost unchanged. Here you can measure that on the trained models "
                "and your own text. The passage defaults to held-out text (the last 10% of the training text, which "
                "no model trained on)."
                + (" Not shown: " + "; ".join(f"{m.label} (no hidden state to look inside)" for m in skipped) + "."
                   if skipped else ""))

    def passage_of(v: View) -> str:
        first = next((m for m in inside_of(v) if m is not None and m.available), None)
        return ins_view.default_passage(first.model.config) if first else ins_view.FALLBACK_PASSAGE

    def name(m, i: int) -> str:
        return m.label if m is not None else f"model {i + 1}"

    models = inside_of(view)
    passage = passage_of(view)
    with gr.Tab("Inside the models"):
        words_note = gr.Markdown(inside_words_note(view), visible=view.words, elem_id="inside-words")
        with gr.Column(visible=not view.words) as body:
            intro_text = gr.Markdown(lead(view))
            text = gr.Textbox(passage, label="passage", lines=6, max_lines=12, elem_id="inside-passage",
                              info=f"Any text; the views read its first {ins_view.ins.MAX_PASSAGE:,} characters.")
            button = gr.Button("Look inside", variant="primary", elem_id="inside-button")
            notes = gr.Markdown(elem_classes="notes", label="notes")

            def row(what: str) -> list[gr.Markdown]:
                """One caption per place, named for the API page: 'LSTM: gradient flow'."""
                return [gr.Markdown(elem_classes="stats", label=f"{name(m, i)}: {what}", visible=m is not None)
                        for i, m in enumerate(models)]

            gr.Markdown("### 1. Gradient flow\nHow much the log-probability of a character depends on the input k "
                        "characters back: the norm of the gradient with respect to the RNN's one-hot input and the "
                        "LSTM's and GRU's embedding, divided by its value at k = 1, on a log10 scale (−3 is 1/1000).")
            curves = gr.LinePlot(x="k", y="log10 relative gradient", color="model", elem_id="inside-gradients",
                                 label="gradient norm against distance", x_title="k (characters back)",
                                 y_title="log10 (norm / norm at k = 1)")
            with gr.Row(equal_height=True):
                flow_text = row("gradient flow")

            gr.Markdown("### 2. What did it look at?\nThe influence of every character read on one prediction, "
                        "as gradient × input: the first-order change in log₂ p, in bits, if that character's input "
                        "were zeroed. Below, each model's five likeliest next characters at temperature 0.5, 1 and "
                        "1.5.")
            position = gr.Slider(1, ins_view.ins.MAX_PASSAGE, value=min(len(passage), 300), step=1,
                                 label="predict after this many characters", elem_id="inside-position")
            heat = gr.HTML(elem_id="inside-heat", label="influence of each character read")
            with gr.Row(equal_height=True):
                bars = [gr.BarPlot(x="next", y="probability", color="temperature", label=f"{name(m, i)}: top 5 next",
                                   x_title="next character at temperature 0.5 / 1 / 1.5", x_label_angle=-45,
                                   visible=m is not None) for i, m in enumerate(models)]
            with gr.Row(equal_height=True):
                look_text = row("what it looked at")

            gr.Markdown("### 3. Neurons\nUnits ranked by how strongly they correlate with a feature of the text, "
                        "over a longer held-out sample (any layer: the RNN's h, the LSTM's cell c and h, the GRU's "
                        "h). The passage is coloured by the chosen unit: red positive, blue negative.")
            with gr.Row():
                feature = gr.Dropdown(list(ins_view.ins.FEATURES), value="line position", label="feature",
                                      elem_id="inside-feature")
                rank = gr.Slider(1, 5, value=1, step=1, label="unit (1 = best)", elem_id="inside-rank")
            with gr.Row(equal_height=True):
                units = [gr.HTML(label=f"{name(m, i)}: passage coloured by the unit", visible=m is not None)
                         for i, m in enumerate(models)]
            with gr.Row(equal_height=True):
                unit_text = row("the chosen unit")

            gr.Markdown("### 4. Gates\nFor each unit of the LSTM and GRU, the share of held-out steps its gate is "
                        "shut (< 0.1, left-saturated) against open (> 0.9, right-saturated), per gate and layer.")
            gates, gate_text = [], []
            with gr.Row(equal_height=True):
                for i, m in enumerate(models):
                    with gr.Column(visible=m is not None):
                        gates.append(gr.ScatterPlot(x="left-saturated", y="right-saturated", color="gate",
                                                    label=f"{name(m, i)} gates", visible=gated(m),
                                                    x_title="share of steps < 0.1 (shut)",
                                                    y_title="share of steps > 0.9 (open)", x_lim=[0, 1], y_lim=[0, 1]))
                        gate_text.append(gr.Markdown(elem_classes="stats", label=f"{name(m, i)}: gates"))

    run = dict(preprocess=False, show_progress="minimal", **MODELS_RUN)
    views = [(site.inside_gradients, [text, site.picker], [curves, *flow_text, notes], "inside_gradients"),
             (site.inside_looked_at, [text, position, site.picker], [heat, *bars, *look_text, notes],
              "inside_looked_at"),
             (site.inside_neurons, [text, feature, rank, site.picker], [*units, *unit_text, notes], "inside_neurons"),
             (site.inside_gates, [text, site.picker], [*gates, *gate_text, notes], "inside_gates")]
    for fn, inputs, outputs, api in views:
        button.click(fn, inputs, outputs, api_name=api, **run)
    position.release(views[1][0], views[1][1], views[1][2], api_visibility="private", **run)
    feature.change(views[2][0], views[2][1], views[2][2], api_visibility="private", **run)
    rank.release(views[2][0], views[2][1], views[2][2], api_visibility="private", **run)

    per_place = [flow_text, bars, look_text, units, unit_text, gates, gate_text]

    def switch(v: View) -> dict:
        out = {words_note: gr.Markdown(inside_words_note(v), visible=v.words), body: gr.Column(visible=not v.words),
               intro_text: lead(v), text: passage_of(v), notes: "", heat: "", curves: None}
        for i, m in enumerate(inside_of(v)):
            shown = m is not None
            out[flow_text[i]] = gr.Markdown(value="", label=f"{name(m, i)}: gradient flow", visible=shown)
            out[bars[i]] = gr.BarPlot(value=None, label=f"{name(m, i)}: top 5 next", visible=shown)
            out[look_text[i]] = gr.Markdown(value="", label=f"{name(m, i)}: what it looked at", visible=shown)
            out[units[i]] = gr.HTML(value="", label=f"{name(m, i)}: passage coloured by the unit", visible=shown)
            out[unit_text[i]] = gr.Markdown(value="", label=f"{name(m, i)}: the chosen unit", visible=shown)
            out[gates[i]] = gr.ScatterPlot(value=None, label=f"{name(m, i)} gates", visible=gated(m))
            out[gate_text[i]] = gr.Markdown(value="", label=f"{name(m, i)}: gates", visible=shown)
        return out

    site.on_switch([words_note, body, intro_text, text, notes, heat, curves, *[c for p in per_place for c in p]],
                   switch)


def gated(m) -> bool:
    """Whether the Inside tab draws m's gates (an available model with gates)."""
    from rnnlm.inspect import has_gates

    return m is not None and m.available and has_gates(m.model)


def inside_words_note(view: View) -> str:
    return (f"**Inside the models is for character models.** Its views follow gradients, attributions and units "
            f"character by character; the **{view.label}** models read words. Pick a character set at the top of "
            "the page (Sherlock Holmes · characters reads the same text) to look inside.")


class Page(gr.Blocks):
    """The app's Blocks, whose "Use via API" snippets run as shown (rnnlm.playground.apidocs)."""

    def get_api_info(self, all_endpoints: bool = False, page: str | None = None):
        return one_line_defaults(super().get_api_info(all_endpoints=all_endpoints, page=page))


def build_demo(models) -> gr.Blocks:
    """The whole page: a set picker, then a tab each to generate, compare, score, predict the next word, rank
    sentences, look inside, train, browse and read. models: the model sets (pg.ServedSet, the first is the default),
    or one list of Served models, served as the Shakespeare set."""
    if models and not isinstance(models[0], pg.ServedSet):
        models = [pg.ServedSet(MODEL_SETS[pg.DEFAULT_SET], list(models))]
    site = Sets(models)
    with Page(title="rnnlm: RNN vs LSTM vs GRU", analytics_enabled=False) as demo:
        header(site)
        with gr.Tabs(overflow_behavior="wrap"):  # every tab in sight on a phone too, not behind a "..." menu
            generate_tab(site)
            compare_tab(site)
            score_tab(site)
            next_word_tab(site)
            sentences_tab(site)
            inside_tab(site)
            train_tab(site, demo)
            gallery_tab(site)
            models_tab(site)
        outputs = [c for components, _ in site.switchers for c in components]
        site.picker.change(site.switch, [site.picker], outputs, api_visibility="private", concurrency_limit=None,
                           preprocess=False)
        if any(m.note for v in site.views.values() for m in v.models):
            demo.load(site.first.warn_fallbacks, None, None, api_visibility="private", concurrency_limit=None)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)  # the model endpoints share one slot (MODELS_RUN)
    guard_queue(demo)
    demo.view = site.first  # for tests and benchmarks: the first set's handlers
    demo.sets = site
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
# <label>, which then names the button (the first control in it) and leaves the box nameless. And the compare
# columns' labels are kept one height, so that their texts start level.
SHORTCUTS = """
() => {
  // The compare columns' labels as tall as the tallest while the columns stand side by side, so that their texts
  // start level as well as end level (the CSS stretches the frames); stacked on a phone, each keeps its own height.
  const heads = new ResizeObserver(() => {
    const all = [...document.querySelectorAll(".cmp-text > label > [data-testid=block-info]")];
    all.forEach((h) => { h.style.minHeight = ""; });
    const shown = all.filter((h) => h.offsetParent);
    if (shown.length < 2 || new Set(shown.map((h) => Math.round(h.getBoundingClientRect().top))).size > 1) return;
    const tallest = Math.max(...shown.map((h) => h.offsetHeight));
    shown.forEach((h) => { h.style.minHeight = tallest + "px"; });
  });
  const name = () => {
    document.querySelectorAll("label textarea:not([aria-label])").forEach((box) => {
      const label = box.closest("label").querySelector("[data-testid=block-info]");
      if (label && label.textContent.trim()) box.setAttribute("aria-label", label.textContent.trim());
    });
    document.querySelectorAll(".cmp-text > label > [data-testid=block-info]:not([data-level])").forEach((h) => {
      h.dataset.level = "";
      heads.observe(h);
    });
  };
  name();
  new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
  const buttons = {"generate-prompt": "generate-button", "compare-prompt": "compare-button", "score-text": "score-button",
                   "next-prompt": "next-button", "sentences-text": "sentences-button"};
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
/* the compare columns as tall as the longest text, so the three texts and the lines under them start and end level:
   each box grows with its text (up to COLUMN_LINES) and the shorter ones' frames stretch to the tallest. The frame is
   the textarea's container; the textarea itself keeps the height gradio measures for its text (stretched, it would
   measure its stretched self, and the columns would never shrink again) */
.cmp-text { display: flex !important; flex-direction: column; }
.cmp-text > label, .cmp-text .input-container { display: flex; flex-direction: column; flex: 1 1 auto; }
.cmp-text .input-container { align-items: stretch; background: var(--input-background-fill);
  border-radius: var(--input-radius); box-shadow: var(--input-shadow); }
.cmp-text textarea { flex: none; background: transparent !important; box-shadow: none !important; }
.block.cmp-stats { flex-grow: 0 !important; }  /* the line under each text takes its own height, no more */
.sample-grid { border-collapse: collapse; width: 100%; }
.sample-grid th, .sample-grid td { border: 1px solid var(--border-color-primary); padding: .4em; vertical-align: top; }
.sample-grid pre { white-space: pre-wrap; margin: 0; font-size: .85em; }
.sample-grid caption { caption-side: top; text-align: left; padding: .4em 0; opacity: .8; }
.copies pre { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, monospace; }
.copies mark { background: #ffd54f; color: #1a1a1a; }
.prompt-end { font-size: .9em; color: var(--body-text-color-subdued); }
.prompt-end pre { margin: .2em 0 0; padding: .2em .6em; border-left: 3px solid var(--color-accent); white-space: pre-wrap;
  font-family: ui-monospace, SFMono-Regular, monospace; }
@media (max-width: 600px) {  /* a phone: a smaller title leaves more of the first screen to the tabs */
  h1 { font-size: 1.5em !important; }
  /* the tables in the phone's width, not scrolling sideways: the score table without perplexity (bits/char in other
     terms) and chars scored; the race's without CPU seconds, steps, characters and train loss */
  #score-table :is(th, td):is(:nth-child(3), :nth-child(4)),
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
    takes them at launch), request bodies capped and few sessions kept (guard.launch_options). The compiled LSTM
    and GRU step is built (about a second, once per machine) and the Inside tab's held-out statistics are
    computed (several seconds, once) in the background meanwhile."""
    blocks = blocks or demo
    view = blocks.view  # the first set's; another set's are computed when its Inside views are first asked for
    threading.Thread(target=compiled.library, name="compiled step", daemon=True).start()
    view._inside_samples().warm(view.inside_models())
    return blocks.launch(theme=THEME, css=CSS, js=SHORTCUTS, **(guard.launch_options() | kwargs))


threads.single_stream()  # this process only samples and scores; training runs in processes of its own
demo = build_demo(pg.load_app_sets())  # the Space serves this

if __name__ == "__main__":
    launch()
