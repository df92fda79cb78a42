"""The model registry: one ModelSpec per model type holds everything that differs by type.

    register(ModelSpec("elman", label="Elman RNN", ...))     a new type: one file for the class, one line here

Everything else (config checks, the CLI, cards, the gallery, the app) reads MODELS; nothing outside the
model files branches on a model type. Classes are named as "module:Class" and imported when first
needed, so a numpy-only program (the app, sampling, scoring) never imports torch.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..config import ModelConfig


@dataclass(frozen=True)
class ModelSpec:
    """Everything per model type. Classes may be given as classes or as "module:Class" strings."""

    name: str  # the model_type in config.json and --model: "lstm"
    label: str  # what a person reads: "LSTM"
    framework: str  # what trains it: "numpy" or "pytorch" (a card tag)
    architecture: object  # one sentence for cards and the Models tab: a str to .format(**config fields,
    # vocab_size=V), or a function of the config
    train_class: object  # builds, trains and evaluates batches: cls(config, seed=0)
    run_class: object  # runs one stream (sampling, scoring, the app): cls(config), then load_tensors
    defaults: dict = field(default_factory=dict)  # ModelConfig and TrainConfig fields for `train --model NAME`
    runs_in: str = ""  # where run_class runs, in words, when it is not the training class
    fit: object = None  # for a type that learns by counting, not by steps: fit(config, train_ids, val_ids)
    # -> (model, extra metrics); "module:function" or the function
    integer_weights: bool = False  # its tensors are counts (integers), not float weights
    baseline: bool = False  # a reference for the networks: Score shows it, Compare adds it only when asked
    sizes: dict = field(default_factory=dict)  # ModelConfig fields per size preset of a training race ("tiny",
    # "small", "medium"), chosen so every type learns about as fast per CPU second; {}: its defaults

    def trainer_type(self) -> type:
        return _resolve(self.train_class)

    def runner_type(self) -> type:
        return _resolve(self.run_class)

    def fitter(self):
        return _resolve(self.fit) if self.fit is not None else None

    def describe(self, config: ModelConfig) -> str:
        """The architecture sentence filled from a config."""
        if callable(self.architecture):
            return self.architecture(config)
        return self.architecture.format(**config.to_dict() | {"vocab_size": config.vocab_size})


def _resolve(cls):
    if isinstance(cls, str):
        module, _, name = cls.partition(":")
        return getattr(importlib.import_module(module), name)
    return cls


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add (or replace) a model type."""
    MODELS[spec.name] = spec
    return spec


def spec_for(model_type: str) -> ModelSpec:
    """The ModelSpec of model_type; a ValueError listing the known types otherwise."""
    try:
        return MODELS[model_type]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model type {model_type!r}; expected one of {', '.join(MODELS)}") from None


def build_model(config: ModelConfig, seed: int = 0):
    """A freshly initialised model to train, its weights drawn from seed."""
    return spec_for(config.model_type).trainer_type()(config, seed=seed)


def runner(model):
    """The single-stream runner for a model: itself when it is one, else its run class on the same weights."""
    cls = spec_for(model.config.model_type).runner_type()
    if isinstance(model, cls):
        return model
    run = cls(model.config)
    run.load_tensors(model.tensors())
    return run


_EMBEDDED = ("a {embed_size}-wide embedding → {num_layers} {cell} layer(s) of {hidden_size} units{extra} → "
             "dropout {dropout} → linear → softmax over {vocab_size} tokens; dropout {dropout} also sits between layers")

register(ModelSpec(
    name="rnn", label="vanilla RNN", framework="numpy",
    architecture="A vanilla tanh RNN in numpy: one-hot tokens → {num_layers} tanh layer(s) of {hidden_size} units → "
                 "linear → softmax over {vocab_size} tokens. The forward pass and backpropagation through time are "
                 "written by hand; the recurrent weights start orthogonal.",
    train_class="rnnlm.models.numpy_rnn:NumpyRNN", run_class="rnnlm.models.numpy_rnn:RNNRunner",
    defaults=dict(hidden_size=512, num_layers=1, dropout=0.0, seq_len=100, batch_size=64, lr=2e-3),
    sizes=dict(tiny=dict(hidden_size=128, num_layers=1), small=dict(hidden_size=256, num_layers=1),
               medium=dict(hidden_size=512, num_layers=1)),
))
def _cell_spec(name: str, label: str, article: str, extra: str = "", options: dict | None = None) -> ModelSpec:
    """The LSTM and the GRU: one torch module trains them (the cell is a setting), numpy runs one stream.
    extra: words after the layers, formatted with the config's fields and its options (recorded or default)."""
    sentence = _EMBEDDED.format(cell=label, extra=extra, embed_size="{embed_size}", num_layers="{num_layers}",
                                hidden_size="{hidden_size}", dropout="{dropout}", vocab_size="{vocab_size}")
    template = f"{article} {label} trained in PyTorch: {sentence}."
    return ModelSpec(
        name=name, label=label, framework="pytorch",
        architecture=lambda c: template.format(**(options or {}) | c.options | c.to_dict(), vocab_size=c.vocab_size),
        train_class="rnnlm.models.torch_rnn:TorchRNN", run_class="rnnlm.models.numpy_cells:CellLM",
        defaults=dict(hidden_size=512, num_layers=2, dropout=0.25, seq_len=128, batch_size=64, lr=2e-3)
        | (dict(options=options) if options else {}),
        runs_in="run one stream at a time in numpy on the same weights (rnnlm/models/numpy_cells.py)",
        sizes=dict(tiny=dict(hidden_size=64, num_layers=1, embed_size=32),
                   small=dict(hidden_size=128, num_layers=1, embed_size=48),
                   medium=dict(hidden_size=256, num_layers=2, embed_size=64)),
    )


register(_cell_spec("lstm", "LSTM", "An", " (forget-gate bias {forget_bias} at the start)",
                    options={"forget_bias": 1.0}))
register(_cell_spec("gru", "GRU", "A"))
register(ModelSpec(
    name="ngram", label="n-gram baseline", framework="numpy",
    architecture=lambda c: (
        f"An n-gram model of order {c.options.get('order')} over {c.vocab_size} tokens: it predicts each token from "
        f"the {c.options.get('order', 1) - 1} before it, with interpolated modified Kneser-Ney smoothing; counts, no "
        "training steps" + (f"; n-grams seen once are dropped from order {c.options['prune']} up to fit in 12 MB."
                            if c.options.get("prune") else ".")),
    train_class="rnnlm.models.ngram:NGramLM", run_class="rnnlm.models.ngram:NGramLM",
    defaults=dict(options={"order": 0, "prune": 6}),
    fit="rnnlm.models.ngram:fit_for_training", integer_weights=True, baseline=True,
))
