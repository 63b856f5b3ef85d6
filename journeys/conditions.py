"""Conditions of journeys and funnels: validation, evaluation in Python, compilation to SQL.

A condition is `{"field": "<wire key>", "op": "<op>", "value": ...}`; a list means AND and
`{"any": [...]}` means OR (analytics.md). `field` is a catalog key (a column) or any other
key (an `attributes` entry). The Python evaluator (journey matching, the tests' reference)
and the SQL compiler (funnels) implement the same semantics, pinned here:

- `eq`/`in` compare JSON values exactly: `true` is not `1`, `"1"` is not `1`.
- `neq` is "not equal", and an absent field is not equal to anything.
- `prefix`/`contains`/`regex` apply to strings only; `regex` is a search (unanchored).
- `gt`/`gte`/`lt`/`lte` apply to numbers only; anything else does not match.
- `exists` (value `true`, the default, or `false`): the field is present and not null.

One module on purpose, though over 400 lines: the validator, the Python evaluator and the
SQL compiler implement the semantics above together, and kept apart one could drift from
the others (the tests compare the evaluator with the compiled SQL on the same events).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import re2

from ingestion.catalog import BY_KEY
from ingestion.validation import text_problem

OPS = ("eq", "neq", "in", "prefix", "contains", "regex", "exists", "gt", "gte", "lt", "lte")
_STRING_OPS = {"prefix", "contains", "regex"}
_NUMBER_OPS = {"gt", "gte", "lt", "lte"}
MAX_CONDITIONS_DEPTH = 5
MAX_FIELD_LENGTH = 255
_REGEX_TOKENS = re.compile(r"\\.|[^\\]", re.S)
_REGEX_BOUND = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_REGEX_MAX_REPEAT = 255  # PostgreSQL's limit (RE_DUPMAX)
_REGEX_FLAGS = re.compile(r"\(\?([ix]+)\)")  # leading flags, the only inline group allowed
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_OCTAL_DIGITS = frozenset("01234567")
_X_MODE_SPACE = frozenset(" \t\n\r\v\f")  # what `(?x)` skips, in Python and PostgreSQL alike
_UNICODE_ESCAPES = {"\\u": 4, "\\U": 8}  # exactly this many hex digits follow
# The RE2 reading of a pattern, as PostgreSQL (C.UTF-8, glibc) reads it. RE2's `\w` and `\s`
# are ASCII and Perl's; PostgreSQL's are glibc's classes, measured over every code point:
# `\s` is exactly the set below (no U+00A0, U+2007, U+202F, U+0085), `\w` is letters, decimal
# and letter numbers and `_` (PostgreSQL also counts ~1,400 combining marks and circled
# letters that Unicode calls alphabetic, where RE2 has no class; Python's `re` differed on
# ~2,300 code points). `\d` is `[0-9]` in both.
_WORD = r"\p{L}\p{Nd}\p{Nl}_"
_SPACE = r"\t-\r \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200A}\x{2028}\x{2029}\x{205F}\x{3000}"
_RE2_PIECES = {
    "$": r"\z",
    r"\Z": r"\z",
    r"\w": f"[{_WORD}]",
    r"\W": f"[^{_WORD}]",
    r"\s": f"[{_SPACE}]",
    r"\S": f"[^{_SPACE}]",
}
_RE2_CLASS_PIECES = {r"\w": _WORD, r"\s": _SPACE}
_LINEAR_TIME = "patterns must run in linear time"
_LOOKAROUNDS = {
    "=": "a look-ahead ('(?=')",
    "!": "a negative look-ahead ('(?!')",
    "<=": "a look-behind ('(?<=')",
    "<!": "a negative look-behind ('(?<!')",
}
# Bounds what the compiled patterns hold (each RE2 object also keeps its DFA under RE2's
# default 8 MiB budget): patterns kept, and texts remembered per pattern.
MAX_COMPILED_PATTERNS = 256
_MEMO_SIZE = 512
_MEMO_TEXT_LENGTH = 256


class _Brackets:
    """Reads a pattern's pieces in order; `step` tells whether a piece stands inside a
    bracket expression (`[...]`): the opening `[` does not, its closing `]` does, and a `]`
    right after `[` or `[^` is a literal."""

    def __init__(self) -> None:
        self._read = 0
        self._body = -1  # the step index of the expression's first piece, or -1 outside

    @property
    def inside(self) -> bool:
        """True when the next piece stands inside a bracket expression."""
        return self._body >= 0

    def step(self, piece: str) -> bool:
        """Read one piece; return whether it stands inside a bracket expression."""
        index, self._read = self._read, self._read + 1
        if self._body < 0:
            if piece == "[":
                self._body = index + 1
            return False
        if piece == "^" and index == self._body:
            self._body += 1  # a negated class: `]` right after `[^` is still literal
        elif piece == "]" and index > self._body:
            self._body = -1
        return True


def _pattern_pieces(pattern: str) -> tuple[str, list[str]]:
    """Split a pattern into its leading flags (`i`, `x`) and its pieces (an escape is one).

    Under `(?x)` the pieces leave out what PostgreSQL and Python skip: white space and `#`
    comments outside brackets.
    """
    flags = _REGEX_FLAGS.match(pattern)
    letters = flags[1] if flags else ""
    pieces = _REGEX_TOKENS.findall(pattern[flags.end() :] if flags else pattern)
    if "x" not in letters:
        return letters, pieces
    kept: list[str] = []
    brackets, comment = _Brackets(), False
    for piece in pieces:
        if comment:
            comment = piece != "\n"
            continue
        if not brackets.inside and piece in _X_MODE_SPACE:
            continue
        if not brackets.inside and piece == "#":
            comment = True
            continue
        brackets.step(piece)
        kept.append(piece)
    return letters, kept


def re2_pattern(pattern: str) -> str:
    """Translate a validated pattern to RE2 syntax meaning what PostgreSQL's `~` does.

    `$` and `\\Z` match only at the very end (RE2's `\\z`); `\\w`, `\\s` are PostgreSQL's
    classes; `\\xhhh...` takes every hex digit that follows (PostgreSQL), `\\uhhhh`,
    `\\Uhhhhhhhh` and octal `\\0oo` become `\\x{...}`; an escaped non-ASCII character is the
    character. `.` matching a newline is an option (`_RE2_OPTIONS`).
    """
    letters, pieces = _pattern_pieces(pattern)
    out = ["(?i)"] if "i" in letters else []
    brackets, index = _Brackets(), 0
    while index < len(pieces):
        piece, index = pieces[index], index + 1
        inside = brackets.step(piece)
        if piece in ("\\x", "\\0", *_UNICODE_ESCAPES):
            digits, base = _escape_digits(piece, pieces[index:])
            index += len(digits)
            out.append(f"\\x{{{int(digits or '0', base):X}}}")
        elif len(piece) == 2 and piece[0] == "\\" and not piece[1].isascii():
            out.append(piece[1])
        else:
            out.append((_RE2_CLASS_PIECES if inside else _RE2_PIECES).get(piece, piece))
    return "".join(out)


def _escape_digits(escape: str, following: list[str]) -> tuple[str, int]:
    """The digits a numeric escape takes from the pieces after it, and their base."""
    if escape in _UNICODE_ESCAPES:
        return "".join(following[: _UNICODE_ESCAPES[escape]]), 16
    digits, limit, base = (_OCTAL_DIGITS, 2, 8) if escape == "\\0" else (_HEX_DIGITS, None, 16)
    taken = itertools.takewhile(lambda piece: piece in digits, following[:limit])
    return "".join(taken), base


def _re2_options() -> Any:
    options = re2.Options()
    options.dot_nl = True  # PostgreSQL's `.` matches a newline
    options.never_capture = True  # a yes/no answer: no submatches to track
    options.log_errors = False  # a refused pattern is reported to its author, not logged
    return options


_RE2_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=MAX_COMPILED_PATTERNS)
def regex_search(pattern: str) -> Callable[[str], bool]:
    """A test: does this validated pattern match anywhere in a text, as PostgreSQL's `~`?

    Compiled with RE2, which runs in time linear in the text whatever the pattern, once per
    pattern (matching compiles a journey's conditions once per session). The answers for
    short texts are remembered: pages repeat, and an RE2 call through its Python wrapper
    costs ~4-10 us where `re` took ~1 us. Measured on 500 sessions x 2 journeys of 4 regex
    steps on page.path (15,615 events, each session's conditions compiled as the fold
    does; best of 5, four runs on a loaded 2-core machine): `re` 88-135 ms, RE2 163-279 ms,
    RE2 with the memo 48-98 ms.
    """
    search = re2.compile(re2_pattern(pattern), _RE2_OPTIONS).search
    seen: dict[str, bool] = {}

    def test(text: str) -> bool:
        found = seen.get(text)
        if found is None:
            found = search(text) is not None
            if len(text) <= _MEMO_TEXT_LENGTH:
                if len(seen) >= _MEMO_SIZE:
                    seen.clear()
                seen[text] = found
        return found

    return test


class DefinitionError(ValueError):
    """A journey or funnel definition that cannot be used; `errors` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    """A number PostgreSQL can compare with a double precision column: finite, in range."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_DOUBLE_MAX <= value <= _DOUBLE_MAX
    return isinstance(value, float) and math.isfinite(value)


_DOUBLE_MAX = int(sys.float_info.max)


def _is_scalar(value: Any) -> bool:
    """A string, boolean or finite number: what `eq`, `neq` and `in` compare with.

    Not null: matching never equals a missing or null field, so a null in an `in` list
    would be true in the funnel SQL (JSON null = JSON null) and false in journey matching.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _is_finite_number(value)
    return isinstance(value, str | bool)


def validate_conditions(conditions: Any, path: str, depth: int = 0) -> list[str]:
    """Return every problem of a condition list / `any` group / condition (empty: valid)."""
    if depth > MAX_CONDITIONS_DEPTH:
        return [f"{path}: nested more than {MAX_CONDITIONS_DEPTH} levels"]
    if isinstance(conditions, list):
        errors: list[str] = []
        for position, item in enumerate(conditions):
            errors += validate_conditions(item, f"{path}[{position}]", depth + 1)
        return errors
    if not isinstance(conditions, dict):
        return [f"{path}: a condition must be an object or a list"]
    if "any" in conditions:
        if set(conditions) != {"any"}:
            return [f"{path}: an 'any' group has only the key 'any'"]
        group = conditions["any"]
        if not isinstance(group, list) or not group:
            return [f"{path}.any: must be a non-empty list"]
        return validate_conditions(group, f"{path}.any", depth + 1)
    return _validate_condition(conditions, path)


def _validate_condition(condition: dict, path: str) -> list[str]:
    unknown = set(condition) - {"field", "op", "value"}
    if unknown:
        return [f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"]
    field, op = condition.get("field"), condition.get("op")
    errors = []
    if op not in OPS:
        errors.append(f"{path}.op: unknown op {op!r}; use one of {', '.join(OPS)}")
    if not isinstance(field, str) or not field or len(field) > MAX_FIELD_LENGTH:
        errors.append(f"{path}.field: must be an event key (a non-empty string)")
        return errors
    problem = text_problem(field)
    if problem:
        return [f"{path}.field {problem}"]
    raw_value = condition.get("value")
    texts: list[Any] = raw_value if isinstance(raw_value, list) else [raw_value]
    problem = next((p for t in texts if isinstance(t, str) and (p := text_problem(t))), None)
    if problem:
        return [f"{path}.value {problem}"]
    if errors:
        return errors
    value = condition.get("value", True if op == "exists" else None)
    kind = BY_KEY[field].kind if field in BY_KEY else "attribute"
    if kind in ("timestamp", "json", "object") and op != "exists":
        return [f"{path}: field {field} supports only the op 'exists'"]
    if op == "exists":
        if not isinstance(value, bool):
            return [f"{path}.value: 'exists' takes true or false"]
    elif op in _STRING_OPS:
        if not isinstance(value, str) or not value:
            return [f"{path}.value: '{op}' takes a non-empty string"]
        if kind not in ("string", "attribute"):
            return [f"{path}: '{op}' applies to text fields; {field} is a number"]
        if op == "regex":
            return _regex_problems(value, f"{path}.value")
    elif op in _NUMBER_OPS:
        if not _is_finite_number(value):
            return [f"{path}.value: '{op}' takes a number"]
        if kind not in ("integer", "number", "attribute"):
            return [f"{path}: '{op}' applies to number fields; {field} is text"]
    elif op == "in":
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            return [f"{path}.value: 'in' takes a non-empty list of strings, numbers or booleans"]
        errors += [
            problem
            for item in value
            if (problem := _type_problem(kind, item, f"{path}.value", field))
        ]
    else:  # eq, neq
        if not _is_scalar(value):
            return [f"{path}.value: '{op}' takes a string, number or boolean"]
        problem = _type_problem(kind, value, f"{path}.value", field)
        if problem:
            errors.append(problem)
    return errors


def _regex_problems(pattern: str, path: str) -> list[str]:
    """Every reason to refuse a pattern: the one check of journeys and funnels alike."""
    problem = _regex_problem(pattern)
    return [f"{path}: bad regex: {problem}"] if problem else []


@functools.lru_cache(maxsize=MAX_COMPILED_PATTERNS)
def _regex_problem(pattern: str) -> str | None:
    """Why a pattern is refused, or None (cached: matching re-validates stored journeys)."""
    too_slow = _regex_not_linear(pattern)
    if too_slow:
        return f"{too_slow} is not supported: {_LINEAR_TIME}"
    try:
        with warnings.catch_warnings():  # "possible nested set": reported below instead
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error as exc:
        return str(exc)
    except (OverflowError, RecursionError):
        return "too large or too deeply nested"
    unportable = _regex_unportable(pattern)
    if unportable:
        return f"{unportable} is not supported (use the syntax common to Python and PostgreSQL)"
    try:
        regex_search(pattern)
    except re2.error as exc:  # what RE2 refuses that Python accepts, e.g. `a{200}{200}`
        reason = exc.args[0] if exc.args else "refused by RE2"
        return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    return None


def _regex_not_linear(pattern: str) -> str | None:
    """The first construct that needs backtracking: a back-reference or a look-around.

    PostgreSQL runs either by backtracking (the back-references `(.*)\\1`, up to its
    statement timeout) and RE2 runs neither; everything else runs in time linear in the
    text in both engines. `\\1`...`\\9` outside brackets is a back-reference to PostgreSQL
    (or an octal escape when it has fewer groups: write `\\x..` instead).
    """
    pieces = _REGEX_TOKENS.findall(pattern)
    brackets = _Brackets()
    for index, piece in enumerate(pieces):
        if brackets.step(piece):
            continue
        if len(piece) == 2 and piece[0] == "\\" and piece[1] in "123456789":
            digits = "".join(itertools.takewhile(str.isdigit, pieces[index + 1 : index + 3]))
            return f"a back-reference ('{piece}{digits}')"
        elif piece in ("\\k", "\\g"):
            return f"a back-reference ('{piece}')"
        elif piece == "(" and pieces[index + 1 : index + 2] == ["?"]:
            rest = "".join(pieces[index + 2 : index + 5])
            if rest.startswith("P="):
                return "a back-reference ('(?P=')"
            if rest.startswith("("):
                return "a conditional group ('(?(')"
            for start, name in _LOOKAROUNDS.items():
                if rest.startswith(start):
                    return name
    return None


def _regex_unportable(pattern: str) -> str | None:
    """The first construct Python accepts but PostgreSQL or RE2 reject or read differently.

    Checked on pieces (an escape is one piece): `\\b`/`\\B` (backspace / backslash in
    PostgreSQL), `\\N{...}`, inline groups other than `(?:` and leading `(?i)`/`(?x)` flags
    (named groups, comments, scoped flags, atomic groups), `{,n}`, possessive quantifiers,
    POSIX classes inside brackets, and under `(?x)` a non-ASCII space (PostgreSQL skips it,
    Python does not).
    """
    pieces = _REGEX_TOKENS.findall(pattern)
    verbose = "x" in _pattern_pieces(pattern)[0]
    brackets = _Brackets()
    for index, piece in enumerate(pieces):
        following = "".join(pieces[index + 1 : index + 3])
        if piece in ("\\b", "\\B", "\\N"):
            return f"'{piece}'"
        if brackets.step(piece):
            if piece == "[" and following[:1] in (":", ".", "="):
                return "a POSIX class like '[[:alpha:]]'"
            if piece in ("\\D", "\\S", "\\W"):
                return f"'{piece}' inside brackets"
            continue
        if verbose and piece.isspace() and not piece.isascii():
            return f"a non-ASCII space (U+{ord(piece):04X}) in a (?x) pattern"
        elif piece == "(" and following[:1] == "?":
            rest = "".join(pieces[index + 2 : index + 12])
            if rest[:1] == ":" or (index == 0 and re.match(r"[ix]+\)", rest)):
                continue
            return f"'(?{rest[:3]}'"
        elif piece == "{":
            bound = _REGEX_BOUND.match("".join(pieces[index : index + 12]))
            if following[:1] == ",":
                return "'{,n}'"
            if bound is None:
                return "an unescaped '{' (write \\{ for a brace)"
            if any(int(count) > _REGEX_MAX_REPEAT for count in bound.groups() if count):
                return f"a repetition count over {_REGEX_MAX_REPEAT}"
        elif piece in ("*", "+", "?", "}") and following[:1] == "+":
            return "a possessive quantifier"
    return None


def _type_problem(kind: str, value: Any, path: str, field: str) -> str | None:
    if kind == "string" and not isinstance(value, str):
        return f"{path}: {field} is text; compare it with a string"
    if kind in ("integer", "number") and not _is_number(value):
        return f"{path}: {field} is a number; compare it with a number"
    return None


def check(conditions: Any, path: str) -> None:
    """Raise DefinitionError listing every problem of `conditions`."""
    errors = validate_conditions(conditions, path)
    if errors:
        raise DefinitionError(errors)


def fields_used(conditions: Any) -> set[str]:
    """Every event key a condition tree reads (to load only those columns)."""
    if isinstance(conditions, list):
        return set().union(*(fields_used(item) for item in conditions)) if conditions else set()
    if "any" in conditions:
        return fields_used(conditions["any"])
    return {conditions["field"]}


# --- evaluation in Python -----------------------------------------------------------------


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


Predicate = Callable[[Mapping[str, Any]], bool]


def matches(conditions: Any, event: Mapping[str, Any]) -> bool:
    """Evaluate validated conditions on an event given as `{wire key: value}`."""
    return compile_conditions(conditions)(event)


def compile_conditions(conditions: Any) -> Predicate:
    """Turn validated conditions into a predicate over `{wire key: value}` events.

    Matching calls a step's conditions once per event; compiled once per session and
    journey, a condition is a closure call instead of a walk of the condition's dict
    (measured: 0.16 -> 0.06 s for 500 sessions x 2 journeys).
    """
    if isinstance(conditions, list):
        parts = [compile_conditions(item) for item in conditions]
        if len(parts) == 1:
            return parts[0]
        return lambda event: all(part(event) for part in parts)
    if "any" in conditions:
        options = [compile_conditions(item) for item in conditions["any"]]
        return lambda event: any(option(event) for option in options)
    return _compile_condition(conditions["field"], conditions["op"], conditions.get("value"))


def _compile_condition(field: str, op: str, value: Any) -> Predicate:
    get = operator.methodcaller("get", field)
    if op == "exists":
        wanted = True if value is None else value
        return lambda event: (get(event) is not None) is wanted
    if op == "eq" and isinstance(value, str):  # only a string equals a string
        return lambda event: get(event) == value
    if op in ("eq", "neq", "in"):
        items = list(value) if op == "in" else [value]
        negate = op == "neq"

        def compare(event: Mapping[str, Any]) -> bool:
            actual = get(event)
            if actual is None:
                return False
            return any(_json_equal(actual, item) for item in items) is not negate

        return compare
    if op in _STRING_OPS:
        text_test: Callable[[str], bool]
        if op == "regex":
            text_test = regex_search(value)
        elif op == "prefix":
            text_test = lambda actual: actual.startswith(value)  # noqa: E731
        else:
            text_test = lambda actual: value in actual  # noqa: E731

        def text(event: Mapping[str, Any]) -> bool:
            actual = get(event)
            return isinstance(actual, str) and text_test(actual)

        return text
    order = _ORDERINGS[op]

    def number(event: Mapping[str, Any]) -> bool:
        actual = get(event)
        return _is_number(actual) and order(actual, value)

    return number


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


# --- compilation to SQL ---------------------------------------------------------------------


def to_sql(conditions: Any, params: list[Any], *, alias: str = "e") -> str:
    """Compile validated conditions to a SQL boolean over `alias`; append the parameters."""
    if isinstance(conditions, list):
        if not conditions:
            return "TRUE"
        return "(" + " AND ".join(to_sql(item, params, alias=alias) for item in conditions) + ")"
    if "any" in conditions:
        return (
            "(" + " OR ".join(to_sql(item, params, alias=alias) for item in conditions["any"]) + ")"
        )
    field, op = conditions["field"], conditions["op"]
    value = conditions.get("value", True if op == "exists" else None)
    if field in BY_KEY:
        return _column_sql(f"{alias}.{BY_KEY[field].column}", op, value, params)
    return _attribute_sql(f"{alias}.attributes", field, op, value, params)


def _column_sql(column: str, op: str, value: Any, params: list[Any]) -> str:
    if op == "exists":
        return f"({column} IS {'NOT ' if value else ''}NULL)"
    if op == "eq":
        params.append(value)
        return f"({column} = %s)"
    if op == "neq":
        params.append(value)
        return f"({column} <> %s)"
    if op == "in":
        if all(_is_number(item) for item in value):
            # One array type whatever the mix of ints and floats (psycopg refuses mixed lists).
            params.append([Decimal(repr(item)) for item in value])
            return f"({column} = ANY(%s::numeric[]))"
        params.append(list(value))
        return f"({column} = ANY(%s))"
    if op == "prefix":
        params.append(value)
        return f"starts_with({column}, %s)"
    if op == "contains":
        params.append(value)
        return f"(strpos({column}, %s) > 0)"
    if op == "regex":
        params.append(value)
        return f"({column} ~ %s)"
    params.append(value)
    return f"({column} {_COMPARISONS[op]} %s)"


_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _attribute_sql(column: str, key: str, op: str, value: Any, params: list[Any]) -> str:
    typeof = f"jsonb_typeof({column} -> %s)"
    if op == "exists":
        params.append(key)
        present = f"(coalesce({typeof}, 'null') <> 'null')"
        return present if value else f"(NOT {present})"
    if op == "eq":
        params.extend([key, json.dumps(value)])
        return f"(({column} -> %s) = %s::jsonb)"
    if op == "in":
        params.extend([key, [json.dumps(item) for item in value]])
        return f"(({column} -> %s) = ANY(%s::jsonb[]))"
    if op == "neq":
        params.extend([key, key, json.dumps(value)])
        return f"(coalesce({typeof}, 'null') <> 'null' AND ({column} -> %s) <> %s::jsonb)"
    if op in _STRING_OPS:
        params.extend([key, key, value])
        text = f"({column} ->> %s)"
        test = {
            "prefix": f"starts_with({text}, %s)",
            "contains": f"(strpos({text}, %s) > 0)",
            "regex": f"({text} ~ %s)",
        }[op]
        return f"({typeof} = 'string' AND {test})"
    params.extend([key, key, value])
    return f"({typeof} = 'number' AND ({column} ->> %s)::numeric {_COMPARISONS[op]} %s)"
