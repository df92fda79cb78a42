"""rnnlm playground: generate with, compare, score and browse small recurrent language models.

    python app.py    serves on 127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change that)

The view only: layout and wiring. build_demo(models) lays out a page for any list of served models (tests
build one from fixture models); which models are served, from where, and the fallbacks are
rnnlm.playground.load_app_models' policy. Every action is a call into rnnlm.playground.
"""
from __future__ import annotations

import math
import time

import gradio as gr
import pandas as pd

from rnnlm import playground as pg
from rnnlm.models import MODELS
from rnnlm.playground.copies import copies_html, copy_report, recall_note, training_index
from rnnlm.playground import inside as ins_view
from rnnlm.playground.inputs import DEFAULTS, MAX_GENERATE, MAX_TEMPERATURE, MAX_TOP_K

DEFAULT_PROMPT = "JULIET:\nO Romeo, Romeo! wherefore art thou"
EXAMPLES = [
    ["ROMEO:\n", 0.8],
    ["First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n", 0.5],
    ["KING RICHARD III:\nNow is the winter of our discontent\n", 1.0],
    ["To be, or not to be, that is the question", 0.2],
    ["Hello 👋, ROMEO! 🌹", 0.8],  # the emoji are skipped, and the page says so
]
SCORE_EXAMPLES = [
    "ROMEO:\nBut soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
    "Please remember to submit your expense reports by Friday afternoon.",
    "qzxv jjkq wprt mmmb xxxq",
]
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

    def generate(self, model=None, prompt=None, length=None, temperature=None, top_k=None, top_p=None, seed=None,
                 show_copied=False):
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

    def compare(self, prompt=None, length=None, temperature=None, top_k=None, top_p=None, seed=None,
                with_baseline=False, show_copied=False):
        """Stream the models' texts side by side from one random stream: N texts, N stats lines, notes, copies.

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
        """The texts and the stats lines of every model's column (empty for a model not compared)."""
        by_name = {c.loaded.name: c for c in columns}
        texts, stats = [], []
        for m in self.models:
            c = by_name.get(m.name)
            texts.append(req.prompt + c.text if c else "")
            stats.append(f"{pg.model_facts(m)}  \n{pg.column_stats(c)}" if c else (m.error or "not compared"))
        return texts + stats

    def score(self, text=None):
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
        return pg.score_rows(results), pg.heatmap_html(results), *labels, notes_markdown(dedupe(notes))

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


def sampling_controls(tab: str):
    """Length, temperature, top-k, top-p and seed inputs, each saying what it does (elem_id: tab-length ...)."""
    length = gr.Slider(1, MAX_GENERATE, value=DEFAULTS["length"], step=1, label="length",
                       info="Characters to generate.", elem_id=f"{tab}-length")
    temperature = gr.Slider(
        0, MAX_TEMPERATURE, value=DEFAULTS["temperature"], step=0.05, label="temperature",
        info="0 = always the likeliest character; below 1 safer and more repetitive, above 1 wilder.")
    top_k = gr.Slider(0, MAX_TOP_K, value=DEFAULTS["top_k"], step=1, label="top-k",
                      info="Pick only among the k likeliest characters. 0 = off.")
    top_p = gr.Slider(
        0.01, 1, value=DEFAULTS["top_p"], step=0.01, label="top-p",
        info="Pick only among the likeliest characters that together hold this much probability. 1 = off.")
    seed = gr.Textbox(value=DEFAULTS["seed"], label="seed", max_lines=1, elem_id=f"{tab}-seed",
                      info="A whole number gives the same text every time; 'random' draws one (and shows it).")
    return [length, temperature, top_k, top_p, seed]


def copied_toggle(tab: str) -> gr.Checkbox:
    """Whether to mark, under the result, what the text copies verbatim from the model's training text."""
    return gr.Checkbox(False, label="mark text copied from the training text", elem_id=f"{tab}-copied",
                       info="Highlights every stretch of 20+ characters found verbatim in what the model read.")


