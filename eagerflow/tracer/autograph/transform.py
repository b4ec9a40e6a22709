"""The AST rewrite behind autograph.

Stages, on each function definition (the converted function and the functions nested in it):

1. `return` inside if/while/for becomes `ag__retval = value; ag__doret = True` (and a `break` in
   loops); the statements after it are guarded by `if not ag__doret:`; one `return` at the end.
2. `break`/`continue` become flags (`ag__brk_N`, `ag__cont_N`) that guard the rest of the body;
   a `while` test becomes `not brk and (test)`, a `for` gets an extra test; `else:` of a loop
   runs under `if not brk`.
3. Liveness (backward dataflow, loops to a fixed point) annotates each if/while/for with the
   variables live after it and, for loops, live at the loop head.
4. `if`/`while`/`for` become nested functions plus a call to a run-time helper
   (operators.py): the state of the statement is the variables it assigns that are live
   afterwards (or at the loop head), passed through get/set closures (`nonlocal`). `and`, `or`,
   `not`, conditional expressions and chained comparisons become helper calls (lazily
   evaluated operands); calls go through `ag__.callee(f)` so user functions are converted too.
5. Every name a nested function declares `nonlocal` is bound in its scope first
   (`x = ag__.Undefined('x')`).

Every generated node takes the location of the statement it replaces, so tracebacks and the IR's
`# file:line` point at the user's lines.
"""
from __future__ import annotations

import ast
import builtins
import copy
import itertools


class CannotConvert(Exception):
    """The function uses a construct the rewrite does not handle: it is traced as written."""


