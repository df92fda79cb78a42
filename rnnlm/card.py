"""The model card (README.md) written beside every checkpoint and shown on its Hub page.

Metadata (library, tags, dataset, license, validation figures as model-index metrics) goes through
huggingface_hub's ModelCardData, so the Hub reads it; the text is a jinja2 template filled from the
ModelConfig (sizes, training settings, metrics) and, when present, the folder's samples.json.
"""
from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import fields
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .config import ModelConfig, TrainConfig
from .data import CORPORA
from .models import spec_for

# Recorded by checkpoints/build.py: nats/char on the validation split's first N characters.
PARTIAL_SCORE = re.compile(r"val_first_(\d+)_nats_per_char")
NOT_FLAGS = ("val_fraction", "eval_streams")  # TrainConfig fields `python -m rnnlm train` has no flag for
SAMPLES_NAME = "samples.json"

TEMPLATE = """---
{{ card_data }}
---

# rnnlm {{ model_type }}: {{ description }}

{{ intro }}
Made with `rnnlm`, which trains, samples and scores it.

## Architecture

{{ architecture }}

| size | value |
| --- | --- |
| vocabulary | {{ vocabulary }}, stored in `config.json` |
{% if counted %}| stored counts | {{ parameters }} |
{% else %}| layers | {{ num_layers }} |
| units per layer | {{ hidden_size }} |
| parameters | {{ parameters }} |
{% endif %}
## Training

{% if training %}| setting | value |
| --- | --- |
{% for name, value in training %}| `{{ name }}` | {{ value }} |
{% endfor %}
{% if counted %}The model was counted from the training split in one pass: no training steps.
{% else %}The hidden state is carried from one window to the next and detached (truncated backpropagation through
time); the learning rate warms up linearly, then follows a cosine decay; gradients are clipped by global norm.
{% endif %}{% else %}No training settings recorded: these weights did not come from `python -m rnnlm train`.
{% endif %}
## Data and split

{% if data %}Trained on `{{ data }}`{% if dataset_hint %} ({{ dataset_hint }}){% endif %}. The first {{ train_pct }} of
its characters train and the last {{ val_pct }} validate, as two contiguous pieces (nanoGPT's split, so
figures compare with its published ones). {{ vocab_sentence }}
{% else %}No training data recorded.
{% endif %}
## Results

{% if results %}| figure | value |
| --- | --- |
{% for name, value in results %}| {{ name }} | {{ value }} |
{% endfor %}{% for line in partial %}
{{ line }}
{% endfor %}{% else %}Not evaluated yet: no validation figures recorded.
{% endif %}
## Reproduce

{% if command %}```bash
{{ command }}
```
{% if minutes %}
A `--minutes` budget ends the run by wall-clock time, so the number of steps depends on the machine.
{% endif %}{% else %}No training command recorded.
{% endif %}{% if samples %}
## Samples

The prompt {{ samples.prompt }} continued for {{ samples.length }} {{ unit }}s with seed {{ samples.seed }}, at each
temperature (`python -m rnnlm sample <repo-id> --prompt {{ samples.prompt_arg }} --seed {{ samples.seed }} --length {{ samples.length }} --temperature T`):
{% for temperature, text, fence in samples.texts %}
**temperature {{ temperature }}**

{{ fence }}text
{{ text }}
{{ fence }}
{% endfor %}{% endif %}
## Use

```bash
{% if word %}python -m rnnlm sample <repo-id> --prompt "I will close the door if" --length 10 --temperature 0
python -m rnnlm sample <repo-id> --prompt "I will close the door if" --top 10
python -m rnnlm score <repo-id> --sentences sentences.txt
{% else %}python -m rnnlm sample <repo-id> --prompt "ROMEO:" --length 300 --temperature 0.8 --seed 7
{% endif %}python -m rnnlm pull <repo-id> --out models/{{ model_type }}
```

```python
import rnnlm

model = rnnlm.load_model("<repo-id>")  # or "<repo-id>@<revision>", or a local folder
{% if word %}print(rnnlm.generate(model, "I will close the door if", length=10, temperature=0))
{% else %}print(rnnlm.generate(model, "ROMEO:", length=200, temperature=0.8, seed=7))
{% endif %}```

## Files

| file | what |
| --- | --- |
| `config.json` | model type, sizes, vocabulary, training settings, best validation figures |
| `model.safetensors` | the weights (safetensors: loading never runs code from the file) |
| `log.jsonl` | the training log: one JSON line per log point with `step`, `chars` ({{ unit }}s seen), `seconds`, `train_loss` or `val_loss` (nats/{{ unit }}), `lr` |
| `timelapse.jsonl` | samples from a fixed prompt and seed at 1%, 5%, 20%, 50% and 100% of the run |
| `samples.json` | the samples above, when present |
"""


