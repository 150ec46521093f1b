"""Reading a YAML file someone else wrote (a profile, a benchmark registry): plain data only, so a
`!!python/object` tag is refused; bounded, so an anchors-and-aliases bomb is refused before it is
expanded; and every failure is one error naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_NODES = 100_000  # a profile has hundreds of nodes; a billion-laughs document expands to billions


class _Unbounded(Exception):
    """Raised inside the node walk: the document is recursive or too large once expanded."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes `root` stands for with every alias expanded, counted with shared nodes memoized (so the
    count costs the document's size, not the expansion's) and stopped past `limit`."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise _Unbounded("an alias refers to a node that contains it (a recursive structure)")
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            for child in node.value:
                for part in child if isinstance(child, tuple) else (child,):
                    total += size(part)
                    if total > limit:
                        raise _Unbounded(f"expands to over {limit} nodes through anchors and aliases (an alias bomb?)")
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root)


def read_yaml(path: Path, error: type[Exception] = ValueError, what: str = "a config") -> Any:
    """The data in `path`; anything unsafe, unreadable or not YAML raises `error` naming the file."""
    try:
        loader = yaml.SafeLoader(Path(path).read_text(encoding="utf-8"))
        try:  # parsed once: the node graph is measured, then built into data
            node = loader.get_single_node()
            if node is None:
                return None
            _expanded_size(node, MAX_NODES)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except _Unbounded as exc:
        raise error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML for {what}: {exc}") from None
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise error(f"{path}: cannot be read as {what}: {type(exc).__name__}: {exc}") from None
