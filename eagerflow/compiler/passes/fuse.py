"""Fusion: elementwise chains, elementwise producers into reductions, epilogues into matmul.

Invariant: the graph computes the same values, bit for bit (fused bodies run the same scalar ops
in the same order on the same operands; no float arithmetic is reassociated), and afterwards

- every *fusible* elementwise node (kind ELEMENTWISE, no regions, non-weak output) that had a
  fusible partner of the same output shape, joinable without a cycle, is inside a fused node;
- no fused node computes a value that another fused node also computes (nothing is computed
  twice), and every value a fused body computes that is needed outside it is stored once, as an
  extra output of that fused node.

Policy (docs/optimizer.md has the long form):

1. Groups. Elementwise nodes whose output has the same shape S join one group when one feeds the
   other; a group becomes `fused.elementwise {shape=S}`. Smaller values that are broadcast into
   the group (a (3,1) row max feeding a (3,4) subtraction) are inputs: they are computed once,
   where they are, and read with broadcasting. Nothing is ever recomputed: a value with several
   consumers is computed once inside its group, used in registers by the consumers inside, and
   stored once as an extra output for the consumers outside (softmax's exp). Two nodes never join
   if a path leaves the group between them (that would be a cycle). Nodes with an effect
   (print, assign_variable, check: `dce.node_has_effect`) are chained in program order for this
   check and for placement, so effects never change their relative order.
2. Reductions. A reduction whose input is computed by a group of the input's shape absorbs the
   group: `fused.reduce {shape, axis, keepdims, reduce}`; its first output is the reduction, the
   others are the group's values needed elsewhere, stored at full shape. A group feeds at most one
   fused reduction (the first); other reductions read the stored values.
3. Epilogues. A matmul whose result is used only by one group of the matmul's output shape, and
   that group has exactly one value needed outside, becomes `fused.matmul(a, b, *extras)`, the
   group as its epilogue (bias add, activation).
4. Singles. A lone elementwise node with no partner stays a plain node (the code generator
   handles plain elementwise nodes anyway); a reduction whose input is not elementwise-computed
   stays plain. Weak (0-d Python-scalar) nodes stay plain: a fused node's outputs are strong.
5. Bodies. Block arguments are 0-d, one per fused-node input, in the input's dtype and weak bit.
   0-d constants (weak or strong) stay constants in the body; array constants become inputs.

    %0 = sub(%x, %m) : f64[3,4]          ->   %0, %1 = fused.reduce(%x, %m) {axis=(1,),
    %1 = exp(%0) : f64[3,4]                       keepdims=True, reduce='sum', shape=(3, 4)}
    %2 = sum(%1) {axis=(1,), keepdims=True}       : f64[3,1], f64[3,4] {
    %3 = div(%1, %2) : f64[3,4]                 ^(%a: f64, %b: f64):
                                                  %2 = sub(%a, %b) : f64[]
                                                  %3 = exp(%2) : f64[]
                                                  yield %3, %3
                                              }
                                              %4 = div(%1, %0) : f64[3,4]
"""
from __future__ import annotations

import heapq

from ...ir.graph import Const, Graph, Node, Value
from ...ir.types import TensorType
from ...ops.registry import REGISTRY, Kind
from ._util import value_names, with_inputs
from .dce import node_has_effect

# Structured ops with an epilogue form: host op -> fused op whose body gets the host's element.
EPILOGUE_HOSTS = {"matmul": "fused.matmul"}