def render_card(model, folder: str | Path | None = None) -> str:
    """The README.md card for a model, with the samples in folder/samples.json if any."""
    config: ModelConfig = model.config
    spec = spec_for(config.model_type)
    training, metrics = config.training, config.metrics
    val_fraction = training.get("val_fraction", TrainConfig.val_fraction)
    data = Path(training["data"]).name if training.get("data") else ""
    card = ModelCard.from_template(
        _card_data(config, spec.framework, data, val_fraction),
        template_str=TEMPLATE,
        model_type=config.model_type,
        description=spec.label,
        architecture=spec.describe(config) + (f" It is {spec.runs_in}." if spec.runs_in else ""),
        vocab_size=config.vocab_size,
        **_tokens_text(config),
        num_layers=config.num_layers,
        hidden_size=config.hidden_size,
        parameters=f"{model.num_params():,}",
        training=_training_rows(training),
        counted=spec.fit is not None,
        data=data,
        dataset_hint=_dataset_hint(data),
        train_pct=f"{(1 - val_fraction) * 100:g}%",
        val_pct=f"{val_fraction * 100:g}%",
        results=_result_rows(metrics),
        partial=_partial_scores(metrics),
        command=metrics.get("command") or _train_command(config, spec.fit is None),
        minutes=training.get("minutes"),
        samples=_samples_for_card(Path(folder) / SAMPLES_NAME) if folder is not None else None,
    )
    return str(card).rstrip("\n") + "\n"


def _tokens_text(config: ModelConfig) -> dict:
    """What the card says about the tokens: char or word."""
    tokens = config.tokens
    if tokens.get("kind", "char") == "char":
        return dict(word=False, unit="character", vocabulary=f"{config.vocab_size} characters",
                    intro="A character-level language model: it reads text one character at a time and predicts the "
                          "next one.",
                    vocab_sentence="The vocabulary is the sorted set of the text's characters.")
    lower = ", lowercased" if tokens.get("lowercase") else ""
    return dict(
        word=True, unit="token", vocabulary=f"{config.vocab_size:,} tokens (`<unk>` and the line break among them{lower})",
        intro="A word-level language model: it reads text one token at a time (a word, a number, a punctuation mark "
              "or a line break) and predicts the next one; its text is written back with the spacing of English prose.",
        vocab_sentence=f"The vocabulary is the training split's most frequent tokens{lower}, at most "
                       f"{tokens.get('max_size', config.vocab_size):,} (here {config.vocab_size:,}), `<unk>` and the "
                       "line break among them; every other token reads as `<unk>`. A character unigram model of the training "
                       "split's tokens (stored in `config.json`) prices an `<unk>` word's spelling for the bits per "
                       "character figure, so word and character models compare on one text.")


def _card_data(config: ModelConfig, framework: str, data: str, val_fraction: float) -> ModelCardData:
    """The YAML metadata: library, tags, license, the dataset when it is a known one, val figures as model-index."""
    corpus = Path(data).stem
    metrics = config.metrics
    results = []
    word = config.tokens.get("kind", "char") == "word"
    if "val_nats_per_char" in metrics:
        # float(): a numpy scalar would reach the YAML as a Python object tag
        nats = float(metrics["val_nats_per_char"])
        bits = float(metrics.get("val_bits_per_char", nats / math.log(2)))
        dataset = dict(dataset_type=corpus or "text", dataset_name=f"{data or 'training text'} (last {val_fraction:.0%})",
                       dataset_split="validation", task_type="text-generation",
                       task_name=f"{'Word' if word else 'Character'}-level language modeling")
        results = [
            EvalResult(metric_type="nats_per_char", metric_name="val nats/char", metric_value=round(nats, 4), **dataset),
            EvalResult(metric_type="bits_per_char", metric_name="val bits/char", metric_value=round(bits, 4), **dataset),
        ]
        if "val_nats_per_token" in metrics:
            per_token = float(metrics["val_nats_per_token"])
            results += [
                EvalResult(metric_type="nats_per_token", metric_name="val nats/token", metric_value=round(per_token, 4),
                           **dataset),
                EvalResult(metric_type="perplexity", metric_name="val perplexity per token",
                           metric_value=round(math.exp(per_token), 2), **dataset),
            ]
    return ModelCardData(
        library_name="rnnlm",
        license="mit",
        pipeline_tag="text-generation",
        tags=["word-level" if word else "character-level", "language-model", config.model_type, framework],
        datasets=["tinyshakespeare"] if corpus == "tinyshakespeare" else None,
        model_name=f"rnnlm-{config.model_type}" if results else None,  # model-index's name; alone, a stray key
        eval_results=results or None,
    )


def _training_rows(training: dict) -> list[tuple[str, str]]:
    """(setting, value) rows in TrainConfig's order, then anything else recorded."""
    order = [f.name for f in fields(TrainConfig)]
    names = [n for n in order if n in training] + [n for n in training if n not in order]
    return [(n, Path(training[n]).name if n == "data" else str(training[n])) for n in names]


