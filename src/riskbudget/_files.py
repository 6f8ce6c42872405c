"""Reading input files safely: one place for encodings, sizes, nesting, YAML aliases and duplicate keys.

Every reader of riskbudget (registers in CSV, Excel, YAML and JSON; controls
and projects; appetites) opens its file through these helpers, so every file
gets the same rules and the same messages (``docs/errors.md`` lists them):

* the file exists, is a file, and holds at most :data:`MAX_FILE_BYTES`;
* text is UTF-8 (a byte-order mark is allowed); anything else is an error
  naming the line, the column and the byte;
* YAML is read with a safe loader that refuses aliases and anchors'
  expansion (a "billion laughs" file of a few hundred bytes would otherwise
  expand to gigabytes), refuses duplicate keys (YAML and JSON would keep the
  last value silently), and refuses numbers beyond 64-bit floats;
* YAML and JSON may nest at most :data:`MAX_DEPTH` levels;
* CSV fields may hold at most the csv module's field limit (131,072
  characters by default; riskbudget never raises it, as that would change it
  for the whole process); a longer field is an error naming the line.

Cells of text written to CSV or Excel are neutralised against spreadsheet
formula injection with :func:`escape_cell`, and :func:`unescape_cell` undoes
it on reading, so written files read back equal.

Every writer (registers, appetites, reports, figures) writes through
:func:`atomic_write`: a temporary file in the same folder, then a rename, so a
file is never half-written (``riskbudget.io.atomic_write`` is the public name).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import json.decoder
import json.scanner
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .exceptions import RiskBudgetError, missing_dependency, shown

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "FORMULA_STARTS",
    "check_file",
    "read_text",
    "read_csv",
    "load_json",
    "load_yaml",
    "escape_cell",
    "unescape_cell",
    "atomic_write",
]

#: The largest input file riskbudget reads (50 MB; the bundled register is 6 KB, and a register of
#: 100,000 scenarios is about 20 MB).
MAX_FILE_BYTES = 50_000_000
#: The deepest nesting of lists and mappings in a YAML or JSON file (a register needs 6).
MAX_DEPTH = 32
#: The most digits a number in a YAML or JSON file may have (a float holds at most 309 before the point).
MAX_DIGITS = 400
#: Text cells starting with one of these are read as formulas by spreadsheets (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- #
# Files and text
# --------------------------------------------------------------------------- #
def _too_big(path: Path, size: int, what: str) -> str:
    return (
        f"{path}: the file holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} bytes riskbudget reads "
        f"(a {what} file is far smaller); is it the right file?"
    )


def check_file(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str) -> Path:
    """``path`` as a Path if it is an existing file of at most :data:`MAX_FILE_BYTES`, else ``err``."""
    p = Path(path)
    try:
        if not p.exists():
            raise err(f"{p}: no such file")
        if p.is_dir():
            raise err(f"{p}: is a directory; give the path of a {what} file")
        size = p.stat().st_size
    except OSError as exc:
        raise err(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise err(_too_big(p, size, what))
    return p


def read_bytes(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str) -> bytes:
    """The bytes of a file, at most :data:`MAX_FILE_BYTES` of them (``err`` otherwise)."""
    p = check_file(path, err, what=what)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise err(f"{p}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
    if len(data) > MAX_FILE_BYTES:  # a device or a file that grew while being read
        raise err(_too_big(p, len(data), what))
    return data


def read_text(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str) -> str:
    """The UTF-8 text of a file (a leading byte-order mark is dropped), else ``err`` naming the bad byte."""
    data = read_bytes(path, err, what=what)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise err(
            f"{path}: the file is UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; "
            f"save the {what} file as UTF-8"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        excel = " (in Excel: 'CSV UTF-8')" if Path(path).suffix.lower() == ".csv" else ""
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise err(
            f"{path}, line {line}, column {column}: not UTF-8 text (the byte 0x{data[exc.start]:02X} is not valid "
            f"UTF-8 there; the file is probably Latin-1 or Windows-1252); save the {what} file as UTF-8{excel}"
        ) from None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, max(pos, 0)) + 1


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give the result the mode a plain open() would
        # (the existing file's mode, else 0666 minus the umask)
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(tmp, mode)
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as fb:
                fb.write(data)
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as ft:
                ft.write(data)
                ft.flush()
                os.fsync(ft.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


# --------------------------------------------------------------------------- #
# CSV
# --------------------------------------------------------------------------- #
def read_csv(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str) -> list[list[str]]:
    """The records of a UTF-8 CSV file (header first), else ``err`` naming the line that is not CSV."""
    text = read_text(path, err, what=what)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    try:
        for values in reader:
            records.append(values)
    except csv.Error as exc:
        raise err(
            f"{path}, line {reader.line_num}: not readable as CSV ({exc}). riskbudget reads fields of at most "
            f"{csv.field_size_limit():,} characters; a longer field usually means a quote (\") that is never "
            f"closed, so the rest of the file ran into one field"
        ) from None
    return records


# --------------------------------------------------------------------------- #
# Spreadsheet formula injection
# --------------------------------------------------------------------------- #
def escape_cell(text: str) -> str:
    """Text as written to a CSV or Excel cell: a ``'`` before text a spreadsheet would run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading ``'`` (OWASP's advice against formula injection); so does
    text that already starts with quotes followed by one of those, so that
    :func:`unescape_cell` restores every text exactly.
    """
    body = text.lstrip("'")
    if body[:1] and body[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """The text :func:`escape_cell` was given: one leading ``'`` removed where it added one."""
    body = text.lstrip("'")
    if text[:1] == "'" and body[:1] and body[:1] in FORMULA_STARTS:
        return text[1:]
    return text


# --------------------------------------------------------------------------- #
# Nesting
# --------------------------------------------------------------------------- #
_TOO_DEEP = (
    f"the data is nested more than {MAX_DEPTH} levels deep (a register needs 6); riskbudget refuses deeper "
    f"files; is it the right file?"
)


def _depth(data: Any) -> int:
    """Nesting depth of lists and mappings (iterative: never a RecursionError)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


# --------------------------------------------------------------------------- #
# JSON
# --------------------------------------------------------------------------- #
class _Refused(Exception):
    """A refusal inside a parser, turned into the caller's error with the file's name."""

    def __init__(self, message: str, *, literal: str = "", line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message, self.literal, self.line, self.column = message, literal, line, column


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key
        self.pos: int | None = None


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise _Refused(f"the integer {shown(text)} has {len(text.lstrip('-')):,} digits, far beyond a 64-bit float",
                       literal=text)
    return int(text)


def _json_float(text: str) -> float:
    x = float(text)
    if math.isinf(x):
        raise _Refused(f"the number {shown(text)} is too large for a 64-bit float (at most about 1.8e308)",
                       literal=text)
    return x


def _locate_duplicate(text: str) -> int | None:
    """Where the object holding the first duplicate key starts (the pure-Python scanner knows positions)."""

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> Any:
        try:
            return json.decoder.JSONObject(s_and_end, *args)  # type: ignore[attr-defined]
        except _DuplicateKey as exc:
            if exc.pos is None:
                exc.pos = s_and_end[1] - 1
            raise

    decoder = json.JSONDecoder(object_pairs_hook=_json_pairs, parse_int=_json_int, parse_float=_json_float)
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        decoder.decode(text)
    except _DuplicateKey as exc:
        return exc.pos
    except Exception:  # noqa: BLE001 - only a better message is at stake
        return None
    return None


def load_json(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str) -> Any:
    """Parse a JSON file: UTF-8, no duplicate keys, numbers within floats, at most :data:`MAX_DEPTH` deep."""
    text = read_text(path, err, what=what)
    decoder = json.JSONDecoder(object_pairs_hook=_json_pairs, parse_int=_json_int, parse_float=_json_float)
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise err(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        pos = _locate_duplicate(text)
        at = f" in the object that starts on line {_line_of(text, pos)}" if pos is not None else ""
        raise err(
            f"{path}: the key {shown(exc.key)} appears twice{at}; JSON readers would keep only the last value "
            f"silently, so riskbudget refuses it: remove one of them"
        ) from None
    except _Refused as exc:
        pos = text.find(exc.literal)
        raise err(f"{path}, line {_line_of(text, pos)}: {exc.message}; is the number right?") from None
    except RecursionError:
        raise err(f"{path}: {_TOO_DEEP}") from None
    if _depth(data) > MAX_DEPTH:
        raise err(f"{path}: {_TOO_DEEP}")
    return data


# --------------------------------------------------------------------------- #
# YAML
# --------------------------------------------------------------------------- #
@functools.cache
def _yaml_loader() -> Any:
    """A SafeLoader that refuses aliases, duplicate keys, deep nesting and numbers beyond floats."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise _Refused(
                    f"the alias *{event.anchor} repeats another part of the file; riskbudget refuses YAML aliases "
                    f"(a few nested ones can expand a small file into gigabytes): write the values out in full",
                    line=event.start_mark.line + 1,
                    column=event.start_mark.column + 1,
                )
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise _Refused(_TOO_DEEP, line=mark.line + 1, column=mark.column + 1)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.get(key)
                    except TypeError:  # an unhashable key: the base class says so
                        continue
                    line = key_node.start_mark.line + 1
                    if first is not None:
                        raise _Refused(
                            f"the key {shown(key)} appears twice in one mapping (first on line {first}); YAML readers "
                            f"would keep only the last value silently, so riskbudget refuses it: remove one of them",
                            line=line,
                            column=key_node.start_mark.column + 1,
                        )
                    seen[key] = line
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node: Any) -> Any:
            text = str(node.value)
            digits = sum(c.isdigit() for c in text)
            if digits > MAX_DIGITS:
                raise _Refused(
                    f"the integer {shown(text)} has {digits:,} digits, far beyond a 64-bit float; is the number right?",
                    line=node.start_mark.line + 1,
                    column=node.start_mark.column + 1,
                )
            return super().construct_yaml_int(node)

        def construct_yaml_float(self, node: Any) -> Any:
            x = super().construct_yaml_float(node)
            if math.isinf(x) and "inf" not in str(node.value).lower():
                raise _Refused(
                    f"the number {shown(node.value)} is too large for a 64-bit float (at most about 1.8e308); "
                    f"is the number right?",
                    line=node.start_mark.line + 1,
                    column=node.start_mark.column + 1,
                )
            return x

    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    Loader.add_constructor("tag:yaml.org,2002:float", Loader.construct_yaml_float)
    return Loader


def load_yaml(path: str | os.PathLike[str], err: type[RiskBudgetError], *, what: str, purpose: str) -> Any:
    """Parse a YAML file safely: UTF-8, no aliases, no duplicate keys, at most :data:`MAX_DEPTH` deep.

    ``purpose`` names the task in the message if PyYAML is missing
    (e.g. "Reading a YAML register").
    """
    try:
        import yaml
    except ImportError:
        raise missing_dependency("pyyaml", "yaml", purpose) from None
    text = read_text(path, err, what=what)
    loader = None
    try:
        loader = _yaml_loader()(text)  # the reader refuses some characters (NUL, ...) right here
        return loader.get_single_data()
    except _Refused as exc:
        raise err(f"{path}, line {exc.line}, column {exc.column}: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise err(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:  # a structure the depth check cannot see (never seen; kept as a guard)
        raise err(f"{path}: {_TOO_DEEP}") from None
    finally:
        if loader is not None:
            loader.dispose()
