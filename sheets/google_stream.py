"""The rows of a ``values.get`` answer, one at a time, as its body arrives.

gspread's ``values_get`` holds a whole answer three times over while parsing it: the body as
bytes, the same body decoded to ``str`` and the parsed lists. For a 200,000-row sheet that is
~100 MB of text twice plus the lists, on top of the row dicts the store builds from them. Here
the body is read in chunks (``requests`` with ``stream=True``) and each element of the
``values`` array is decoded and handed over as soon as it is complete, so the store keeps only
its row dicts and one chunk of text.

The parser knows just enough JSON to walk the answer's top-level object
(``{"range": ..., "majorDimension": ..., "values": [[...], ...]}``, any key order, any
whitespace: Google pretty-prints unless asked not to); each member value and each row is
decoded by the standard library's ``json`` decoder.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

# Bytes read from the socket at a time: a few hundred rows, and a cell holds at most 50,000
# characters, so even a row of long cells arrives in a few reads.
CHUNK_BYTES = 256 * 1024

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class TruncatedAnswer(ValueError):
    """The body ended, or broke the expected shape, before the answer was complete."""


class _Text:
    """A sliding window over the decoded body: ``text[pos:]`` is what is not parsed yet."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()  # JSON is UTF-8 (RFC 8259 §8.1)
        self.text = ""
        self.pos = 0
        self.ended = False

    def more(self) -> bool:
        """Append the next chunk, dropping what is parsed; False once the body has ended."""
        while not self.ended:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.ended = True
                piece = self._utf8.decode(b"", final=True)
            else:
                piece = self._utf8.decode(chunk)
            if piece:
                self.text = self.text[self.pos :] + piece
                self.pos = 0
                return True
        return False

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the body)."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def take(self, expected: str) -> str:
        found = self.peek()
        if not found or found not in expected:
            raise TruncatedAnswer(
                f"expected one of {expected!r} in the Sheets answer, got {found!r}"
            )
        self.pos += 1
        return found

    def value(self) -> Any:
        """Decode one complete JSON value, reading more of the body until it is whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise TruncatedAnswer("the Sheets answer ended inside a value") from None
            # A number or literal at the very end of the text may go on in the next chunk.
            if end == len(self.text) and self.more():
                continue
            self.pos = end
            return value


def iter_array(chunks: Iterable[bytes], key: str = "values") -> Iterator[Any]:
    """Each element of the array under ``key`` in the top-level JSON object, in order.

    Other members are decoded and dropped. An answer without ``key`` (Sheets leaves out
    ``values`` for an empty range) yields nothing. Raises :class:`TruncatedAnswer` when the
    body ends early or is not such an object.
    """
    text = _Text(chunks)
    text.take("{")
    if text.peek() == "}":
        return
    while True:
        name = text.value()
        text.take(":")
        if name == key and text.peek() == "[":
            text.take("[")
            if text.peek() == "]":
                text.take("]")
            else:
                while True:
                    yield text.value()
                    if text.take(",]") == "]":
                        break
        else:
            text.value()
        if text.take(",}") == "}":
            return


__all__ = ["CHUNK_BYTES", "TruncatedAnswer", "iter_array"]
