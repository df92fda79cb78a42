"""Model registry: model_type -> class. Torch is imported only when a torch model is asked for."""
from __future__ import annotations

import importlib

from ..config import ModelConfig

_REGISTRY = {
    "rnn": ("rnnlm.models.numpy_rnn", "NumpyRNN"),
    "lstm": ("rnnlm.models.torch_rnn", "TorchRNN"),
    "gru": ("rnnlm.models.torch_rnn", "TorchRNN"),
}

# Lighter classes that run (not train) a checkpoint: the LSTM and GRU in numpy, without importing torch.
_INFERENCE = {
    "lstm": ("rnnlm.models.numpy_cells", "CellLM"),
    "gru": ("rnnlm.models.numpy_cells", "CellLM"),
}

DESCRIPTIONS = {
    "rnn": "vanilla RNN (numpy)",
    "lstm": "LSTM (torch)",
    "gru": "GRU (torch)",
}


def model_class(model_type: str, inference: bool = False):
    """The class that implements model_type; with inference=True, the lightest one that can run it."""
    try:
        module, name = (inference and _INFERENCE.get(model_type)) or _REGISTRY[model_type]
    except KeyError:
        raise ValueError(f"unknown model type {model_type!r}; expected one of {', '.join(_REGISTRY)}") from None
    return getattr(importlib.import_module(module), name)


def build_model(config: ModelConfig, seed: int = 0):
    """A freshly initialised model for config, its weights drawn from seed."""
    return model_class(config.model_type)(config, seed=seed)
