"""Sphinx extension: docstrings write norms as |x| (the papers' notation), which reStructuredText would
read as substitution references. Escape bars outside inline literals and roles, so |w_t - w*| renders as
written."""

from __future__ import annotations

import re

# backtick spans (``literal``, :role:`text`, `text`) are left untouched
_SPANS = re.compile(r"(:[\w:.-]+:`[^`]*`|``.*?``|`[^`]*`)")


def escape_bars(line: str) -> str:
    if line.lstrip().startswith(("+-", "+=", "| ")) and line.rstrip().endswith(("+", "|")):
        return line  # a grid or line-block table
    parts = _SPANS.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _process(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = [escape_bars(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
