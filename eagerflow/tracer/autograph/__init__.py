"""Autograph: rewrite a function's Python control flow so that it traces into graph control flow.

`convert(fn)` returns a function that behaves like `fn` on Python values and, on traced values,
turns `if/elif/else`, `while`, `for`, `break`, `continue`, early `return`, `and/or/not` and
conditional expressions into `cond` / `while` nodes (transform.py says how; operators.py holds
the run-time helpers). A function with no control flow, and no calls that might reach some, is
returned as it is. Lambdas and functions without source are traced as written; when their code
branches, that is announced with an AutographWarning.
"""
from __future__ import annotations

import ast
import dis
import inspect
import os
import sys
import textwrap
import threading
import types
import warnings
import weakref

from . import operators
from .operators import AutographWarning, Undefined
from .transform import CannotConvert, Converter

__all__ = ["convert", "AutographWarning", "Undefined"]

_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.RLock()
_SKIP_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    os.path.dirname(os.__file__)})


def convert(fn):
    """The autograph-converted version of `fn` (cached per function object)."""
    f = getattr(fn, "__func__", fn)
    if not isinstance(f, types.FunctionType):
        return fn
    with _lock:
        try:
            out = _cache.get(f)
        except TypeError:
            out = None
        if out is None:
            out = _convert(f)
            try:
                _cache[f] = out
            except TypeError:
                pass
    if out is f:
        return fn
    return types.MethodType(out, fn.__self__) if isinstance(fn, types.MethodType) else out


def convert_if_user(f):
    """`convert(f)` for user functions; library functions (eagerflow, NumPy, the standard
    library, installed packages) are called as they are."""
    code = getattr(f, "__code__", None)
    if code is None or getattr(f, "__ef_converted__", False):
        return f
    fname = os.path.abspath(code.co_filename)
    if fname.startswith(_SKIP_DIRS) or "site-packages" in fname or "dist-packages" in fname:
        return f
    return convert(f)


def _branches(code) -> bool:
    """Whether compiled code has conditional jumps (if, and/or, conditional expressions, loops)."""
    for ins in dis.get_instructions(code):
        if ("JUMP" in ins.opname and "IF_" in ins.opname) or ins.opname == "FOR_ITER":
            return True
    return any(_branches(c) for c in code.co_consts if isinstance(c, types.CodeType))


def _announce(f, why):
    if _branches(f.__code__):
        warnings.warn(AutographWarning(
            f"autograph cannot convert {f.__qualname__} ({why}); it is traced as written, so "
            "`if`/`while`/`for` on traced values in it raise an error. Use ef.cond / "
            "ef.while_loop / np.where there, or define it with `def` in a source file."),
            stacklevel=_stacklevel())


def _stacklevel():
    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


def _convert(f):
    if f.__name__ == "<lambda>":
        _announce(f, "it is a lambda")
        return f
    try:
        lines, first = inspect.getsourcelines(f)
    except (OSError, TypeError):
        _announce(f, "its source is not available")
        return f
    src = textwrap.dedent("".join(lines))
    try:
        mod = ast.parse(src)
    except SyntaxError:
        _announce(f, "its source does not parse on its own")
        return f
    if not mod.body or not isinstance(mod.body[0], ast.FunctionDef) or mod.body[0].name != f.__name__:
        _announce(f, "its source is not a plain `def`")
        return f
    fndef = mod.body[0]
    why = _unsupported(fndef, f)
    if why:
        _announce(f, why)
        return f
    fndef.decorator_list = []
    ast.increment_lineno(mod, first - 1)
    g = f.__globals__
    modules = {k for k, v in g.items() if isinstance(v, types.ModuleType)}
    conv = Converter(modules)
    try:
        conv.function(fndef)
    except CannotConvert as e:
        _announce(f, str(e))
        return f
    if not conv.changed:
        return f
    if os.environ.get("EAGERFLOW_AUTOGRAPH_SOURCE"):   # debugging: show the rewritten code
        print(ast.unparse(fndef), file=sys.stderr)
    freevars = list(f.__code__.co_freevars)
    factory = ast.FunctionDef(
        name="ag__factory",
        args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in ["ag__"] + freevars],
                           vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[fndef, ast.Return(value=ast.Name(id=f.__name__, ctx=ast.Load()))],
        decorator_list=[], returns=None, type_comment=None)
    factory.lineno = fndef.lineno
    mod = ast.Module(body=[factory], type_ignores=[])
    factory.col_offset = 0
    ast.fix_missing_locations(mod)
    for n in ast.walk(mod):   # generated nodes: locations within one line
        if "lineno" in n._attributes:
            if getattr(n, "end_lineno", None) is None or n.end_lineno < n.lineno:
                n.end_lineno = n.lineno
            if n.end_lineno == n.lineno and (getattr(n, "end_col_offset", None) is None or
                                             n.end_col_offset < n.col_offset):
                n.end_col_offset = n.col_offset
    try:
        code = compile(mod, f.__code__.co_filename, "exec")
    except (SyntaxError, ValueError) as e:   # a construct the rewrite got wrong: as written
        _announce(f, f"the rewritten code does not compile: {getattr(e, 'msg', e)}")
        return f
    fac_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in fac_code.co_consts
                 if isinstance(c, types.CodeType) and c.co_name == f.__name__)
    cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
    cells["ag__"] = types.CellType(operators)
    try:
        closure = tuple(cells[n] for n in inner.co_freevars)
    except KeyError as e:
        _announce(f, f"it refers to {e} in a way the rewrite cannot follow")
        return f
    new = types.FunctionType(inner, f.__globals__, f.__name__, f.__defaults__, closure or None)
    new.__kwdefaults__ = f.__kwdefaults__
    new.__qualname__ = f.__qualname__
    new.__module__ = f.__module__
    new.__doc__ = f.__doc__
    new.__dict__.update(f.__dict__)
    new.__ef_converted__ = True
    new.__wrapped_original__ = f
    return new


def _unsupported(fndef, f) -> str | None:
    for n in ast.walk(fndef):
        if isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await, ast.AsyncFunctionDef)):
            return "it is a generator or coroutine"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and \
                n.func.id in ("super", "locals", "vars", "exec", "eval"):
            return f"it calls {n.func.id}()"
        if isinstance(n, ast.Name) and n.id.startswith("ag__"):
            return "it uses names starting with ag__"
        if isinstance(n, ast.Attribute) and n.attr.startswith("__") and \
                not n.attr.endswith("__") and "." in f.__qualname__:
            return "it uses a private (name-mangled) attribute"
    return None
