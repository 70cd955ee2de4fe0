"""Source to restricted code, inside the sandbox: parse, rewrite what RestrictedPython refuses but is safe,
compile the body and the last expression apart (its value is the result), and say where a refusal points.

Loaded by `_runner` inside the jail with nothing but the standard library and RestrictedPython on its path.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Any

FILENAME = "<sandbox>"


def error_record(kind: str, exc_type: str | None, message: str, line: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "type": exc_type, "message": message[:4000], "line": line}


_OPERATORS = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/=", ast.FloorDiv: "//=", ast.Mod: "%=",
              ast.Pow: "**=", ast.LShift: "<<=", ast.RShift: ">>=", ast.BitAnd: "&=", ast.BitOr: "|=",
              ast.BitXor: "^=", ast.MatMult: "@="}


def _pure(node: ast.AST) -> bool:
    """An expression that can be evaluated twice without side effects (names, constants, lookups, arithmetic)."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    if isinstance(node, ast.Attribute):
        return _pure(node.value)
    if isinstance(node, ast.Subscript):
        return _pure(node.value) and _pure(node.slice)
    if isinstance(node, ast.BinOp):
        return _pure(node.left) and _pure(node.right)
    if isinstance(node, ast.UnaryOp):
        return _pure(node.operand)
    if isinstance(node, ast.Tuple):
        return all(_pure(e) for e in node.elts)
    return False


class AugmentedTargets(ast.NodeTransformer):
    """`obj.attr += x` and `d[k] += x` (which RestrictedPython refuses) become `t = agentkit_inplace('+=', t, x)`.

    Only when the target can be evaluated twice without side effects; the rewritten statement still goes
    through RestrictedPython, so the attribute and item guards apply to it.
    """

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        target = node.target
        if not isinstance(target, ast.Attribute | ast.Subscript) or not _pure(target):
            return node
        load = copy.deepcopy(target)
        load.ctx = ast.Load()
        call = ast.Call(func=ast.Name("agentkit_inplace", ast.Load()),
                        args=[ast.Constant(_OPERATORS[type(node.op)]), load, node.value], keywords=[])
        return ast.copy_location(ast.Assign(targets=[target], value=call), node)


class DroppedAnnotations(ast.NodeTransformer):
    """`x: int = 5` (which RestrictedPython refuses) becomes `x = 5`, and a bare `x: int` becomes `pass`.

    Annotations have no effect a program relies on; the assignment left behind still goes through RestrictedPython.
    """

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def _first_line(errors: list[str]) -> int | None:
    """RestrictedPython's messages start with "Line N: "; the first one says where to look."""
    for message in errors:
        found = re.match(r"Line (\d+):", message)
        if found:
            return int(found.group(1))
    return None


def compile_program(code: str) -> tuple[Any, Any, dict[str, Any] | None]:
    """(body code, last-expression code or None, error). The last expression is compiled apart for its value."""
    from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec

    try:
        tree = ast.parse(code, FILENAME, "exec")
    except SyntaxError as exc:
        return None, None, error_record("syntax", "SyntaxError", f"{exc.msg} (line {exc.lineno})", exc.lineno)
    except (ValueError, MemoryError, RecursionError) as exc:
        return None, None, error_record("syntax", type(exc).__name__, str(exc))
    last: ast.Expression | None = None
    tree = ast.fix_missing_locations(AugmentedTargets().visit(DroppedAnnotations().visit(tree)))
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr):
        tree.body.pop()
        last = ast.Expression(body=final.value)
    body = compile_restricted_exec(tree, FILENAME)
    errors = list(body.errors)
    tail = None
    if last is not None:
        ast.fix_missing_locations(last)
        compiled = compile_restricted_eval(last, FILENAME)
        errors += list(compiled.errors)
        tail = compiled.code
    if errors or body.code is None or (last is not None and tail is None):
        return None, None, error_record("restricted", "RestrictedSyntax", "; ".join(errors) or "refused by the sandbox",
                                  _first_line(errors))
    return body.code, tail, None
