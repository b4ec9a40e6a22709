"""Lowered: every stage of one traced signature, for inspection and for building the executor."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Graph


@dataclass
class Lowered:
    traced: Graph                 # as traced
    optimized: Graph              # after the pass pipeline
    passes: list = field(default_factory=list)   # [PassRecord(name, graph, changes)]
    backend: str = "numba"
    source: str | None = None     # the Python that Numba compiles (numba backend)
    parallel_source: str | None = None   # its threaded variant, for large inputs (parallel=True)
    report: list = field(default_factory=list)   # autograph conversions, notes
    _build: object = None

    def executor(self):
        return self._build()

    def dot(self, stage: str = "optimized") -> str:
        from ..ir.dot import to_dot
        return to_dot(self.stage(stage))

    def stage(self, stage: str = "optimized") -> Graph:
        """The graph of one stage: "traced", "optimized", or the name of a pass (its output)."""
        if stage == "traced":
            return self.traced
        if stage == "optimized":
            return self.optimized
        for rec in self.passes:
            if rec.name == stage:
                return rec.graph
        raise ValueError(f"no stage {stage!r}: use 'traced', 'optimized' or a pass name "
                         f"({', '.join(r.name for r in self.passes)})")

    def render(self, path, stage: str = "optimized", format: str | None = None) -> str:
        """Render a stage with Graphviz's `dot` to `path` (.svg, .png, .pdf; .dot writes text).
        Raises GraphvizNotFoundError (an OSError) saying how to install it when it is missing."""
        from ..ir.dot import render
        return render(self.dot(stage), path, format)

    def __str__(self):
        parts = [f"# traced\n{self.traced}", f"# optimized\n{self.optimized}"]
        if self.source:
            parts.append(f"# source\n{self.source}")
        return "\n\n".join(parts)


def lower_traced(traced, function) -> Lowered:
    """Optimize the traced graph and prepare the backend's executor (compiled lazily)."""
    from ..compiler.pipeline import optimize
    graph = traced.graph
    optimized, records = optimize(graph, name=function.name)
    low = Lowered(graph, optimized, records, function.backend)
    low.report = list(graph.meta.get("report", ()))   # autograph: what became cond/while
    if function.backend == "interpreter":
        from .interpret import interpret

        def build():
            return lambda *args: interpret(optimized, args)
    elif function.backend == "numba":
        from ..compiler.codegen import generate
        from . import config
        par = config.parallel if function.parallel is None else function.parallel
        gen = generate(optimized, fastmath=function.fastmath, parallel=par)
        low.source = gen.source
        low.parallel_source = gen.par_source
        build = gen.compile
    else:
        from ..compiler.cuda import generate as generate_cuda
        gen = generate_cuda(optimized)
        low.source = gen.source
        build = gen.compile
    low._build = build
    from .dump import dump_stages
    dump_stages(function.name, low)
    return low
