"""Text cut short for messages: one rule for every error, log line and problem the provider writes.

A value quoted in a message is never quoted whole: a cell of a contact list, a campaign name or a
server's answer can be megabytes long. What is cut ends in ``…``, and the result is never longer
than the limit asked for.
"""

from __future__ import annotations

__all__ = ["ELLIPSIS", "clip", "has_control_chars", "one_line", "shorten"]

#: What marks text that was cut.
ELLIPSIS = "…"


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds an ASCII control character (``NUL`` to ``US``, or ``DEL``): CR, LF, tab, ..."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def clip(text: str, limit: int) -> str:
    """``text`` itself when it fits in ``limit`` characters, else its start and ``…`` in ``limit``.

    :param text: the text to show.
    :param limit: the longest result, at least 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters.

    A string keeps its quotes when cut, with the ``…`` inside them (``'Renewals 2026…'``), so the
    reader still sees where the value starts and that it goes on; escapes (``\\n``) stay whole.

    :param value: any value; strings are shown quoted, as Python writes them.
    :param limit: the longest result, at least 1.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str) and limit > len(repr(ELLIPSIS)):
        keep = limit - len(repr(ELLIPSIS))
        while keep > 0:
            text = repr(value[:keep] + ELLIPSIS)
            if len(text) <= limit:
                return text
            keep -= len(text) - limit  # escapes made it longer than its characters: cut more
    return clip(text, limit)


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (every run of white space, line breaks included, is one space), cut to ``limit``.

    :param text: e.g. a server's explanation.
    :param limit: the longest result, at least 1.
    """
    return clip(" ".join(text.split()), limit)