def _fusible(node: Node) -> bool:
    op = REGISTRY.get(node.op)
    return (op is not None and op.kind is Kind.ELEMENTWISE and op.pure and not node.regions
            and len(node.outputs) == 1 and not node.output.type.weak)


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _Plan:
    """Which nodes (by index) form which fused unit; with ancestor bitsets for cycle checks."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes = graph.nodes
        self.index = {}                                   # value id -> defining node index
        self.anc = []                                     # node index -> ancestor node bitset
        self.users: dict[int, list[int]] = {}             # value id -> user node indices
        self.after: dict[int, int] = {}                   # effect node -> previous effect node
        last_effect = None
        for i, n in enumerate(self.nodes):
            a = 0
            for v in n.inputs:
                j = self.index.get(v.id) if not isinstance(v, Const) else None
                if j is not None:
                    a |= self.anc[j] | (1 << j)
                    self.users.setdefault(v.id, []).append(i)
            if node_has_effect(n):
                # Effects keep program order: an edge to the previous one, so that the cycle
                # check refuses a group that would have to run both before and after it.
                if last_effect is not None:
                    a |= self.anc[last_effect] | (1 << last_effect)
                    self.after[i] = last_effect
                last_effect = i
            self.anc.append(a)
            for v in n.outputs:
                self.index[v.id] = i
        self.result_ids = {v.id for v in graph.results if not isinstance(v, Const)}
        self.group_of: dict[int, int] = {}               # node index -> group id
        self.groups: dict[int, int] = {}                 # group id -> member bitset
        self.kind: dict[int, str] = {}                   # group id -> elementwise|reduce|matmul
        self.head: dict[int, int] = {}                   # group id -> reduction/matmul node index

    def producer(self, v: Value):
        return None if isinstance(v, Const) else self.index.get(v.id)

    def acyclic(self, mask: int) -> bool:
        """No path leaves `mask` and comes back (the group can run as one node).

        Paths run through the *other groups as units*, not just through single nodes: a group
        becomes one fused node, so a path may enter it at one member and leave it at another.
        Checking `mask` alone is not enough: in softmax's gradient (tests/compiler/
        test_passes.py::test_fuse_softmax_gradient_has_no_cycle) one group held `%19 =
        where(%15, %18, 0.0)` and `%22`, and `%26 = div(%25, %17)` (with `%25` computed from
        `%22` through sum and reshape) was let into the group of `%18`: each group was convex on
        its own, but each fused node needed the other's output ("fusion made a cycle"). So the
        ancestor set of `mask` is closed over whole groups: when it reaches a member of a group,
        every member of that group and that member's ancestors join it.
        """
        outside, done = 0, set()
        for m in _bits(mask):
            outside |= self.anc[m]
        outside &= ~mask
        grew = True
        while grew:
            grew = False
            for x in _bits(outside):
                g = self.group_of.get(x)
                if g is None or g in done or g not in self.groups:
                    continue
                done.add(g)
                members = self.groups[g] & ~mask
                extra = members
                for m in _bits(members):
                    extra |= self.anc[m]
                extra &= ~mask
                if extra & ~outside:
                    outside |= extra
                    grew = True
        return not any(self.anc[x] & mask for x in _bits(outside))

    def merge(self, gids, extra_nodes=()) -> int | None:
        mask = 0
        for g in gids:
            mask |= self.groups[g]
        for i in extra_nodes:
            mask |= 1 << i
        if not self.acyclic(mask):
            return None
        gid = min(gids) if gids else extra_nodes[0]
        for g in gids:
            if g != gid:
                del self.groups[g]
                self.kind.pop(g, None)
        self.groups[gid] = mask
        for i in _bits(mask):
            self.group_of[i] = gid
        return gid

    def needed_outside(self, v: Value, mask: int) -> bool:
        return v.id in self.result_ids or any(not (mask >> u) & 1
                                              for u in self.users.get(v.id, ()))


def _form_groups(plan: _Plan):
    for i, n in enumerate(plan.nodes):
        if not _fusible(n):
            continue
        plan.groups[i] = 1 << i
        plan.group_of[i] = i
        plan.kind[i] = "elementwise"
        shape = n.output.type.shape
        cands = []
        for v in n.inputs:
            j = plan.producer(v)
            if j is not None and _fusible(plan.nodes[j]) and \
                    plan.nodes[j].output.type.shape == shape:
                g = plan.group_of[j]
                if g not in cands and g != plan.group_of[i]:
                    cands.append(g)
        for g in cands:     # one at a time: a candidate that would close a cycle is skipped
            cur = plan.group_of[i]
            if g in plan.groups and cur != g:
                plan.merge([cur, g])


def _merge_siblings(plan: _Plan):
    """Elementwise groups of one output shape that read the same array of that shape become one
    group: one loop reads the array once (`sin(x)` and `cos(x)`). A group that feeds a reduction
    or reads a matmul's result stays apart: rule 5 or 6 of docs/optimizer.md makes it part of
    that node instead, with nothing stored."""
    readers: dict[int, list[int]] = {}   # value id -> fusible nodes reading it at their shape
    for i, n in enumerate(plan.nodes):
        if i not in plan.group_of or plan.kind.get(plan.group_of[i]) != "elementwise":
            continue
        for v in n.inputs:
            if not isinstance(v, Const) and v.type.shape == n.output.type.shape:
                readers.setdefault(v.id, []).append(i)
    for nodes in readers.values():
        cur = None
        for i in nodes:
            g = plan.group_of[i]
            if g == cur or _kept_apart(plan, plan.groups[g]):
                continue
            if cur is None:
                cur = g
            else:
                m = plan.merge([cur, g])   # None: it would close a cycle
                cur = cur if m is None else m


def _kept_apart(plan: _Plan, mask: int) -> bool:
    for i in _bits(mask):
        n = plan.nodes[i]
        for v in n.inputs:
            j = plan.producer(v)
            if j is not None and plan.nodes[j].op in EPILOGUE_HOSTS:
                return True
        for u in plan.users.get(n.output.id, ()):
            op = REGISTRY.get(plan.nodes[u].op)
            if not (mask >> u) & 1 and op is not None and op.kind is Kind.REDUCTION:
                return True
    return False


def _absorb_reductions(plan: _Plan):
    for i, n in enumerate(plan.nodes):
        op = REGISTRY.get(n.op)
        if op is None or op.kind is not Kind.REDUCTION or not op.pure or n.regions:
            continue
        j = plan.producer(n.inputs[0])
        if j is None or j not in plan.group_of:
            continue
        g = plan.group_of[j]
        if plan.kind.get(g) != "elementwise" or \
                plan.nodes[j].output.type.shape != n.inputs[0].type.shape:
            continue
        gid = plan.merge([g], (i,))
        if gid is not None:
            plan.kind[gid] = "reduce"
            plan.head[gid] = i


def _absorb_epilogues(plan: _Plan):
    for i, n in enumerate(plan.nodes):
        if n.op not in EPILOGUE_HOSTS or n.regions or len(n.outputs) != 1:
            continue
        out = n.output
        users = plan.users.get(out.id, [])
        if not users or out.id in plan.result_ids:
            continue
        gids = {plan.group_of.get(u) for u in users}
        if len(gids) != 1 or None in gids:
            continue
        (g,) = gids
        if plan.kind.get(g) != "elementwise":
            continue
        mask = plan.groups[g]
        if any(plan.nodes[m].output.type.shape != out.type.shape for m in _bits(mask)):
            continue
        outs = [plan.nodes[m].output for m in _bits(mask)
                if plan.needed_outside(plan.nodes[m].output, mask)]
        if len(outs) != 1:
            continue
        gid = plan.merge([g], (i,))
        if gid is not None:
            plan.kind[gid] = "matmul"
            plan.head[gid] = i


def _region(members: list[Node], inputs: list[Value], results: list[Value], first_param=None):
    """A closed body: block arguments for `inputs` (after `first_param`), members' scalar ops."""
    params, env = [], {}
    if first_param is not None:
        host_value, t = first_param
        p = Value(TensorType(t.dtype, ()))
        params.append(p)
        env[host_value.id] = p
    for v in inputs:
        p = Value(TensorType(v.type.dtype, (), v.type.weak))
        params.append(p)
        env[v.id] = p
    nodes = []
    for n in members:
        ins = [v if isinstance(v, Const) and v.type.ndim == 0 else env[v.id] for v in n.inputs]
        inner = Node(n.op, ins, n.attrs, [TensorType(v.type.dtype, (), v.type.weak)
                                          for v in n.outputs], n.loc)
        for a, b in zip(n.outputs, inner.outputs):
            env[a.id] = b
        nodes.append(inner)
    return Graph("region", params, nodes, [env[v.id] for v in results])