def prompt_box(elem_id: str) -> gr.Textbox:
    """The prompt input, with the default Shakespearean prompt."""
    return gr.Textbox(DEFAULT_PROMPT, label="prompt", lines=4, max_length=pg.inputs.MAX_PROMPT, elem_id=elem_id,
                      info="The model reads this first, then continues it. Characters it never saw are skipped.")


def header(view: View) -> None:
    gr.Markdown(
        "# RNN vs LSTM vs GRU, one character at a time\n"
        "Small character-level language models trained on the same text (Tiny Shakespeare): a vanilla RNN "
        "written in numpy, and an LSTM and a GRU trained in torch (run here in numpy on the same weights, "
        "which is faster one character at a time). Each reads one character, updates its hidden state, "
        "and predicts the next character; everything below is made that way."
    )
    gr.Markdown(view.status_markdown(), elem_classes="status")


def generate_tab(view: View) -> None:
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column(scale=2):
                model = gr.Radio([(m.label, m.name) for m in view.models], label="model", value=view.default_model,
                                 info="Which network continues your prompt.")
                prompt = prompt_box("generate-prompt")
                settings = sampling_controls("generate")
                copied = copied_toggle("generate")
                button = gr.Button("Generate", variant="primary", elem_id="generate-button")
            with gr.Column(scale=3):
                text = gr.Textbox(label="prompt + continuation", lines=18, max_lines=30, interactive=False,
                                  buttons=["copy"])
                stats = gr.Markdown(elem_classes="stats")
                notes = gr.Markdown(elem_classes="notes")
                copies = gr.HTML(elem_id="generate-copies")
        gr.Examples(EXAMPLES, [prompt, settings[1]], label="Try these prompts")
        gr.Markdown(
            "**Notice:** the text streams in as it is sampled, one character per step of the network, with "
            "one random number per character. Set a seed and generate twice: the same text. Lower the temperature "
            "to 0.2 and the model repeats its favourite words; raise it to 1.5 and it invents new ones."
        )
    button.click(view.generate, [model, prompt, *settings, copied], [text, stats, notes, copies], api_name="generate",
                 preprocess=False, show_progress="minimal", **MODELS_RUN)


def compare_tab(view: View) -> None:
    n = len(view.available)
    with gr.Tab("Compare"):
        with gr.Row():
            with gr.Column(scale=3):
                prompt = prompt_box("compare-prompt")
                label = "Compare all three" if n == 3 else f"Compare the {n} models" if n > 1 else "Compare"
                button = gr.Button(label, variant="primary", elem_id="compare-button")
                gr.Examples(EXAMPLES, [prompt], label="Try these prompts")
            with gr.Column(scale=2):
                settings = sampling_controls("compare")
                baseline = gr.Checkbox(False, label="add the n-gram baseline as a column", elem_id="compare-baseline",
                                       visible=bool(view.baselines),
                                       info="A count-based model: how much do the networks beat counting?")
                copied = copied_toggle("compare")
        with gr.Row(equal_height=True):
            texts, stats, baseline_columns = [], [], []
            for m in view.models:
                with gr.Column(visible=m not in view.baselines) as column:
                    if m in view.baselines:
                        baseline_columns.append(column)
                    texts.append(gr.Textbox(label=m.label, lines=16, max_lines=16, interactive=False,
                                            elem_id=f"compare-{m.name}", elem_classes="cmp-text"))
                    stats.append(gr.Markdown(pg.model_facts(m) if m.available else m.error, elem_classes="stats"))
        notes = gr.Markdown(elem_classes="notes")
        copies = gr.HTML(elem_id="compare-copies")
        gr.Markdown(
            "**Notice:** the models draw the *same* random numbers (same seed, one draw per character), so where "
            "their texts differ, the models differ, not the luck. Look at the layout: the LSTM and GRU usually keep "
            "a speaker's name in capitals, a colon, a few verse lines and a blank line going for hundreds of "
            "characters, because their gates let information pass many steps almost unchanged. The vanilla RNN "
            "squeezes its whole memory through a tanh at every step, so it sooner forgets who is speaking and how "
            "long the line has run."
        )
    button.click(view.compare, [prompt, *settings, baseline, copied], [*texts, *stats, notes, copies],
                 api_name="compare", preprocess=False, show_progress="minimal", **MODELS_RUN)
    if baseline_columns:
        baseline.change(lambda on: [gr.Column(visible=on is True) for _ in baseline_columns], [baseline],
                        baseline_columns, api_visibility="private", concurrency_limit=None, preprocess=False)


