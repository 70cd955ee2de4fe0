"""The program that runs *inside* the sandbox: RestrictedPython with a function-only namespace.

It is the innermost of the sandbox's layers and the only one that understands Python: the host has already
set the resource limits, dropped to an unprivileged uid and cut the network. This file is executed as a
script by a bare interpreter (`python -I -S -B`), so it imports nothing from agentkit. Protocol:

- stdin: one JSON object `{"code", "value_chars", "paths", "result_fd"}`; stdin is closed once read.
- stdout: whatever the program prints, streamed (the host counts it and kills the run past the cap).
- the result fd (its number is in the request as `result_fd`): one JSON object
  `{"value": str | None, "error": {...} | None}` when the program ends.

Nothing the program can name gives it a module, a frame, a file or the interpreter: builtins are a curated
set of pure functions, `import` hands out read-only namespaces of functions (math, json, re, ...), attribute
access refuses private names and introspection attributes, and writes are allowed only on plain containers
and on instances of classes the program defined itself.
"""

from __future__ import annotations

import builtins
import collections
import importlib
import json
import operator
import os
import resource
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

if __package__:  # imported as part of agentkit
    from ._compile import FILENAME, compile_program, error_record
else:  # run as a script (`python -I`, so its own folder is not on sys.path): the compiler lies beside it
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _compile import FILENAME, compile_program, error_record  # type: ignore[import-not-found,no-redef]

class RestrictedAccess(Exception):
    """Raised when the program reaches for something the sandbox does not offer."""


class RestrictedAttribute(RestrictedAccess, AttributeError):
    """A refused attribute: also an AttributeError, so `hasattr` answers False instead of failing."""


# -- attribute, item and write guards ------------------------------------------------------------------------

_INTROSPECTION = frozenset({
    "tb_frame", "tb_next", "f_back", "f_builtins", "f_code", "f_generator", "f_globals", "f_locals", "f_trace",
    "co_code", "gi_frame", "gi_code", "gi_yieldfrom", "cr_await", "cr_frame", "cr_code", "cr_origin",
    "ag_await", "ag_code", "ag_frame", "mro", "format", "format_map", "vformat", "get_field", "get_value",
})


def guarded_getattr(obj: Any, name: Any, *default: Any) -> Any:
    """`obj.name` for the program: no private names, no frames or code, no `str.format` (it walks attributes)."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name in ("format", "format_map") and (obj is str or isinstance(obj, str)):
        raise RestrictedAttribute(f"str.{name} is not available in the sandbox (it can walk attributes); "
                                  "use an f-string instead, e.g. f\"{x} apples, {y:.2f} each\"")
    if name.startswith("_") or name in _INTROSPECTION:
        raise RestrictedAttribute(f"attribute {name!r} is not available in the sandbox")
    if isinstance(obj, types.ModuleType):  # never reachable by construction; refuse if it ever is
        raise RestrictedAttribute("modules are not available in the sandbox")
    return getattr(obj, name, *default)


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


_user_classes: weakref.WeakSet[type] = weakref.WeakSet()
_WRITABLE_TYPES = (dict, list, set, bytearray, collections.Counter, collections.OrderedDict,
                   collections.defaultdict, collections.deque)
_writable_library_types: set[type] = set()  # filled as offered modules load (decimal.Context: `ctx.prec = 6`)


class _ReadOnly:
    """What `_write_` hands back for objects the program may not modify."""

    __slots__ = ("_target",)
    _target: Any

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def _refuse(self, *_: Any) -> None:
        raise RestrictedAccess(f"cannot modify {type(self._target).__name__} objects in the sandbox")

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = _refuse


def write_guard(obj: Any) -> Any:
    """Writes are allowed on plain containers and on the program's own classes and their instances."""
    if type(obj) in _WRITABLE_TYPES or type(obj) in _writable_library_types or type(obj) in _user_classes \
            or (isinstance(obj, type) and obj in _user_classes):
        return obj
    return _ReadOnly(obj)


