"""Graph metrics benchmark: prints figures beside their floor, asserts nothing.

    .venv/bin/python bench/backend/graph_bench.py [--sizes 300 2000] [--repeat 3] [--exact-full]

For each size n (3n edges, similarities uniform in [0.75, 1], fixed seed) it times
`app.services.graph.metrics.compute_metrics` (weighted degree + PageRank + betweenness: exact up
to 300 nodes, k = 300 sampled sources above) and, on the same graph in the same run, the floor:
networkx's exact degree + `pagerank` + `betweenness_centrality`. Exact betweenness at 2,000
nodes takes over a minute here, so unless --exact-full is given it is timed from 100 sources
(networkx's `k=100`) and extrapolated linearly (n/100 x; Brandes' cost is per source) — the
output says so. A second floor, bare scipy: `csgraph.dijkstra` from the same k sources plus the
same PageRank iteration, the work no Brandes variant can skip (ratio: our accumulation's cost
on top). It also prints the largest betweenness error against the exact values (networkx's
where timed in full, else ours from all n sources, which the tests hold equal to networkx's)
beside the stated bound, and how much a metrics run in its thread slows a pure Python loop on
the main thread (the event loop's share of the GIL).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "backend"))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # type: ignore[import-untyped]  # noqa: E402
from app.services.graph.metrics import (  # noqa: E402
    BETWEENNESS_SEED,
    METRICS_EXECUTOR,
    MIN_DISTANCE,
    betweenness_error_bound,
    betweenness_sample_size,
    metrics_by_index,
    pagerank_array,
)

SUBSET_SOURCES = 100


def random_graph(nodes: int, edges: int, seed: int) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    found: dict[tuple[int, int], float] = {}
    while len(found) < edges:
        a, b = rng.randrange(nodes), rng.randrange(nodes)
        if a != b:
            found[(min(a, b), max(a, b))] = rng.uniform(0.75, 1.0)
    return [(a, b, w) for (a, b), w in found.items()]


def networkx_graph(nodes: int, edges: list[tuple[int, int, float]]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(nodes))
    for a, b, w in edges:
        graph.add_edge(a, b, weight=w, distance=max(1.0 - w, 1e-6))
    return graph


def scipy_floor(nodes: int, edges: list[tuple[int, int, float]], sources: int) -> None:
    """Shortest paths from the same sources and the same PageRank, nothing accumulated."""
    rows = np.array([a for a, _, _ in edges], dtype=np.int64)
    cols = np.array([b for _, b, _ in edges], dtype=np.int64)
    weights = np.array([w for _, _, w in edges], dtype=np.float64)
    pagerank_array(nodes, rows, cols, weights)
    distances = np.maximum(1.0 - weights, MIN_DISTANCE)
    graph = sp.csr_array(
        (
            np.concatenate([distances, distances]),
            (np.concatenate([rows, cols]), np.concatenate([cols, rows])),
        ),
        shape=(nodes, nodes),
    )
    rng = np.random.default_rng(BETWEENNESS_SEED)
    chosen = (
        np.arange(nodes) if sources >= nodes else rng.choice(nodes, size=sources, replace=False)
    )
    sp.csgraph.dijkstra(graph, directed=True, indices=np.sort(chosen), return_predecessors=True)


def timed(function: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def loop_rate(seconds: float) -> float:
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        count += 1
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exact-full", action="store_true", help="time exact betweenness fully")
    args = parser.parse_args()
    metrics_by_index(10, random_graph(10, 20, 1))  # imports numpy/scipy outside the timing
    print(
        f"{'nodes':>6} {'edges':>6} {'ours s':>8} {'networkx s':>10} {'ratio':>7}"
        f" {'scipy s':>8} {'ratio':>6}  notes"
    )
    for nodes in args.sizes:
        edges = random_graph(nodes, 3 * nodes, seed=nodes)
        graph = networkx_graph(nodes, edges)
        ours = timed(lambda: metrics_by_index(nodes, edges), args.repeat)  # noqa: B023
        _, _, betweenness = metrics_by_index(nodes, edges)
        start = time.perf_counter()
        dict(graph.degree(weight="weight"))
        nx.pagerank(graph, weight="weight")
        floor_rest = time.perf_counter() - start
        notes = []
        exact: dict[int, float] | None = None
        if args.exact_full or nodes <= 500:
            start = time.perf_counter()
            exact = nx.betweenness_centrality(graph, weight="distance", normalized=True)
            floor_betweenness = time.perf_counter() - start
        else:
            start = time.perf_counter()
            nx.betweenness_centrality(
                graph, k=SUBSET_SOURCES, seed=1, weight="distance", normalized=True
            )
            floor_betweenness = (time.perf_counter() - start) * nodes / SUBSET_SOURCES
            notes.append(f"floor betweenness: {SUBSET_SOURCES} sources x {nodes / 100:g}")
        floor = floor_rest + floor_betweenness
        k = betweenness_sample_size(nodes)
        bare = timed(lambda: scipy_floor(nodes, edges, k), args.repeat)  # noqa: B023
        bound = betweenness_error_bound(nodes, k)
        notes.append(f"k={k} sources, bound eps={bound:.3g}")
        if exact is None and k < nodes:
            _, _, all_sources = metrics_by_index(nodes, edges, sources=nodes)
            exact = {n: float(all_sources[n]) for n in range(nodes)}
            notes.append("exact = ours from all sources")
        if exact is not None:
            error = max(abs(betweenness[n] - exact[n]) for n in range(nodes))
            peak = max(exact.values())
            notes.append(f"max betweenness error {error:.2g} (largest value {peak:.3g})")
        print(
            f"{nodes:>6} {len(edges):>6} {ours:>8.3f} {floor:>10.2f} {ours / floor:>7.4f}"
            f" {bare:>8.3f} {ours / bare:>6.2f}  " + "; ".join(notes)
        )
    # GIL: how fast does the main thread still loop while a 2,000-node run is in its thread?
    nodes = max(args.sizes)
    edges = random_graph(nodes, 3 * nodes, seed=nodes)
    alone = loop_rate(0.5)
    done = threading.Event()
    future = METRICS_EXECUTOR.submit(metrics_by_index, nodes, edges)
    future.add_done_callback(lambda _: done.set())
    count, start = 0, time.perf_counter()
    while not done.is_set():
        count += 1
    shared = count / (time.perf_counter() - start)
    print(
        f"main-thread Python loop during a {nodes}-node run: {shared / alone:.2f} of its rate alone"
    )


if __name__ == "__main__":
    main()
