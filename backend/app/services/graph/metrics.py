"""Graph metrics with networkx: weighted degree, PageRank and betweenness centrality.

networkx is imported on first use (in the worker thread), not at start-up: the development
loop's `uvicorn --reload` restarts the app on every save.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class NodeMetrics:
    weighted_degree: float
    pagerank: float
    betweenness: float


DAMPING = 0.85
PAGERANK_TOLERANCE = 1.0e-8
PAGERANK_MAX_ITERATIONS = 200


def weighted_pagerank(graph: nx.Graph) -> dict[uuid.UUID, float]:
    """PageRank by power iteration over similarity weights.

    networkx's own `pagerank` needs scipy, which the backend does not ship; this is the same
    algorithm (dangling nodes spread their rank uniformly) in plain Python.
    """
    nodes = list(graph.nodes)
    count = len(nodes)
    rank = dict.fromkeys(nodes, 1.0 / count)
    strength = dict(graph.degree(weight="weight"))
    for _ in range(PAGERANK_MAX_ITERATIONS):
        dangling = sum(rank[node] for node in nodes if not strength[node])
        base = (1.0 - DAMPING) / count + DAMPING * dangling / count
        new_rank = dict.fromkeys(nodes, base)
        for node in nodes:
            if strength[node]:
                share = DAMPING * rank[node] / strength[node]
                for neighbour, data in graph[node].items():
                    new_rank[neighbour] += share * data["weight"]
        change = sum(abs(new_rank[node] - rank[node]) for node in nodes)
        rank = new_rank
        if change < count * PAGERANK_TOLERANCE:
            break
    return rank


def compute_metrics(
    node_ids: Sequence[uuid.UUID], edges: Sequence[tuple[uuid.UUID, uuid.UUID, float]]
) -> dict[uuid.UUID, NodeMetrics]:
    """CPU-bound: callers run it in a worker thread."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(node_ids)
    for source, target, similarity in edges:
        # Similar means close: betweenness walks shortest paths over distance = 1 - similarity.
        graph.add_edge(source, target, weight=similarity, distance=max(1.0 - similarity, 1e-6))
    if graph.number_of_nodes() == 0:
        return {}
    degree = dict(graph.degree(weight="weight"))
    pagerank = weighted_pagerank(graph)
    betweenness = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    return {
        node: NodeMetrics(
            weighted_degree=float(degree.get(node, 0.0)),
            pagerank=float(pagerank.get(node, 0.0)),
            betweenness=float(betweenness.get(node, 0.0)),
        )
        for node in graph.nodes
    }