def _external_inputs(members: list[Node], member_ids: set[int], skip=()) -> list[Value]:
    seen, out = set(), []
    for n in members:
        for v in n.inputs:
            if isinstance(v, Const) and v.type.ndim == 0:
                continue
            if v.id in member_ids or v.id in seen or v.id in skip:
                continue
            seen.add(v.id)
            out.append(v)
    return out


def _build(plan: _Plan, gid: int) -> tuple[Node, list[Value], list[Node]]:
    """The fused node for group `gid`, the old values its outputs replace, its old nodes."""
    mask = plan.groups[gid]
    kind = plan.kind[gid]
    idx = list(_bits(mask))
    head = plan.head.get(gid)
    body = [plan.nodes[i] for i in idx if i != head]
    member_ids = {v.id for n in body for v in n.outputs}
    stored = [n.output for n in body if plan.needed_outside(n.output, mask)]
    loc = plan.nodes[idx[-1]].loc
    if kind == "elementwise":
        if not stored:          # a dead group (dce runs later): keep its last value
            stored = [body[-1].output]
        inputs = _external_inputs(body, member_ids)
        shape = body[0].output.type.shape
        region = _region(body, inputs, stored)
        node = Node("fused.elementwise", inputs, {"shape": shape},
                    [TensorType(v.type.dtype, shape) for v in stored], loc, [region])
        return node, stored, body
    h = plan.nodes[head]
    if kind == "reduce":
        reduced = h.inputs[0]
        inputs = _external_inputs(body, member_ids)
        shape = reduced.type.shape
        region = _region(body, inputs, [reduced] + stored)
        attrs = {"shape": shape, "axis": h.attrs["axis"], "keepdims": h.attrs["keepdims"],
                 "reduce": h.op}
        types = [h.output.type] + [TensorType(v.type.dtype, shape) for v in stored]
        node = Node("fused.reduce", inputs, attrs, types, loc, [region])
        return node, [h.output] + stored, body + [h]
    hv = h.output
    extras = _external_inputs(body, member_ids, skip={hv.id})
    region = _region(body, extras, stored, first_param=(hv, hv.type))
    node = Node(EPILOGUE_HOSTS[h.op], list(h.inputs) + extras, {},
                [TensorType(stored[0].type.dtype, hv.type.shape)], loc, [region])
    return node, stored, [h] + body


