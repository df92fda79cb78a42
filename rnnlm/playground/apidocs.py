"""What the page's "Use via API" panel shows: code that runs as shown.

gradio writes each string input's default into its Python, JavaScript and cURL snippets as "<value>", unescaped,
so a default with a newline (the prompt "JULIET:\\nO Romeo...", the held-out passages) or a quote or backslash
gives a snippet that does not parse. The page keeps those defaults; the API gets a one-line default instead,
the same one gradio_client sends when a caller leaves the input out, so the docs and the client agree.

Nothing here imports gradio: it rewrites the API description that gradio hands over (Blocks.get_api_info).
"""
from __future__ import annotations

from .examples import DEFAULT_PROMPT, HELD_OUT

# One-line API defaults, by the handler parameter's name, for inputs whose page default cannot be written
# as a "..." literal: the default prompt's verse line to continue, and a held-out line to score or look into.
API_DEFAULTS = {
    "prompt": DEFAULT_PROMPT.splitlines()[-1],
    "text": HELD_OUT.strip().splitlines()[-1],
}


def literal_safe(value: str) -> bool:
    """Whether "value" (quotes added, nothing escaped) reads back as value in Python, JavaScript and JSON."""
    return not any(c in value for c in '"\\\n\r') and all(c >= " " for c in value)


def one_line_defaults(info: dict, defaults: dict[str, str] = API_DEFAULTS) -> dict:
    """info (gradio's API description) with every string default that a snippet cannot quote replaced by
    defaults[its parameter's name]; an input with no such entry becomes required and shows gradio's example."""
    for endpoint in info.get("named_endpoints", {}).values():
        for p in endpoint.get("parameters", []):
            value = p.get("parameter_default")
            if not p.get("parameter_has_default") or not isinstance(value, str) or literal_safe(value):
                continue
            name = p.get("parameter_name")
            if name in defaults:
                p["parameter_default"] = defaults[name]
            else:
                p["parameter_has_default"], p["parameter_default"] = False, None
    return info
