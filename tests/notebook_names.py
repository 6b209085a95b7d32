"""Which names the code cells of a notebook bind and read, found by parsing (nothing is executed).

Used by the student-edition tests: the names an exercise prompt mentions, the names a learner's exercise cell may
bind, the names a later cell reads from earlier cells, the names bound only in reference-solution cells, and what
kind of object each imported name is (a module, a class, or a function or constant).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import types
from dataclasses import dataclass, field

# Names a learner is likely to bind in any exercise cell: the workbook's symbols and the usual scratch names.
COMMON_NAMES = frozenset(
    """
    answer w mu P r Y G H A u s n K k x h D F M v q m S sigma rho nu c c1 c2 p1 p2 theta step t T B N L C U V X Z R
    Q W xhat signs alpha beta a b i j e f g z y d tau lr eta kappa cell rng xs ys out result res ratio err error
    errors mean var values mine ref expected got want tol eps norm keep mix bound Hs HA nuF Qv Rv QM RM sig Vt
    """.split()
)

_BUILTINS = frozenset(dir(builtins))
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def python_source(source: str) -> str:
    """The cell's source with IPython magics and shell lines turned into ``pass`` (so that it parses)."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def parse(source: str) -> ast.Module:
    return ast.parse(python_source(source))


@dataclass
class CellNames:
    """``reads``: names the cell reads before binding them itself; ``binds``: names it binds at its top level;
    ``imports``: the names among ``binds`` bound by import statements."""

    reads: set[str] = field(default_factory=set)
    binds: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)


def _targets(node: ast.AST) -> set[str]:
    """Names bound by an assignment target."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)}


def _scope_reads(nodes: list[ast.AST], bound: set[str]) -> set[str]:
    """Names read by ``nodes`` (statements or expressions of one scope) that are not bound in that scope first.

    Statements are taken in order; a nested function or lambda reads what its body reads minus its parameters and
    its own locals; a comprehension minus its targets.
    """
    reads: set[str] = set()
    bound = set(bound)
    for node in nodes:
        reads |= _node_reads(node, bound)
        bound |= _binds(node)
    return reads


def _binds(node: ast.AST) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    out: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child is not node:
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
            out.add(child.id)
        elif isinstance(child, ast.NamedExpr):
            out |= _targets(child.target)
    return out


def _function_reads(args: ast.arguments, body: list[ast.AST], decorators: list[ast.AST]) -> set[str]:
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    defaults = [d for d in args.defaults + args.kw_defaults if d is not None]
    local = params | set().union(*(_binds(stmt) for stmt in body)) if body else params
    inner = set().union(*(_node_reads(stmt, local) for stmt in body)) if body else set()
    outer = set().union(*(_node_reads(d, set()) for d in defaults + decorators)) if defaults or decorators else set()
    return (inner - local) | outer


def _node_reads(node: ast.AST, bound: set[str]) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return _function_reads(node.args, node.body, node.decorator_list) - bound
    if isinstance(node, ast.Lambda):
        return _function_reads(node.args, [node.body], []) - bound
    if isinstance(node, ast.ClassDef):
        return _scope_reads(node.body, bound) | set().union(*(_node_reads(b, bound) for b in node.bases))
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        targets: set[str] = set()
        reads: set[str] = set()
        for gen in node.generators:
            reads |= _node_reads(gen.iter, bound | targets)
            targets |= _targets(gen.target)
            for cond in gen.ifs:
                reads |= _node_reads(cond, bound | targets)
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for element in elements:
            reads |= _node_reads(element, bound | targets)
        return reads
    if isinstance(node, ast.Name):
        return {node.id} - bound if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        return ({node.target.id} - bound) | _node_reads(node.value, bound)
    if isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.If | ast.With | ast.AsyncWith | ast.Try):
        # the header first, then the bodies in order (a loop body may read what it binds later: ignored)
        reads: set[str] = set()
        inner = set(bound)
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                reads |= _scope_reads([v for v in value if isinstance(v, ast.AST)], inner)
                inner |= set().union(*(_binds(v) for v in value if isinstance(v, ast.AST))) if value else set()
            elif isinstance(value, ast.AST):
                reads |= _node_reads(value, inner)
                if name in ("target", "optional_vars"):
                    inner |= _targets(value)
        return reads
    reads = set()
    for child in ast.iter_child_nodes(node):
        reads |= _node_reads(child, bound)
    return reads


def cell_names(source: str) -> CellNames:
    """What a code cell reads from earlier cells and what it binds (see :class:`CellNames`)."""
    tree = parse(source)
    names = CellNames()
    names.reads = _scope_reads(tree.body, set()) - _BUILTINS
    for stmt in tree.body:
        names.binds |= _binds(stmt)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            names.imports |= _binds(stmt)
    return names


def called_names(markdown: str) -> set[str]:
    """Names the text shows being called in its code spans (``uoro_update(s, theta, ...)``), not after a dot."""
    out: set[str] = set()
    for span in _CODE_SPAN.findall(markdown):
        out |= set(re.findall(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\s*\(", span))
    return out - _BUILTINS - set(__import__("keyword").kwlist)


def import_kinds(source: str) -> dict[str, str]:
    """For each name a cell binds by an import: "module", "class", or "other" (a function or a constant). The
    imported modules are loaded to tell (the workbook's own package and its dependencies)."""
    kinds: dict[str, str] = {}
    for node in parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                kinds[(alias.asname or alias.name).split(".")[0]] = "module"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                kind = (
                    "module" if isinstance(value, types.ModuleType) else "class" if isinstance(value, type) else "other"
                )
                kinds[alias.asname or alias.name] = kind
    return kinds


def prompt_names(markdown: str) -> set[str]:
    """Identifiers in the code spans of a prompt (``answer = w``, ``bound(Y, P, r)``), not attributes after a dot."""
    out: set[str] = set()
    for span in _CODE_SPAN.findall(markdown):
        out |= set(_IDENTIFIER.findall(span))
    return {name for name in out if not name.isdigit()} - _BUILTINS - set(__import__("keyword").kwlist)