def guarded_setattr(obj: Any, name: str, value: Any) -> None:
    if type(name) is not str or name.startswith("_"):
        raise RestrictedAccess(f"cannot set attribute {name!r} in the sandbox")
    setattr(write_guard(obj), name, value)


def guarded_delattr(obj: Any, name: str) -> None:
    if type(name) is not str or name.startswith("_"):
        raise RestrictedAccess(f"cannot delete attribute {name!r} in the sandbox")
    delattr(write_guard(obj), name)


def build_class(func: Callable[..., Any], name: str, *bases: Any, **kwargs: Any) -> Any:
    # RestrictedPython adds `metaclass=__metaclass__` (our `type`) to every class and refuses any other
    if kwargs.pop("metaclass", type) is not type or kwargs:
        raise RestrictedAccess("metaclasses and class keywords are not available in the sandbox")
    cls = builtins.__build_class__(func, name, *bases)
    _user_classes.add(cls)
    return cls


def guarded_unpack_sequence(it: Any, spec: dict[str, Any], getiter: Callable[[Any], Iterator[Any]]) -> list[Any]:
    ret = list(getiter(it))
    if len(ret) < spec["min_len"]:
        return ret
    for index, child in spec["childs"]:
        ret[index] = guarded_unpack_sequence(ret[index], child, getiter)
    return ret


def guarded_iter_unpack_sequence(
    it: Any, spec: dict[str, Any], getiter: Callable[[Any], Iterator[Any]]
) -> Iterator[list[Any]]:
    for ob in getiter(it):
        yield guarded_unpack_sequence(ob, spec, getiter)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplace_var(op: str, target: Any, value: Any) -> Any:
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise RestrictedAccess(f"operator {op} is not available in the sandbox") from None


def apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class StreamPrinter:
    """`print` for the program: straight to stdout, so the host sees (and caps) output as it is produced."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def write(self, text: str) -> None:
        sys.stdout.write(text)

    def __call__(self) -> str:  # the value of RestrictedPython's `printed` name
        return ""

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        if kwargs.get("file") is not None:
            raise RestrictedAccess("print(file=...) is not available in the sandbox; print to stdout")
        kwargs["file"] = self
        kwargs.pop("flush", None)
        print(*objects, **kwargs)


# -- the namespace -------------------------------------------------------------------------------------------

_SAFE_BUILTINS = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr", "classmethod",
    "complex", "dict", "divmod", "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "object", "oct", "ord",
    "pow", "property", "range", "repr", "reversed", "round", "set", "slice", "sorted", "staticmethod", "str",
    "sum", "super", "tuple", "zip", "None", "True", "False", "Ellipsis", "NotImplemented",
    # exceptions the program may raise and catch (SystemExit, KeyboardInterrupt, GeneratorExit are left out)
    "ArithmeticError", "AssertionError", "AttributeError", "BaseException", "Exception", "IndexError",
    "KeyError", "LookupError", "MemoryError", "NameError", "NotImplementedError", "OverflowError",
    "RecursionError", "RuntimeError", "StopIteration", "TypeError", "UnboundLocalError", "UnicodeDecodeError",
    "UnicodeEncodeError", "UnicodeError", "ValueError", "ZeroDivisionError",
)
_FORBIDDEN_BUILTINS = (
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "dir", "input", "breakpoint", "help",
    "exit", "quit", "memoryview", "aiter", "anext",
)
_FORBIDDEN_EXCEPTIONS = ("SystemExit", "KeyboardInterrupt", "GeneratorExit")


def _forbidden(name: str) -> Callable[..., Any]:
    def refuse(*_: Any, **__: Any) -> Any:
        raise RestrictedAccess(f"{name}() is not available in the sandbox")

    refuse.__name__ = name
    return refuse


def _forbidden_exception(name: str) -> type[RestrictedAccess]:
    """Stands in for an interpreter-exit exception: raising it (class or instance) is refused, not obeyed."""

    def __init__(self: RestrictedAccess, *_: Any) -> None:
        RestrictedAccess.__init__(self, f"{name} is not available in the sandbox")

    return type(name, (RestrictedAccess,), {"__init__": __init__})


def sandbox_type(obj: Any) -> type:
    """One-argument `type()`: the class of an object. Building classes goes through `class` statements."""
    return type(obj)


def _json_dumps(
    obj: Any, *, indent: int | str | None = None, sort_keys: bool = False, ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None, default: Callable[[Any], Any] | None = None, skipkeys: bool = False,
    allow_nan: bool = True,
) -> str:
    """json.dumps without `cls` (an encoder class of the program's choosing)."""
    return json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, separators=separators,
                      default=default, skipkeys=skipkeys, allow_nan=allow_nan)