def score_tab(view: View) -> None:
    with gr.Tab("Score"):
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(SCORE_EXAMPLES[0], label="text to score", lines=5, max_length=pg.inputs.MAX_SCORE,
                                  elem_id="score-text", info="Each character is predicted from all the characters before it.")
                button = gr.Button("Score", variant="primary")
                gr.Examples([[t] for t in SCORE_EXAMPLES], [text], label="Try these texts")
            with gr.Column(scale=2):
                gr.Markdown(
                    "**bits/char** is how many yes/no questions a model needs, on average, to pin down each "
                    "character: lower is better. **Perplexity** is 2^bits: the model is as unsure as if it were "
                    "choosing among that many characters. Text unlike the training text (modern office English, "
                    "random letters) costs every model more bits, the weakest model most."
                )
        table = gr.Dataframe(headers=pg.SCORE_HEADERS, label="how surprised each model is", interactive=False)
        gr.Markdown(
            "**Surprisal heat map:** the redder a character, the less the model expected it (hover for its "
            "probability). The first letters of words and names surprise every model; the ends of long words and "
            "the line after a speaker's name surprise the LSTM and GRU less than the RNN."
        )
        heat = gr.HTML()
        gr.Markdown("**What comes next?** Each model's ten likeliest next characters after your text. "
                    "A confident model puts most probability on one or two; its entropy (in the table) is low.")
        with gr.Row():
            nexts = [gr.Label(label=m.label, num_top_classes=10) for m in view.models]
        notes = gr.Markdown(elem_classes="notes")
    button.click(view.score, [text], [table, heat, *nexts, notes], api_name="score", preprocess=False, **MODELS_RUN)