def _fuse_regions(graph: Graph) -> tuple[Graph, list[str]]:
    """Fuse inside the regions of control-flow nodes (cond/while bodies)."""
    from ._util import map_regions
    nodes, changes = [], []
    for n in graph.nodes:
        op = REGISTRY.get(n.op)
        if n.regions and op is not None and op.kind is Kind.CONTROL:
            regions, ch = map_regions(n, fuse)
            if ch:
                n = with_inputs(n, n.inputs, regions)
                changes += ch
        nodes.append(n)
    return (graph.copy_shell(nodes), changes) if changes else (graph, [])


def fuse(graph: Graph) -> tuple[Graph, list[str]]:
    graph, region_changes = _fuse_regions(graph)
    plan = _Plan(graph)
    _form_groups(plan)
    _merge_siblings(plan)
    _absorb_reductions(plan)
    _absorb_epilogues(plan)
    fused = {g for g, m in plan.groups.items()
             if plan.kind[g] != "elementwise" or m & (m - 1)}     # singles stay plain
    if not fused:
        return graph, region_changes
    names = value_names(graph)
    # Units: a fused group or a single node; ordered topologically, stable by last member.
    units, unit_of = [], {}
    for g in sorted(fused, key=lambda g: plan.groups[g].bit_length()):
        node, replaced, old = _build(plan, g)
        units.append((plan.groups[g].bit_length() - 1, node))
        for i in _bits(plan.groups[g]):
            unit_of[i] = len(units) - 1
        names_old = ", ".join(names[n.outputs[0].id] for n in old)
        shape = node.attrs.get("shape", replaced[0].type.shape)
        unit_changes = f"fuse: {names_old} -> {node.op} {{shape={shape}}}"
        units[-1] = units[-1] + (replaced, unit_changes)
    for i, n in enumerate(plan.nodes):
        if i not in unit_of:
            unit_of[i] = len(units)
            units.append((i, n, list(n.outputs), None))
    subst: dict[int, Value] = {}
    for _, node, replaced, _ in units:
        if node.op.startswith("fused.") and replaced is not node.outputs:
            for old, new in zip(replaced, node.outputs):
                subst[old.id] = new
    # dependencies between units
    deps = [set() for _ in units]
    users = [set() for _ in units]
    for u, (_, node, _, _) in enumerate(units):
        for v in node.inputs:
            if isinstance(v, Const):
                continue
            j = plan.index.get(v.id)
            if j is not None and unit_of[j] != u:
                deps[u].add(unit_of[j])
                users[unit_of[j]].add(u)
    for i, prev in plan.after.items():
        if unit_of[i] != unit_of[prev]:
            deps[unit_of[i]].add(unit_of[prev])
            users[unit_of[prev]].add(unit_of[i])
    heap = [(units[u][0], u) for u in range(len(units)) if not deps[u]]
    heapq.heapify(heap)
    order = []
    while heap:
        _, u = heapq.heappop(heap)
        order.append(u)
        for w in users[u]:
            deps[w].discard(u)
            if not deps[w]:
                heapq.heappush(heap, (units[w][0], w))
    assert len(order) == len(units), "fusion made a cycle"
    nodes, changes = [], []
    for u in order:
        _, node, _, note = units[u]
        ins = [subst.get(v.id, v) if not isinstance(v, Const) else v for v in node.inputs]
        if any(a is not b for a, b in zip(ins, node.inputs)):
            node = with_inputs(node, ins)
        nodes.append(node)
        if note:
            changes.append(note)
    results = [v if isinstance(v, Const) else subst.get(v.id, v) for v in graph.results]
    return graph.copy_shell(nodes, results), region_changes + changes
