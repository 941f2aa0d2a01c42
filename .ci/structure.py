"""Structure checks on bot/, handlers/ and flags/ (run from the repository root).

- No function or method is over MAX_LINES lines, from its ``def`` line to its last line
  (decorators not counted).
- No function imports our own packages (bot, handlers, flags) in its body: an import there hides
  a dependency, and so a cycle, from import-linter. Import at the top of the module (under
  ``if TYPE_CHECKING:`` when only annotations need it).

Prints one line per finding and exits 1, or a one-line summary and exits 0 (2: not run from
the repository root).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGES = ("bot", "handlers", "flags")
MAX_LINES = 60

Function = ast.FunctionDef | ast.AsyncFunctionDef
Finding = tuple[str, int, str]  # path, line, what is wrong


def main() -> int:
    root = Path.cwd()
    if missing := [p for p in PACKAGES if not (root / p).is_dir()]:
        print(f"structure: no {', '.join(missing)} in {root}: run it from the repository root", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    files = functions = 0
    for path in sorted(p for package in PACKAGES for p in (root / package).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=name)
        except (SyntaxError, UnicodeDecodeError) as error:
            findings.append((name, 0, f"cannot be parsed ({error})"))
            continue
        files += 1
        for qualname, function in _functions(tree):
            functions += 1
            findings += _too_long(name, qualname, function)
            findings += _late_imports(name, qualname, function)
    if findings:
        print("\n".join(f"{path}:{line}: {what}" for path, line, what in sorted(findings)))
        return 1
    print(
        f"structure: {files} files, {functions} functions in {', '.join(PACKAGES)}: none over {MAX_LINES} lines, "
        "no import of our packages inside a function"
    )
    return 0


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method under ``node``, nested ones too, with its qualified name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, Function):
            yield prefix + child.name, child
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def _too_long(path: str, qualname: str, function: Function) -> list[Finding]:
    lines = (function.end_lineno or function.lineno) - function.lineno + 1
    if lines <= MAX_LINES:
        return []
    return [(path, function.lineno, f"{qualname} is {lines} lines long (at most {MAX_LINES}): split it")]


def _late_imports(path: str, qualname: str, function: Function) -> list[Finding]:
    """Imports of our packages in ``function``'s body (one in a function defined there is that one's)."""
    return [
        (path, node.lineno, f"late import in {qualname}: `{ast.unparse(node)}` (import at the top of the module)")
        for node in _own_body(function)
        if isinstance(node, ast.Import | ast.ImportFrom) and _imports_ours(node)
    ]


def _own_body(function: Function) -> Iterator[ast.AST]:
    """The nodes of ``function``'s body, without those of the functions defined in it."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        yield node
        pending += [child for child in ast.iter_child_nodes(node) if not isinstance(child, Function)]


def _imports_ours(node: ast.Import | ast.ImportFrom) -> bool:
    """Whether an import statement imports from our packages (a relative import always does)."""
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in PACKAGES for alias in node.names)
    return bool(node.level) or (node.module or "").split(".")[0] in PACKAGES


if __name__ == "__main__":
    sys.exit(main())
