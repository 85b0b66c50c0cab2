"""Graph metrics against networkx's exact ones (random graphs, fixed seeds, small and fast)."""

from __future__ import annotations

import asyncio
import random
import uuid

import networkx as nx
import pytest
from app.services.graph.metrics import (
    betweenness_error_bound,
    betweenness_sample_size,
    compute_metrics,
    compute_metrics_async,
    metrics_by_index,
)


def _random_graph(nodes: int, edges: int, seed: int) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    found: dict[tuple[int, int], float] = {}
    while len(found) < edges:
        a, b = rng.randrange(nodes), rng.randrange(nodes)
        if a != b:
            found[(min(a, b), max(a, b))] = rng.uniform(0.75, 1.0)
    return [(a, b, w) for (a, b), w in found.items()]


def _networkx(nodes: int, edges: list[tuple[int, int, float]]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(nodes))
    for a, b, w in edges:
        graph.add_edge(a, b, weight=w, distance=max(1.0 - w, 1e-6))
    return graph


@pytest.mark.parametrize(("nodes", "edges", "seed"), [(40, 90, 1), (120, 360, 2), (200, 600, 3)])
def test_metrics_equal_networkx_exact(nodes: int, edges: int, seed: int) -> None:
    edge_list = _random_graph(nodes, edges, seed)
    graph = _networkx(nodes, edge_list)
    degree, pagerank, betweenness = metrics_by_index(nodes, edge_list)
    exact_degree = dict(graph.degree(weight="weight"))
    exact_pagerank = nx.pagerank(graph, weight="weight", tol=1e-13, max_iter=10_000)
    exact_betweenness = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    assert betweenness_sample_size(nodes) == nodes  # a session-sized graph is exact
    for node in range(nodes):
        assert degree[node] == pytest.approx(exact_degree[node], rel=1e-12, abs=1e-12)
        assert betweenness[node] == pytest.approx(exact_betweenness[node], rel=1e-9, abs=1e-12)
    assert sum(abs(pagerank[n] - exact_pagerank[n]) for n in range(nodes)) < 1e-6


def test_isolated_nodes_and_disconnected_parts_match_networkx() -> None:
    edge_list = [
        *_random_graph(30, 50, 4),
        *[(a + 30, b + 30, w) for a, b, w in _random_graph(20, 30, 5)],
    ]
    nodes = 55  # 5 isolated nodes (dangling for PageRank)
    graph = _networkx(nodes, edge_list)
    degree, pagerank, betweenness = metrics_by_index(nodes, edge_list)
    exact_pagerank = nx.pagerank(graph, weight="weight", tol=1e-13, max_iter=10_000)
    exact_betweenness = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    assert max(abs(pagerank[n] - exact_pagerank[n]) for n in range(nodes)) < 1e-6
    for node in range(nodes):
        assert betweenness[node] == pytest.approx(exact_betweenness[node], rel=1e-9, abs=1e-12)
    assert degree[54] == 0.0


def test_tied_shortest_paths_are_counted_like_networkx() -> None:
    # Equal similarities: a grid has many shortest paths of equal length (Brandes path counts).
    grid = nx.grid_2d_graph(6, 6)
    index = {node: i for i, node in enumerate(grid.nodes)}
    edge_list = [(index[a], index[b], 0.8) for a, b in grid.edges]
    graph = _networkx(len(index), edge_list)
    _, _, betweenness = metrics_by_index(len(index), edge_list)
    exact = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    for node in range(len(index)):
        assert betweenness[node] == pytest.approx(exact[node], rel=1e-9, abs=1e-12)


def test_sampled_betweenness_is_within_its_stated_bound() -> None:
    nodes, sources = 300, 60
    edge_list = _random_graph(nodes, 900, 6)
    graph = _networkx(nodes, edge_list)
    exact = nx.betweenness_centrality(graph, weight="distance", normalized=True)
    _, _, sampled = metrics_by_index(nodes, edge_list, sources=sources)
    bound = betweenness_error_bound(nodes, sources)
    assert 0 < bound < 0.5
    worst = max(abs(sampled[n] - exact[n]) for n in range(nodes))
    assert worst <= bound
    # The bound is loose: the estimate is much closer than it promises.
    assert worst <= bound / 5


def test_large_graphs_sample_and_small_ones_do_not() -> None:
    assert betweenness_sample_size(250) == 250
    assert betweenness_sample_size(2000) < 2000
    assert betweenness_error_bound(250, 250) == 0.0
    assert betweenness_error_bound(2000, betweenness_sample_size(2000)) < 0.2


def test_compute_metrics_keys_by_node_id_in_its_own_executor() -> None:
    hub, a, b, c = (uuid.uuid4() for _ in range(4))
    edges = [(hub, a, 0.9), (hub, b, 0.8), (hub, c, 0.85)]
    metrics = asyncio.run(compute_metrics_async([hub, a, b, c], edges))
    assert metrics == compute_metrics([hub, a, b, c], edges)
    assert metrics[hub].betweenness == pytest.approx(1.0)
    assert sum(value.pagerank for value in metrics.values()) == pytest.approx(1.0)
    assert compute_metrics([], []) == {}


def test_metrics_run_in_their_own_bounded_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from app.services.graph import metrics

    assert metrics.METRICS_EXECUTOR._max_workers == 1
    seen: list[str] = []

    def record(node_ids: object, edges: object) -> dict[uuid.UUID, metrics.NodeMetrics]:
        seen.append(threading.current_thread().name)
        return {}

    monkeypatch.setattr(metrics, "compute_metrics", record)
    asyncio.run(compute_metrics_async([], []))
    assert seen and seen[0].startswith("graph-metrics")
