"""A tokenizer for Make's mapping language (IML): the ``{{...}}`` expressions in mapped fields.

Text outside ``{{ }}`` is literal; one string may hold many expressions. Inside, we recognise
references (``1.field``, ``1.`Name with spaces```, ``1.items[].url``, ``1.rows[2]``, the whole
bundle ```1```), function calls (``name(a; b)``), keywords, string and number literals and
operators. We do not evaluate anything: the linter needs the references, the function names, the
argument separators and whether the braces and parentheses balance.

The one trap worth its own comment: a naive ``(\\d+)\\.`` regex reads ``(random + 0.1)`` and
``addHours(now; -24.2)`` as references to modules 0 and 24. A module id is only a module id when
the character after its dot can start a field name (a letter, ``_``, ``$`` or a backtick).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scenarios.functions import FUNCTIONS, KEYWORDS, VARIABLE_ROOTS

OPEN, CLOSE = "{{", "}}"
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_IDENT_PART = _IDENT_START | frozenset("0123456789")
_OPERATORS = ("!=", "<=", ">=", "+", "-", "*", "/", "%", "=", "<", ">", "&", "|", "!")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    offset: int  # in the whole string
    severity: str = "error"


@dataclass(frozen=True)
class Reference:
    """``module_id`` then the path: field names, and ``[]`` / ``[n]`` for array access."""

    module_id: int
    path: tuple[str, ...]
    text: str
    offset: int
    whole_bundle: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p for p in self.path if not p.startswith("["))


@dataclass(frozen=True)
class Call:
    name: str
    offset: int


@dataclass
class Expression:
    """One ``{{...}}``; ``start`` / ``end`` span the braces in the whole string."""

    text: str
    start: int
    end: int
    references: list[Reference] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    token_count: int = 0

    @property
    def sole_reference(self) -> Reference | None:
        """The reference when the expression is nothing but one reference (``{{1.items}}``)."""
        if self.token_count == 1 and len(self.references) == 1:
            return self.references[0]
        return None


@dataclass
class Template:
    text: str
    expressions: list[Expression] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def references(self) -> list[Reference]:
        return [ref for expr in self.expressions for ref in expr.references]

    @property
    def is_single_expression(self) -> bool:
        """True when the whole string is one ``{{...}}`` with no literal text around it."""
        return (
            len(self.expressions) == 1
            and self.expressions[0].start == 0
            and self.expressions[0].end == len(self.text)
        )


def has_expression(text: str) -> bool:
    return OPEN in text


def parse(text: str, extra_functions: frozenset[str] = frozenset()) -> Template:
    """Find and tokenise every ``{{...}}`` in ``text``; never raises."""
    template = Template(text)
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            return template
        lexer = _ExpressionLexer(text, start, extra_functions)
        expression = lexer.run()
        template.expressions.append(expression)
        template.problems.extend(lexer.problems)
        pos = expression.end


class _ExpressionLexer:
    def __init__(self, text: str, start: int, extra_functions: frozenset[str]) -> None:
        self.text = text
        self.start = start
        self.pos = start + len(OPEN)
        self.extra = extra_functions
        self.problems: list[Problem] = []
        self.stack: list[tuple[str, str, int]] = []  # ("(" | "[", function name or "", offset)
        self.expression = Expression(text="", start=start, end=start)

    # --- driver -----------------------------------------------------------------------------

    def run(self) -> Expression:
        text = self.text
        end = None
        while self.pos < len(text):
            if text.startswith(CLOSE, self.pos):
                end = self.pos + len(CLOSE)
                break
            if text.startswith(OPEN, self.pos):
                self._problem(
                    "unbalanced-braces",
                    "'{{' opened inside another expression: a '}}' is missing before it",
                    self.pos,
                )
                end = self.pos  # the next expression starts here
                break
            self._token()
        if end is None:
            self._problem("unbalanced-braces", "'{{' is never closed with '}}'", self.start)
            end = len(text)
        inner_end = end - len(CLOSE) if text.startswith(CLOSE, end - len(CLOSE)) else end
        self.expression.text = text[self.start + len(OPEN) : max(inner_end, self.start + 2)]
        self.expression.end = end
        for kind, name, offset in self.stack:
            what = f"'(' of {name}()" if name else f"'{kind}'"
            self._problem("unbalanced-parentheses", f"{what} is never closed", offset)
        if not self.expression.text.strip():
            self._problem("empty-expression", "empty '{{}}'", self.start, severity="warning")
        return self.expression

    def _token(self) -> None:
        ch = self.text[self.pos]
        if ch.isspace():
            self.pos += 1
            return
        self.expression.token_count += 1
        if ch == '"':
            self._string()
        elif ch == "`":
            self._backtick_start()
        elif ch.isdigit():
            self._number_or_reference()
        elif ch in _IDENT_START:
            self._word()
        elif ch in "([":
            self.stack.append((ch, "", self.pos))
            self.pos += 1
        elif ch in ")]":
            self._close(ch)
        elif ch == ";":
            self.pos += 1
        elif ch == ",":
            self._comma()
        elif ch in "{}":
            self._problem("unbalanced-braces", f"stray '{ch}' inside an expression", self.pos)
            self.pos += 1
        else:
            for op in _OPERATORS:
                if self.text.startswith(op, self.pos):
                    self.pos += len(op)
                    return
            self._problem(
                "unexpected-character", f"unexpected {ch!r} in an expression", self.pos, "warning"
            )
            self.pos += 1

    # --- literals and words -------------------------------------------------------------------

    def _string(self) -> None:
        # Make doubles a quote to put one inside a string literal: """" is the string ".
        i = self.pos + 1
        text = self.text
        while True:
            j = text.find('"', i)
            if j < 0:
                self._problem("unterminated-string", "string literal is never closed", self.pos)
                close = text.find(CLOSE, self.pos)
                self.pos = close if close >= 0 else len(text)
                return
            if text.startswith('""', j):
                i = j + 2
                continue
            self.pos = j + 1
            return

    def _backtick(self) -> str | None:
        j = self.text.find("`", self.pos + 1)
        if j < 0:
            self._problem("unterminated-string", "backtick name is never closed", self.pos)
            close = self.text.find(CLOSE, self.pos)
            self.pos = close if close >= 0 else len(self.text)
            return None
        name = self.text[self.pos + 1 : j]
        self.pos = j + 1
        return name

    def _backtick_start(self) -> None:
        offset = self.pos
        name = self._backtick()
        if name is None:
            return
        if name.isdigit():  # `1` is the whole bundle of module 1
            path = self._path()
            self._reference(int(name), path, offset, whole_bundle=not path)

    def _number_or_reference(self) -> None:
        offset = self.pos
        i = self.pos
        text = self.text
        while i < len(text) and text[i].isdigit():
            i += 1
        module_digits = text[self.pos : i]
        if (
            i + 1 < len(text)
            and text[i] == "."
            and (text[i + 1] in _IDENT_START or text[i + 1] == "`")
        ):
            self.pos = i
            self._reference(int(module_digits), self._path(), offset)
            return
        if i + 1 < len(text) and text[i] == "." and text[i + 1].isdigit():  # 0.1, 24.2
            i += 1
            while i < len(text) and text[i].isdigit():
                i += 1
        self.pos = i

    def _word(self) -> None:
        offset = self.pos
        i = self.pos
        while i < len(self.text) and self.text[i] in _IDENT_PART:
            i += 1
        word = self.text[offset:i]
        self.pos = i
        after = self._skip_spaces(i)
        if after < len(self.text) and self.text[after] == "(":
            self.expression.calls.append(Call(word, offset))
            if word not in FUNCTIONS and word not in self.extra:
                self._problem(
                    "unknown-function",
                    f"unknown function {word}(): Make fails with \"Function '{word}' not found\"",
                    offset,
                )
            self.stack.append(("(", word, after))
            self.pos = after + 1
            return
        if word in VARIABLE_ROOTS and self.text.startswith(".", i):
            self._path()  # var.scenario.name: not a module output
            return
        self.expression.words.append(word)
        if word not in KEYWORDS:
            self._problem(
                "unknown-keyword",
                f"'{word}' is not a Make keyword, function or reference",
                offset,
                "warning",
            )

    # --- references ---------------------------------------------------------------------------

    def _path(self) -> tuple[str, ...]:
        """Field names after a module id: ``.name``, ``.`odd name```, ``[]``, ``[n]``."""
        text = self.text
        path: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            nxt = text[self.pos + 1] if self.pos + 1 < len(text) else ""
            if ch == "." and (nxt in _IDENT_PART or nxt == "`"):
                self.pos += 1
                if nxt == "`":
                    name = self._backtick()
                    if name is None:
                        break
                    path.append(name)
                else:
                    i = self.pos
                    while i < len(text) and text[i] in _IDENT_PART:
                        i += 1
                    path.append(text[self.pos : i])
                    self.pos = i
            elif ch == "[":
                index = self._index()
                if index is None:
                    break  # a computed index: the main loop tokenises it
                path.append(index)
            else:
                break
        return tuple(path)

    def _index(self) -> str | None:
        text = self.text
        close = text.find("]", self.pos)
        if close < 0:
            return None
        inner = text[self.pos + 1 : close].strip()
        if inner and not inner.isdigit():
            return None
        if inner and int(inner) == 0:
            self._problem(
                "zero-index",
                "[0]: Make arrays are 1-based, so [0] is always empty; the first item is [1]",
                self.pos,
            )
        self.pos = close + 1
        return f"[{inner}]"

    def _reference(self, module_id: int, path: tuple[str, ...], offset: int, **kw) -> None:
        self.expression.references.append(
            Reference(module_id, path, self.text[offset : self.pos], offset, **kw)
        )

    # --- punctuation --------------------------------------------------------------------------

    def _close(self, ch: str) -> None:
        want = "(" if ch == ")" else "["
        if self.stack and self.stack[-1][0] == want:
            self.stack.pop()
        else:
            self._problem("unbalanced-parentheses", f"'{ch}' has no matching '{want}'", self.pos)
        self.pos += 1

    def _comma(self) -> None:
        inside = next((name for kind, name, _ in reversed(self.stack) if kind == "("), None)
        if inside:
            message = f"',' between the arguments of {inside}(): Make separates arguments with ';'"
        else:
            message = "',' is not an IML operator (arguments are separated with ';')"
        self._problem("comma-separator", message, self.pos)
        self.pos += 1

    def _skip_spaces(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        return i

    def _problem(
        self,
        code: str,
        message: str,
        offset: int,
        severity: str = "error",
    ) -> None:
        self.problems.append(Problem(code, message, offset, severity))
