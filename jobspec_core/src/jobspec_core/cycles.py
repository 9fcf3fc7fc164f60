"""Finding cycles in a directed graph of names (dependencies, group nesting)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["find_cycles"]


def find_cycles(
    nodes: Iterable[str], edges: Mapping[str, list[str]], limit: int = 20
) -> list[list[str]]:
    """Cycles of a directed graph, each as ``[a, b, ..., a]``; iterative, linear time.

    Each back edge found by one depth-first search gives one cycle, so every graph with a
    cycle yields at least one; at most ``limit`` are returned.
    """
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    cycles: list[list[str]] = []
    for start in nodes:
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        index: dict[str, int] = {start: 0}
        state[start] = 1
        while stack:
            node, i = stack[-1]
            targets = edges.get(node, ())
            if i < len(targets):
                stack[-1] = (node, i + 1)
                nxt = targets[i]
                if nxt not in edges and nxt not in state:
                    continue  # unknown names are reported elsewhere
                seen = state.get(nxt)
                if seen is None:
                    state[nxt] = 1
                    index[nxt] = len(path)
                    path.append(nxt)
                    stack.append((nxt, 0))
                elif seen == 1 and len(cycles) < limit:
                    cycles.append(path[index[nxt] :] + [nxt])
            else:
                stack.pop()
                state[node] = 2
                path.pop()
                index.pop(node, None)
    return cycles
