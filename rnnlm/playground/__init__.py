"""The app's logic as plain functions, free of any UI: app.py lays these out with Gradio.

    loading   which model sets and models the app serves and from where (RNNLM_<TYPE>, RNNLM_<SET>_<MODEL>: a
              folder or a Hub repo id, else the bundled folder), one Served record per model, one ServedSet per set
    inputs    server-side checks of every input, with notes on what was changed
    live      streamed generation (one model, or three interleaved on one random stream) and scoring
    words     the word sets' views: the likeliest next words, and ranking sentences by probability
    gallery   loss curves, the training time-lapse, the sample grid and model cards, read at start
"""
from __future__ import annotations

from .gallery import Gallery
from .inputs import InputError, Note, Request, check_known, check_sampling, check_score_text
from .live import (
    SCORE_HEADERS, Column, column_stats, compare_stream, difference_html, generate_stream, heatmap_css, heatmap_html,
    model_facts, next_char_top, score_all, score_rows,
)
from .loading import DEFAULT_SET, Served, ServedSet, env_var, load_app_models, load_app_sets, load_folder, load_set

__all__ = [
    "DEFAULT_SET", "SCORE_HEADERS", "Column", "Gallery", "InputError", "Note", "Request", "Served", "ServedSet",
    "check_known", "check_sampling", "check_score_text", "column_stats", "compare_stream", "difference_html", "env_var",
    "generate_stream",
    "heatmap_css", "heatmap_html", "load_app_models", "load_app_sets", "load_folder", "load_set", "model_facts", "next_char_top", "score_all",
    "score_rows",
]