def _json_loads(
    text: str | bytes, *, object_hook: Callable[[dict[str, Any]], Any] | None = None,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    parse_float: Callable[[str], Any] | None = None, parse_int: Callable[[str], Any] | None = None,
) -> Any:
    """json.loads without `cls`."""
    return json.loads(text, object_hook=object_hook, object_pairs_hook=object_pairs_hook, parse_float=parse_float,
                      parse_int=parse_int)


def _public(module: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
    chosen = names if names is not None else [n for n in dir(module) if not n.startswith("_")]
    return {name: getattr(module, name) for name in chosen}


class Namespace:
    """A read-only bag of functions and constants standing in for a module; asking for anything else is refused."""

    __slots__ = ("_members", "_name")
    _members: dict[str, Any]
    _name: str

    def __init__(self, name: str, members: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_members", dict(members))

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._members[attr]
        except KeyError:
            raise RestrictedAttribute(f"{self._name}.{attr} is not available in the sandbox; available: "
                                      f"{', '.join(sorted(self._members))}") from None

    def __repr__(self) -> str:
        return f"<sandbox namespace {self._name}>"


# name -> (module, members: None for every public name); modules load on first import (startup stays fast)
_OFFERED: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "math": ("math", None),
    "statistics": ("statistics", (
        "mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low", "median_high",
        "median_grouped", "mode", "multimode", "quantiles", "pstdev", "pvariance", "stdev", "variance",
        "StatisticsError",
    )),
    "json": ("json", ()),  # functions wrapped below, never the module's own (json.codecs leaks files)
    "random": ("random", ()),
    "itertools": ("itertools", None),
    "functools": ("functools", ("reduce", "partial", "lru_cache", "cache", "cmp_to_key")),
    "collections": ("collections", ("Counter", "OrderedDict", "defaultdict", "deque", "namedtuple")),
    "re": ("re", (
        "compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split", "escape",
        "error", "IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII", "I", "M", "S", "X", "A",
    )),
    "datetime": ("datetime", ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR")),
    "decimal": ("decimal", (
        "Decimal", "getcontext", "localcontext", "InvalidOperation", "DivisionByZero", "ROUND_HALF_UP",
        "ROUND_HALF_EVEN", "ROUND_DOWN", "ROUND_UP", "ROUND_FLOOR", "ROUND_CEILING",
    )),
    "fractions": ("fractions", ("Fraction",)),
    "string": ("string", (
        "ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits", "octdigits",
        "punctuation", "printable", "whitespace", "capwords",
    )),
    "time": ("time", ("time", "monotonic", "perf_counter", "sleep")),
}


def _members(name: str) -> dict[str, Any]:
    module_name, names = _OFFERED[name]
    module = importlib.import_module(module_name)
    if name == "json":
        return {"dumps": _json_dumps, "loads": _json_loads, "JSONDecodeError": json.JSONDecodeError}
    if name == "random":
        rng = module.Random()  # a private generator: its methods' __self__ is this object, not the module
        return {n: getattr(rng, n) for n in ("random", "randint", "randrange", "choice", "choices", "shuffle",
                                             "sample", "uniform", "gauss", "seed")}
    if name == "decimal":
        _writable_library_types.add(module.Context)
    return _public(module, names)


def make_import() -> Callable[..., Any]:
    loaded: dict[str, Namespace] = {}

    def sandbox_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level != 0 or name not in _OFFERED:
            offered = ", ".join(sorted(_OFFERED))
            raise RestrictedAccess(f"import of {name!r} is not available in the sandbox; importable: {offered}")
        if name not in loaded:
            loaded[name] = Namespace(name, _members(name))
        space = loaded[name]
        for wanted in fromlist or ():
            if wanted != "*":
                getattr(space, wanted)  # refuses names the namespace does not offer
        return space

    return sandbox_import


def build_globals() -> dict[str, Any]:
    safe: dict[str, Any] = {name: getattr(builtins, name) for name in _SAFE_BUILTINS}
    safe.update({name: _forbidden(name) for name in _FORBIDDEN_BUILTINS})
    safe.update({name: _forbidden_exception(name) for name in _FORBIDDEN_EXCEPTIONS})
    safe.update({
        "__build_class__": build_class, "__import__": make_import(), "getattr": guarded_getattr,
        "hasattr": guarded_hasattr, "setattr": guarded_setattr, "delattr": guarded_delattr, "type": sandbox_type,
        "SandboxRestricted": RestrictedAccess, "agentkit_inplace": inplace_var,
    })
    return {
        "__builtins__": safe, "__name__": "sandbox", "__metaclass__": type,
        "_getattr_": guarded_getattr, "_getitem_": operator.getitem, "_getiter_": iter, "_write_": write_guard,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplace_var, "_apply_": apply, "_print_": StreamPrinter,
        "_print": StreamPrinter(),  # a final `print(...)` is compiled apart, without its own collector
    }


# -- compile, run, report ------------------------------------------------------------------------------------

def _user_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # the program's own __str__ may fail; the report must not
        text = "(unprintable message)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(code: str, value_chars: int) -> dict[str, Any]:
    body, tail, error = compile_program(code)
    if error is not None:
        return {"value": None, "error": error}
    namespace = build_globals()
    sys.setrecursionlimit(500)  # deep recursion fails as RecursionError long before the C stack is at risk
    value: Any = None
    try:
        exec(body, namespace)
        if tail is not None:
            value = eval(tail, namespace)
    except MemoryError as exc:
        return {"value": None, "error": error_record("memory", "MemoryError", "the program ran out of memory "
                                                 f"(memory limit reached): {exc}", _user_line(exc))}
    except RestrictedAccess as exc:
        return {"value": None, "error": error_record("restricted", type(exc).__name__, _describe(exc), _user_line(exc))}
    except BaseException as exc:
        return {"value": None, "error": error_record("runtime", type(exc).__name__, _describe(exc), _user_line(exc))}
    if value is None:
        return {"value": None, "error": None}
    try:
        shown = repr(value)
    except MemoryError:
        return {"value": None, "error": error_record("memory", "MemoryError", "the value's repr ran out of memory")}
    except BaseException as exc:
        return {"value": None, "error": error_record("runtime", type(exc).__name__, f"repr() of the value failed: "
                                                 f"{_describe(exc)}")}
    if len(shown) > value_chars:
        shown = shown[:value_chars] + f"... ({len(shown)} characters, truncated)"
    return {"value": shown, "error": None}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    os.close(0)
    sys.path[:0] = [str(p) for p in request.get("paths", [])]  # where RestrictedPython is, nothing else
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # this program never needs another process
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    result = execute(str(request["code"]), int(request.get("value_chars", 10_000)))
    sys.stdout.flush()
    payload = json.dumps(result).encode()
    with os.fdopen(int(request["result_fd"]), "wb") as out:
        out.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