def _result_rows(metrics: dict) -> list[tuple[str, str]]:
    """(figure, value) rows: best validation loss, when, how long, on what; then any other figures recorded."""
    if "val_nats_per_char" not in metrics:
        return []
    nats = metrics["val_nats_per_char"]
    per_token = metrics.get("val_nats_per_token")
    if per_token is None:
        rows = [("best validation loss", f"{nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char "
                                         f"(perplexity {math.exp(nats):.2f})")]
    else:
        rows = [("best validation loss", f"{per_token:.4f} nats/token (perplexity {math.exp(per_token):.2f} per token)"),
                ("bits per character", f"{nats / math.log(2):.4f} bits/char of the validation text, each `<unk>` "
                                       "paying for its spelling: comparable with a character model's"),
                ("`<unk>` tokens", f"{metrics.get('val_unk_rate', 0.0):.2%} of the validation tokens")]
    unit = "characters" if per_token is None else "tokens"
    if "step" in metrics:
        rows.append(("reached at step", f"{metrics['step']:,} ({metrics.get('chars_seen', 0):,} {unit} seen)"))
    if "train_seconds" in metrics:
        seconds = metrics["train_seconds"]
        rows.append(("training time", f"{seconds:.1f} s" if seconds < 60 else f"{seconds:,.0f} s ({seconds / 60:.1f} min)"))
    rows.append(("hardware", metrics.get("hardware") or "not recorded"))
    shown = {"val_nats_per_char", "val_bits_per_char", "val_nats_per_token", "val_perplexity", "val_unk_rate", "step",
             "chars_seen", "train_seconds", "hardware", "command"}
    rows += [(f"`{k}`", _figure(v)) for k, v in metrics.items() if k not in shown and not PARTIAL_SCORE.fullmatch(k)]
    return rows


def _figure(value) -> str:
    """A recorded figure for a table cell: floats to 4 places, a {key: value} mapping as 'key: value' pairs."""
    if isinstance(value, dict):
        return " · ".join(f"{k}: {_figure(v)}" for k, v in value.items())
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _partial_scores(metrics: dict) -> list[str]:
    """A sentence per val_first_<N>_nats_per_char figure: a check anyone can repeat with `rnnlm score`."""
    lines = []
    for key, nats in metrics.items():
        if match := PARTIAL_SCORE.fullmatch(key):
            lines.append(f"On the first {int(match.group(1)):,} validation characters: {nats:.4f} nats/char "
                         f"({nats / math.log(2):.4f} bits/char), as `python -m rnnlm score` measures them.")
    return lines


def _dataset_hint(data: str) -> str:
    """How to get a known corpus (`python -m rnnlm download NAME`), else nothing."""
    name = Path(data).stem
    return f"`python -m rnnlm download {name} --out data` fetches it" if name in CORPORA else ""


def _train_command(config: ModelConfig, stepped: bool = True) -> str:
    """`python -m rnnlm train ...` with every recorded setting spelled out, or "" when none were recorded."""
    training = config.training
    if not training:
        return ""
    model_flags = dict(model=config.model_type)
    if config.tokens.get("kind", "char") == "word":
        model_flags |= dict(tokens="word", vocab_size=config.tokens.get("max_size", config.vocab_size))
    if stepped:
        model_flags |= dict(hidden_size=config.hidden_size, num_layers=config.num_layers,
                            embed_size=config.embed_size, dropout=config.dropout)
    model_flags |= {k: v for k, v in config.options.items() if k in ("order", "prune", "forget_bias")}
    data = f"data/{Path(training['data']).name}" if training.get("data") else "TEXT_FILE"
    train_flags = {f.name: training[f.name] for f in fields(TrainConfig)
                   if f.name in training and f.name not in NOT_FLAGS and f.name != "data"}
    args = ["python", "-m", "rnnlm", "train"]
    for name, value in {**model_flags, **train_flags}.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    if config.tokens.get("lowercase"):
        args.append("--lowercase")
    args += ["--data", data, "--out", f"runs/{config.model_type}"]
    return shlex.join(args)


def read_samples(path: Path) -> dict:
    """samples.json as {"prompt", "seed", "length", "samples": {temperature: text}}; {} when missing or malformed.

    A card is written on every save during training, and the gallery reads the file at the app's start: a
    malformed side file must stop neither.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("samples"), dict) or not isinstance(doc.get("prompt", ""), str):
        return {}
    return doc


def _samples_for_card(path: Path) -> dict | None:
    """The card template's view of samples.json, or None."""
    doc = read_samples(path)
    if not doc or "seed" not in doc:
        return None
    prompt = doc.get("prompt", "")
    texts = [(str(t), prompt + str(text)) for t, text in doc["samples"].items()]  # as `rnnlm sample` prints them
    return dict(prompt=f"`{json.dumps(prompt)}`", prompt_arg=_shell_quote(prompt), seed=doc["seed"],
                length=doc.get("length", "?"), texts=[(t, text, _fence(text)) for t, text in texts])


def _shell_quote(text: str) -> str:
    """text as one shell word on one line: bash's $'...' spells out a newline or tab, which shlex would embed."""
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + text.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in text."""
    run, best = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        best = max(best, run)
    return "`" * max(3, best + 1)