def gallery_tab(view: View) -> None:
    g, steps, V = view.gallery, view.lapse_steps, view.vocab_size
    with gr.Tab("Gallery"):
        gr.Markdown(
            "**Loss curves.** Validation loss in nats per character, on the last 10% of the text that no model "
            f"trained on; ln {V} ≈ {math.log(V):.2f} is a blind guess among {V} characters. Left against "
            "characters read, right against training time: the same data buys the gated models a lower loss, but "
            "each of their steps costs more."
        )
        curves = g.curves()
        with gr.Row():
            gr.LinePlot(curves, x="chars (millions)", y="val nats/char", color="model", label="against characters seen")
            gr.LinePlot(curves, x="minutes", y="val nats/char", color="model", label="against training time")
        gr.Markdown("**How much does memory help?** A count-based n-gram model predicts from the last N-1 "
                    "characters only. Its validation loss by order N, against the networks' (flat lines): "
                    + g.memory_caption())
        gr.LinePlot(g.memory_plot(), x="order", y="val nats/char", color="model", label="n-gram by order vs the networks")
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
        notes = gr.Markdown(elem_classes="notes")
        row = lambda: [gr.Markdown(elem_classes="stats") for _ in models]  # noqa: E731 - one caption per model

        gr.Markdown("### 1. Gradient flow\nHow much the log-probability of a character depends on the input k "
                    "characters back: the norm of the gradient with respect to the RNN's one-hot input and the "
                    "LSTM's and GRU's embedding, divided by its value at k = 1, on a log10 scale (−3 is 1/1000).")
        curves = gr.LinePlot(x="k", y="log10 relative gradient", color="model", elem_id="inside-gradients",
                             label="gradient norm against distance", x_title="k (characters back)",
                             y_title="log10 (norm / norm at k = 1)")
        with gr.Row(equal_height=True):
            flow_text = row()

        gr.Markdown("### 2. What did it look at?\nThe influence of every character read on one prediction, "
                    "as gradient × input: the first-order change in log p if that character's input were zeroed. "
                    "Below, each model's five likeliest next characters at temperature 0.5, 1 and 1.5.")
        position = gr.Slider(1, ins_view.ins.MAX_PASSAGE, value=min(len(passage), 300), step=1,
                             label="predict after this many characters", elem_id="inside-position")
        heat = gr.HTML(elem_id="inside-heat")
        with gr.Row(equal_height=True):
            bars = [gr.BarPlot(x="next", y="probability", color="temperature", label=f"{m.label}: top 5 next",
                               x_title="next character at temperature 0.5 / 1 / 1.5", x_label_angle=-45)
                    for m in models]
        with gr.Row(equal_height=True):
            look_text = row()

        gr.Markdown("### 3. Neurons\nUnits ranked by how strongly they correlate with a feature of the text, over "
                    "a longer held-out sample (any layer: the RNN's h, the LSTM's cell c and h, the GRU's h). The "
                    "passage is coloured by the chosen unit: red positive, blue negative.")
        with gr.Row():
            feature = gr.Dropdown(list(ins_view.ins.FEATURES), value="line position", label="feature",
                                  elem_id="inside-feature")
            rank = gr.Slider(1, 5, value=1, step=1, label="unit (1 = best)", elem_id="inside-rank")
        with gr.Row(equal_height=True):
            units = [gr.HTML() for _ in models]
        with gr.Row(equal_height=True):
            unit_text = row()

        gr.Markdown("### 4. Gates\nFor each unit of the LSTM and GRU, the share of held-out steps its gate is "
                    "shut (< 0.1, left-saturated) against open (> 0.9, right-saturated), per gate and layer.")
        gated = [m for m in models if m.available and has_gates(m.model)]
        texts = {m.name: gr.Markdown(elem_classes="stats") for m in models if m not in gated}  # "no gates"
        gates = []
        with gr.Row(equal_height=True):
            for m in gated:
                with gr.Column():
                    gates.append(gr.ScatterPlot(x="left-saturated", y="right-saturated", color="gate",
                                                label=f"{m.label} gates", x_title="share of steps < 0.1 (shut)",
                                                y_title="share of steps > 0.9 (open)", x_lim=[0, 1], y_lim=[0, 1]))
                    texts[m.name] = gr.Markdown(elem_classes="stats")
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


def build_demo(models: list[pg.Served]) -> gr.Blocks:
    """The whole page for these models: a header and one tab each to generate, compare, score, browse, read."""
    view = View(models)
    with gr.Blocks(title="rnnlm: RNN vs LSTM vs GRU", analytics_enabled=False) as demo:
        header(view)
        generate_tab(view)
        compare_tab(view)
        score_tab(view)
        inside_tab(view)
        gallery_tab(view)
        models_tab(view)
        if any(m.note for m in view.models):
            demo.load(view.warn_fallbacks, None, None, api_visibility="private", concurrency_limit=None)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)  # the model endpoints share one slot (MODELS_RUN)
    demo.view = view  # for tests and benchmarks
    return demo


THEME = gr.themes.Soft(primary_hue="indigo", font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"])  # system fonts: nothing to fetch
CSS = pg.heatmap_css() + """
.stats p { font-size: .9em; opacity: .85; margin: 0; }
.notes:empty { display: none; }
.cmp-text textarea, textarea { font-family: ui-monospace, SFMono-Regular, monospace; }
.sample-grid { border-collapse: collapse; width: 100%; }
.sample-grid th, .sample-grid td { border: 1px solid var(--border-color-primary); padding: .4em; vertical-align: top; }
.sample-grid pre { white-space: pre-wrap; margin: 0; font-size: .85em; }
.sample-grid caption { caption-side: top; text-align: left; padding: .4em 0; opacity: .8; }
.copies pre { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, monospace; }
.copies mark { background: #ffd54f; color: #1a1a1a; }
"""


def launch(blocks: gr.Blocks | None = None, **kwargs):
    """Serve a demo (the module's own by default) with the app's theme and styles (Gradio 6 takes them at launch)."""
    return (blocks or demo).launch(theme=THEME, css=CSS, **kwargs)


demo = build_demo(pg.load_app_models())  # the Space serves this

if __name__ == "__main__":
    launch()
