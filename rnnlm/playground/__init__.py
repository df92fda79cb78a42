"""The app's logic as plain functions, free of any UI: app.py lays these out with Gradio.

    loading   which three models the app serves (RNNLM_RNN / RNNLM_LSTM / RNNLM_GRU, a folder or a Hub repo
              id, else checkpoints/<name>)
    inputs    server-side checks of every input, with notes on what was changed
    live      streamed generation (one model, or three interleaved on one random stream) and scoring
    gallery   loss curves, the training time-lapse, the sample grid and model cards, read at start
"""
from __future__ import annotations

from ..hub import APP_ENV_VARS as ENV_VARS  # RNNLM_RNN, RNNLM_LSTM, RNNLM_GRU
from ..hub import APP_MODELS  # the app's columns, left to right
from .gallery import Gallery
from .inputs import InputError, Note, Request, check_known, check_sampling, check_score_text
from .live import (
    SCORE_HEADERS, Column, column_stats, compare_stream, generate_stream, heatmap_css, heatmap_html,
    model_facts, next_char_top, score_all, score_rows,
)
from .loading import Loaded, load_models

__all__ = [
    "APP_MODELS", "ENV_VARS", "SCORE_HEADERS", "Column", "Gallery", "InputError", "Loaded", "Note", "Request",
    "check_known", "check_sampling", "check_score_text", "column_stats", "compare_stream", "generate_stream",
    "heatmap_css", "heatmap_html", "load_models", "model_facts", "next_char_top", "score_all", "score_rows",
]
