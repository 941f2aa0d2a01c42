"""No import cycles inside bot/, handlers/ or flags/, imports under ``if TYPE_CHECKING:`` included
(run from the repository root). A cycle is a set of modules that import each other, directly or
through others; it is printed as the modules and one import chain around it, and exits 1."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

PACKAGES = ("bot", "handlers", "flags")


def strongly_connected(modules: set[str], imports: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the groups of modules that reach each other, of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def main(packages: tuple[str, ...] = PACKAGES) -> int:
    sys.path.insert(0, str(Path.cwd()))  # the checkout it is run in, not an installed copy
    findings = 0
    for package in packages:
        graph = grimp.build_graph(package, exclude_type_checking_imports=False)
        modules = set(graph.modules)
        imports = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
        for group in strongly_connected(modules, imports):
            findings += 1
            chain = graph.find_shortest_chain(importer=group[0], imported=group[1]) or ()
            back = graph.find_shortest_chain(importer=group[1], imported=group[0]) or ()
            print(f"import cycle among {', '.join(group)}: {' -> '.join(chain)} and {' -> '.join(back)}")
    if findings:
        return 1
    print(f"cycles: none in {', '.join(packages)} (type-only imports included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