_NO_DESCEND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk_scope(node):
    """Nodes of `node` without entering nested scopes (their headers are not visited either)."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, _NO_DESCEND):
            todo.extend(ast.iter_child_nodes(n))


def _walk_stmts(stmts):
    for s in stmts:
        yield s
        if not isinstance(s, _NO_DESCEND):
            yield from _walk_scope(s)


def _name(id_, ctx=None):
    return ast.Name(id=id_, ctx=ctx or ast.Load())


def _ag(attr):
    return ast.Attribute(value=_name("ag__"), attr=attr, ctx=ast.Load())


def _call(func, args=(), keywords=()):
    return ast.Call(func=func, args=list(args), keywords=list(keywords))


def _assign(name, value):
    return ast.Assign(targets=[_name(name, ast.Store())], value=value, lineno=0)


def _not(expr):
    return ast.UnaryOp(op=ast.Not(), operand=expr)


def _const(v):
    return ast.Constant(value=v)


def _loc(new, old):
    """Give `new` (and its children without a location) the location of `old`."""
    for n in ast.walk(new):
        if getattr(n, "lineno", None) in (None, 0) and "lineno" in n._attributes:
            n.lineno = old.lineno
            n.col_offset = getattr(old, "col_offset", 0)
            n.end_lineno = old.lineno
            n.end_col_offset = n.col_offset
    return new


# -- names ----------------------------------------------------------------------------------------

def _target_names(t, out):
    if isinstance(t, ast.Name):
        out.add(t.id)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            _target_names(e, out)
    elif isinstance(t, ast.Starred):
        _target_names(t.value, out)
    return out


def _root(t):
    while isinstance(t, (ast.Subscript, ast.Attribute, ast.Starred)):
        t = t.value
    return t.id if isinstance(t, ast.Name) else None


def _mutated_roots(t, out):
    if isinstance(t, (ast.Subscript, ast.Attribute)):
        r = _root(t)
        if r:
            out.add(r)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            _mutated_roots(e, out)
    elif isinstance(t, ast.Starred):
        _mutated_roots(t.value, out)
    return out


def stmt_defs(s) -> set:
    """Names a statement binds (its own level only, nested statements excluded)."""
    out = set()
    if isinstance(s, ast.Assign):
        for t in s.targets:
            _target_names(t, out)
    elif isinstance(s, (ast.AugAssign, ast.AnnAssign)):
        _target_names(s.target, out)
    elif isinstance(s, (ast.For, ast.AsyncFor)):
        _target_names(s.target, out)
    elif isinstance(s, (ast.With, ast.AsyncWith)):
        for it in s.items:
            if it.optional_vars is not None:
                _target_names(it.optional_vars, out)
    elif isinstance(s, (ast.Import, ast.ImportFrom)):
        for a in s.names:
            out.add((a.asname or a.name).split(".")[0])
    elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        out.add(s.name)
    return out


def modified(stmts) -> tuple[set, set]:
    """(names bound anywhere in `stmts`, names whose objects are written through a subscript or
    attribute), nested scopes excluded."""
    bound, mutated = set(), set()
    for s in _walk_stmts(stmts):
        if isinstance(s, ast.stmt):
            bound |= stmt_defs(s)
            targets = s.targets if isinstance(s, ast.Assign) else \
                [s.target] if isinstance(s, (ast.AugAssign, ast.AnnAssign, ast.For)) else []
            for t in targets:
                _mutated_roots(t, mutated)
        elif isinstance(s, ast.NamedExpr):
            bound.add(s.target.id)
    return bound, mutated


def uses(node) -> set:
    if node is None:
        return set()
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
    return out


# -- liveness -------------------------------------------------------------------------------------

def live(stmts, live_out: set) -> set:
    cur = set(live_out)
    for s in reversed(stmts):
        cur = _live_stmt(s, cur)
    return cur


def _live_stmt(s, out: set) -> set:
    if isinstance(s, ast.If):
        s._ag_live_out = set(out)
        s._ag_live_in = live(s.body, out) | live(s.orelse, out)
        return uses(s.test) | s._ag_live_in
    if isinstance(s, ast.While):
        after = live(s.orelse, out)
        head = uses(s.test) | after
        for _ in range(50):
            b = live(s.body, head)
            new = uses(s.test) | after | b
            if new == head:
                break
            head = new
        s._ag_live_out, s._ag_head = after, head
        return head
    if isinstance(s, ast.For):
        after = live(s.orelse, out)
        extra = {s._ag_extra_test} if getattr(s, "_ag_extra_test", None) else set()
        tnames = _target_names(s.target, set())
        head = after | extra
        for _ in range(50):
            b = live(s.body, head)
            new = after | extra | (b - tnames)
            if new == head:
                break
            head = new
        s._ag_live_out, s._ag_head = after, head
        return uses(s.iter) | head
    if isinstance(s, (ast.With, ast.AsyncWith)):
        b = live(s.body, out)
        return b - stmt_defs(s) | set().union(*(uses(i.context_expr) for i in s.items))
    if isinstance(s, ast.Try):
        fin = live(s.finalbody, out)
        handlers = set().union(set(), *(live(h.body, fin) for h in s.handlers))
        o = live(s.orelse, fin)
        return live(s.body, o | handlers | fin) | handlers | fin
    if isinstance(s, ast.Return):
        return uses(s.value)
    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (out - {s.name}) | uses(s)
    gen = uses(s)
    if isinstance(s, ast.AugAssign):
        gen |= _target_names(s.target, set())
    if isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        for t in targets:
            _mutated_roots(t, gen)
    kill = stmt_defs(s) if not isinstance(s, ast.AugAssign) else set()
    return gen | (out - kill)


# -- stage 1: returns -------------------------------------------------------------------------------

_COMPOUND = (ast.If, ast.While, ast.For, ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith)


def _contains(stmts, kinds, into_loops=True) -> bool:
    for s in stmts:
        if isinstance(s, kinds):
            return True
        if isinstance(s, _NO_DESCEND):
            continue
        if not into_loops and isinstance(s, (ast.While, ast.For, ast.AsyncFor)):
            continue
        for field in ("body", "orelse", "finalbody"):
            if _contains(getattr(s, field, []) or [], kinds, into_loops):
                return True
        for h in getattr(s, "handlers", []) or []:
            if _contains(h.body, kinds, into_loops):
                return True
    return False


RET, DORET = "ag__retval", "ag__doret"


def transform_returns(fn: ast.FunctionDef):
    nested = any(_contains(getattr(s, "body", []) + getattr(s, "orelse", []), (ast.Return,))
                 for s in fn.body if isinstance(s, _COMPOUND))
    if not nested:
        return
    body = _guard_returns(fn.body, in_loop=False)
    last = fn.body[-1]
    start = [_loc(_assign(DORET, _const(False)), fn.body[0]),
             _loc(_assign(RET, _call(_ag("undefined_return"))), fn.body[0])]
    end = _loc(ast.Return(value=_call(_ag("retval"), [_name(RET)])), last)
    fn.body = _docstring(fn) + start + body + [end]


def _docstring(fn):
    b = fn.body
    if b and isinstance(b[0], ast.Expr) and isinstance(getattr(b[0], "value", None), ast.Constant) \
            and isinstance(b[0].value.value, str):
        fn.body = b[1:]
        return [b[0]]
    return []


def _guard_returns(stmts, in_loop):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Return):
            val = s.value if s.value is not None else _const(None)
            out += [_loc(_assign(RET, val), s), _loc(_assign(DORET, _const(True)), s)]
            if in_loop:
                out.append(_loc(ast.Break(), s))
            return out
        if isinstance(s, _COMPOUND) and not isinstance(s, _NO_DESCEND) and \
                _contains([s], (ast.Return,)):
            if isinstance(s, ast.Try):
                raise CannotConvert("`return` inside try")
            if isinstance(s, (ast.While, ast.For)):
                s.body = _guard_returns(s.body, True)
                s.orelse = _guard_returns(s.orelse, in_loop)
            elif isinstance(s, ast.If):
                s.body = _guard_returns(s.body, in_loop)
                s.orelse = _guard_returns(s.orelse, in_loop)
            elif isinstance(s, (ast.With,)):
                s.body = _guard_returns(s.body, in_loop)
            else:
                raise CannotConvert(f"`return` inside {type(s).__name__}")
            out.append(s)
            if in_loop and isinstance(s, (ast.While, ast.For)):
                out.append(_loc(ast.If(test=_name(DORET), body=[ast.Break()], orelse=[]), s))
            rest = stmts[i + 1:]
            if rest:
                out.append(_loc(ast.If(test=_not(_name(DORET)),
                                       body=_guard_returns(rest, in_loop), orelse=[]), rest[0]))
            return out
        out.append(s)
    return out


# -- stage 2: break / continue ----------------------------------------------------------------------

class _Counter:
    def __init__(self):
        self.it = itertools.count()

    def new(self, prefix):
        return f"ag__{prefix}_{next(self.it)}"


def transform_jumps(stmts, counter: _Counter):
    """Rewrite break/continue in every loop of `stmts` (inner loops first)."""
    out = []
    for s in stmts:
        if isinstance(s, _NO_DESCEND):
            out.append(s)
            continue
        for field in ("body", "orelse", "finalbody"):
            if getattr(s, field, None):
                setattr(s, field, transform_jumps(getattr(s, field), counter))
        for h in getattr(s, "handlers", []) or []:
            h.body = transform_jumps(h.body, counter)
        if isinstance(s, (ast.While, ast.For)):
            out += _loop_jumps(s, counter)
        else:
            out.append(s)
    return out


def _loop_jumps(loop, counter):
    has_cont = _contains(loop.body, (ast.Continue,), into_loops=False)
    has_brk = _contains(loop.body, (ast.Break,), into_loops=False)
    if not has_cont and not has_brk:
        return [loop]
    pre, post = [], []
    body = loop.body
    if has_cont:
        flag = counter.new("cont")
        body = [_loc(_assign(flag, _const(False)), loop)] + _guard_jump(body, flag, ast.Continue)
    if has_brk:
        flag = counter.new("brk")
        body = _guard_jump(body, flag, ast.Break)
        pre.append(_loc(_assign(flag, _const(False)), loop))
        if isinstance(loop, ast.While):
            loop.test = _loc(ast.BoolOp(op=ast.And(), values=[_not(_name(flag)), loop.test]),
                             loop.test)
        else:
            loop._ag_extra_test = flag
        if loop.orelse:
            post.append(_loc(ast.If(test=_not(_name(flag)), body=loop.orelse, orelse=[]), loop))
            loop.orelse = []
    loop.body = body
    return pre + [loop] + post


def _guard_jump(stmts, flag, kind):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, kind):
            out.append(_loc(_assign(flag, _const(True)), s))
            return out
        if not isinstance(s, (ast.While, ast.For) + _NO_DESCEND) and \
                _contains([s], (kind,), into_loops=False):
            if isinstance(s, ast.If):
                s.body = _guard_jump(s.body, flag, kind)
                s.orelse = _guard_jump(s.orelse, flag, kind)
            elif isinstance(s, ast.With):
                s.body = _guard_jump(s.body, flag, kind)
            else:
                raise CannotConvert(f"`{kind.__name__.lower()}` inside {type(s).__name__}")
            out.append(s)
            rest = stmts[i + 1:]
            if rest:
                out.append(_loc(ast.If(test=_not(_name(flag)),
                                       body=_guard_jump(rest, flag, kind), orelse=[]), rest[0]))
            return out
        out.append(s)
    return out


# -- stage 4: control flow and expressions ---------------------------------------------------------

class _Scope:
    def __init__(self, kind, params=(), nonlocal_=(), globals_=()):
        self.kind = kind
        self.params = set(params)
        self.nonlocal_ = set(nonlocal_)
        self.globals_ = set(globals_)
        self.needs_binding: set = set()


_SKIP_BUILTINS = set(dir(builtins)) - {"print"}


class Converter:
    def __init__(self, module_names: set, converted_lines=None):
        self.counter = _Counter()
        self.modules = module_names      # global names bound to modules (np, math, ...)
        self.local_names: set = set()
        self.changed = False

    # functions
    def function(self, fn, outer_globals=frozenset()):
        declared_g, declared_nl = set(), set()
        for s in _walk_stmts(fn.body):
            if isinstance(s, ast.Global):
                declared_g |= set(s.names)
            elif isinstance(s, ast.Nonlocal):
                declared_nl |= set(s.names)
        transform_returns(fn)
        fn.body = transform_jumps(fn.body, self.counter)
        live(fn.body, set())
        a = fn.args
        params = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        params += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
        self.local_names |= modified(fn.body)[0] | set(params)
        scope = _Scope("user", params, declared_nl, declared_g | set(outer_globals))
        fn.body = self.block(fn.body, scope)
        fn.decorator_list = [self.expr(d) for d in fn.decorator_list]
        fn.body = _docstring(fn) + self._inits(scope, fn) + fn.body
        return fn

    def _inits(self, scope, at):
        names = sorted(scope.needs_binding - scope.params - scope.nonlocal_ - scope.globals_)
        return [_loc(_assign(n, _call(_ag("Undefined"), [_const(n)])), at) for n in names]

    def block(self, stmts, scope):
        out = []
        for s in stmts:
            out += self.stmt(s, scope)
        return out or [ast.Pass()]

    def stmt(self, s, scope):
        if isinstance(s, (ast.FunctionDef,)):
            return [self.function(s, scope.globals_ if scope.kind == "gen" else ())]
        if isinstance(s, (ast.AsyncFunctionDef, ast.ClassDef)):
            return [s]
        if isinstance(s, ast.If):
            return self.if_(s, scope)
        if isinstance(s, ast.While):
            return self.while_(s, scope)
        if isinstance(s, ast.For):
            return self.for_(s, scope)
        if isinstance(s, ast.With):
            s.items = [ast.withitem(self.expr(i.context_expr), i.optional_vars) for i in s.items]
            s.body = self.block(s.body, scope)
            return [s]
        if isinstance(s, ast.Try):
            s.body = self.block(s.body, scope)
            for h in s.handlers:
                h.body = self.block(h.body, scope)
            if s.orelse:
                s.orelse = self.block(s.orelse, scope)
            if s.finalbody:
                s.finalbody = self.block(s.finalbody, scope)
            return [s]
        if isinstance(s, (ast.Assign, ast.AugAssign)):
            s = self._setitem(s)
        if isinstance(s, ast.Return) and s.value is not None and not (
                isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute) and
                _root(s.value.func) == "ag__"):
            s.value = _loc(_call(_ag("retval"), [s.value]), s)
        return [self.expr(s)]

    def _setitem(self, s):
        """`buf[k] = v` (buf a local name) -> `buf = ag__.setitem(buf, k, v)`, so that writing a
        traced value into a NumPy buffer (`buf = np.zeros(n)`) makes `buf` traced."""
        t = s.targets[0] if isinstance(s, ast.Assign) and len(s.targets) == 1 else \
            s.target if isinstance(s, ast.AugAssign) else None
        if isinstance(s, ast.AugAssign) and isinstance(t, ast.Name) and t.id in self.local_names:
            # `buf += v` -> `buf = ag__.augassign(buf, v, "Add", "buf")`
            self.changed = True
            call = _call(_ag("augassign"), [_name(t.id), s.value, _const(type(s.op).__name__),
                                            _const(t.id)])
            return _loc(ast.Assign(targets=[_name(t.id, ast.Store())], value=call), s)
        if not (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and
                t.value.id in self.local_names):
            return s
        self.changed = True
        key = t.slice
        args = [_name(t.value.id), key, s.value]
        args.append(_const(type(s.op).__name__) if isinstance(s, ast.AugAssign) else _const(None))
        args.append(_const(t.value.id))
        call = _call(_ag("setitem"), args)
        return _loc(ast.Assign(targets=[_name(t.value.id, ast.Store())], value=call), s)

    # expressions
    def expr(self, node):
        return _ExprConverter(self).visit(node)

    # statement pieces
    def _state(self, names, scope, at, tag):
        n = self.counter.new(tag)
        get_name, set_name = f"{n}_get", f"{n}_set"
        g = sorted(x for x in names if x in scope.globals_)
        nl = sorted(x for x in names if x not in scope.globals_)
        tup = ast.Tuple(elts=[_name(x) for x in names], ctx=ast.Load())
        getf = _fndef(name=get_name, args=_noargs(), body=[ast.Return(value=tup)],
                               decorator_list=[])
        decl = ([ast.Nonlocal(names=nl)] if nl else []) + ([ast.Global(names=g)] if g else [])
        if names:
            assign = ast.Assign(targets=[ast.Tuple(elts=[_name(x, ast.Store()) for x in names],
                                                   ctx=ast.Store())], value=_name("ag__v"))
            sbody = decl + [assign]
        else:
            sbody = [ast.Pass()]
        setf = _fndef(name=set_name, args=_noargs(["ag__v"]), body=sbody,
                               decorator_list=[])
        scope.needs_binding |= set(nl)
        return n, [_loc(getf, at), _loc(setf, at)], get_name, set_name

    def _gen_fn(self, name, stmts, names, scope, at, args=()):
        inner = _Scope("gen", args, [x for x in names if x not in scope.globals_],
                       scope.globals_)
        body = self.block(stmts, inner)
        nl = sorted(x for x in names if x not in scope.globals_)
        g = sorted(x for x in names if x in scope.globals_)
        decl = ([ast.Nonlocal(names=nl)] if nl else []) + ([ast.Global(names=g)] if g else [])
        f = _fndef(name=name, args=_noargs(list(args)),
                            body=decl + self._inits(inner, at) + body,
                            decorator_list=[])
        return _loc(f, at)

    def if_(self, s, scope):
        self.changed = True
        b1, m1 = modified(s.body)
        b2, m2 = modified(s.orelse)
        names = sorted(((b1 | b2) & (s._ag_live_out | s._ag_live_in)) |
                       ((m1 | m2) & self.local_names))
        n, state_fns, get_name, set_name = self._state(names, scope, s, "if")
        test = self.expr(s.test)
        body_f = self._gen_fn(f"{n}_body", s.body, names, scope, s)
        else_f = self._gen_fn(f"{n}_else", s.orelse or [ast.Pass()], names, scope, s)
        call = _call(_ag("if_stmt"), [test, _name(body_f.name), _name(else_f.name),
                                      _name(get_name), _name(set_name), _names_tuple(names),
                                      _opts(s)])
        return [body_f, else_f] + state_fns + [_loc(ast.Expr(value=call), s)]

    def while_(self, s, scope):
        self.changed = True
        b, m = modified(s.body)
        names = sorted((b & (s._ag_head | s._ag_live_out)) | (m & self.local_names))
        n, state_fns, get_name, set_name = self._state(names, scope, s, "while")
        test_f = _loc(_fndef(name=f"{n}_test", args=_noargs(),
                                      body=[ast.Return(value=self.expr(s.test))],
                                      decorator_list=[]), s)
        body_f = self._gen_fn(f"{n}_body", s.body, names, scope, s)
        call = _call(_ag("while_stmt"), [_name(test_f.name), _name(body_f.name), _name(get_name),
                                         _name(set_name), _names_tuple(names), _opts(s)])
        out = [test_f, body_f] + state_fns + [_loc(ast.Expr(value=call), s)]
        if s.orelse:
            out += self.block(s.orelse, scope)
        return out

    def for_(self, s, scope):
        self.changed = True
        b, m = modified(s.body)
        tnames = _target_names(s.target, set())
        b |= tnames
        _mutated_roots(s.target, m)
        names = sorted((b & (s._ag_head | s._ag_live_out)) | (m & self.local_names))
        n, state_fns, get_name, set_name = self._state(names, scope, s, "for")
        it = s.iter
        desc = ast.unparse(it)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and not it.keywords and not any(isinstance(a, ast.Starred) for a in it.args):
            it = _loc(_call(_ag("range_"), [_name("range")] + [self.expr(a) for a in it.args]), it)
        else:
            it = self.expr(it)
        itv = "ag__itr"
        target_assign = _loc(ast.Assign(targets=[s.target], value=_name(itv)), s)
        body_f = self._gen_fn(f"{n}_body", [target_assign] + s.body, names, scope, s, args=(itv,))
        pre = [test_f] if (test_f := self._extra_test(s, n)) is not None else []
        call = _call(_ag("for_stmt"), [it, _name(pre[0].name) if pre else _const(None),
                                       _name(body_f.name), _name(get_name), _name(set_name),
                                       _names_tuple(names), _opts(s, iter=desc)])
        out = pre + [body_f] + state_fns + [_loc(ast.Expr(value=call), s)]
        if s.orelse:
            out += self.block(s.orelse, scope)
        return out

    def _extra_test(self, s, n):
        flag = getattr(s, "_ag_extra_test", None)
        if flag is None:
            return None
        return _loc(_fndef(name=f"{n}_extra", args=_noargs(),
                                    body=[ast.Return(value=_call(_ag("not_"), [_name(flag)]))],
                                    decorator_list=[]), s)


def _fndef(name, args, body, decorator_list=()):
    return ast.FunctionDef(name=name, args=args, body=body, decorator_list=list(decorator_list),
                           returns=None, type_comment=None)


def _noargs(names=()):
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in names], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _names_tuple(names):
    return ast.Tuple(elts=[_const(x) for x in names], ctx=ast.Load())


def _opts(s, **extra):
    keys = [_const("line")] + [_const(k) for k in extra]
    vals = [_const(s.lineno)] + [_const(v) for v in extra.values()]
    return ast.Dict(keys=keys, values=vals)


class _ExprConverter(ast.NodeTransformer):
    """and/or/not, conditional expressions, chained comparisons, calls."""

    def __init__(self, conv: Converter):
        self.conv = conv

    def _lam(self, e):
        return ast.Lambda(args=_noargs(), body=e)

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        self.conv.changed = True
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        return _loc(_call(_ag(fn), [self._lam(v) for v in node.values],
                          [ast.keyword(arg="opts", value=_opts(node))]), node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            self.conv.changed = True
            return _loc(_call(_ag("not_"), [node.operand]), node)
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        self.conv.changed = True
        return _loc(_call(_ag("ifexp"), [node.test, self._lam(node.body), self._lam(node.orelse),
                                         _opts(node)]), node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        self.conv.changed = True
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(ast.Compare(left=copy.deepcopy(left), ops=[op], comparators=[right]))
            left = right
        return _loc(_call(_ag("and_"), [self._lam(p) for p in parts],
                          [ast.keyword(arg="opts", value=_opts(node))]), node)

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name):
            if f.id in _SKIP_BUILTINS and f.id not in self.conv.local_names or f.id == "ag__":
                return node
            if f.id in self.conv.modules and f.id not in self.conv.local_names:
                return node
        if isinstance(f, ast.Attribute):
            r = _root(f)
            if r == "ag__":
                return node
            if r in self.conv.modules and r not in self.conv.local_names:
                return node
        self.conv.changed = True
        node.func = _loc(_call(_ag("callee"), [f]), f)
        return node

    def visit_Lambda(self, node):
        self.generic_visit(node)
        return node
