"""Graph metrics: weighted degree, PageRank and betweenness centrality, with numpy/scipy.

- **Weighted degree**: the sum of similarities at each node (exact; networkx's
  `degree(weight="weight")`).
- **PageRank**: power iteration on a `scipy.sparse` matrix, damping 0.85, dangling nodes spread
  their rank uniformly (networkx's algorithm), iterated until the L1 change is below
  `n * 1e-12`, so it agrees with networkx's exact PageRank far inside 1e-6.
- **Betweenness** over shortest paths with distance = 1 - similarity, normalised as networkx's
  `betweenness_centrality(normalized=True)`. Brandes' accumulation from a set of source nodes:
  `scipy.sparse.csgraph.dijkstra` gives every source's distances and predecessors; where the
  shortest paths from a source are unique (real-valued similarities: nearly always) they form a
  tree and a source's dependency on `v` is the size of `v`'s subtree minus one, accumulated for
  all sources at once in numpy. A source with tied shortest paths is recomputed by the classic
  single-source Brandes (path counts) in Python, so ties are exact too.

  **Sources and error bound.** Graphs of up to `EXACT_BETWEENNESS_NODES` nodes (a real session
  has under 80 after the extractor's merging) use every node as a source: exact. Larger graphs
  use k = `betweenness_sample_size(n)` sources drawn uniformly without replacement (seeded, so
  reproducible) and scale by n/k (Brandes & Pich 2007; networkx's `k=`). Each source adds a
  term in [0, 1] to the mean that is the normalised betweenness (δ_s(v) ≤ n - 2), so
  Hoeffding's inequality (which holds for sampling without replacement too) and a union bound
  over the n nodes give, with probability ≥ 1 - δ for all nodes at once:

      |b̂(v) - b(v)| ≤ ε(n, k) = n/(n-1) · sqrt(ln(2n/δ) / (2k)),  δ = 0.01

  (`betweenness_error_bound`). With n = 2,000 and k = 300: ε ≈ 0.147 in normalised units;
  actual errors are orders of magnitude smaller (tests/backend/test_graph_metrics.py checks both).

Everything runs in `METRICS_EXECUTOR`, a one-thread executor of its own (not the default pool
that hashes passwords); numpy/scipy import on first use there, not at start-up.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import uuid
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class NodeMetrics:
    weighted_degree: float
    pagerank: float
    betweenness: float


DAMPING = 0.85
PAGERANK_TOLERANCE = 1.0e-12
PAGERANK_MAX_ITERATIONS = 1000
EXACT_BETWEENNESS_NODES = 300
BETWEENNESS_SAMPLE = 300
BETWEENNESS_CONFIDENCE_DELTA = 0.01
BETWEENNESS_SEED = 20_260_512
MIN_DISTANCE = 1e-6

# One computation at a time per process; sessions queue behind each other (coalesced upstream).
METRICS_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-metrics")

N = TypeVar("N", bound=Hashable)


def betweenness_sample_size(node_count: int) -> int:
    """Sources used for betweenness: all of them (exact) up to EXACT_BETWEENNESS_NODES."""
    if node_count <= EXACT_BETWEENNESS_NODES:
        return node_count
    return min(node_count, BETWEENNESS_SAMPLE)


def betweenness_error_bound(
    node_count: int, sources: int, delta: float = BETWEENNESS_CONFIDENCE_DELTA
) -> float:
    """ε such that every node's normalised betweenness is within ε with probability ≥ 1 - δ."""
    if sources >= node_count or node_count < 3:
        return 0.0
    scale = node_count / (node_count - 1)
    return scale * math.sqrt(math.log(2 * node_count / delta) / (2 * sources))


def _graph_arrays(
    count: int, index_edges: Sequence[tuple[int, int, float]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    import numpy as np

    unique: dict[tuple[int, int], float] = {}
    for i, j, weight in index_edges:
        if i == j:
            continue  # the store never has self-loops
        unique[(i, j) if i < j else (j, i)] = float(weight)  # last one wins, as networkx
    if not unique:
        empty_i = np.zeros(0, dtype=np.int64)
        return empty_i, empty_i.copy(), np.zeros(0, dtype=np.float64)
    pairs = np.array(list(unique.keys()), dtype=np.int64)
    weights = np.array(list(unique.values()), dtype=np.float64)
    del count
    return pairs[:, 0], pairs[:, 1], weights


def pagerank_array(
    count: int,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    import numpy as np
    import scipy.sparse as sp  # type: ignore[import-untyped]  # no stubs shipped

    matrix = sp.csr_array(
        (
            np.concatenate([weights, weights]),
            (np.concatenate([rows, cols]), np.concatenate([cols, rows])),
        ),
        shape=(count, count),
    )
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    dangling = strength == 0
    inverse = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, strength))
    transition = (sp.diags_array(inverse) @ matrix).T.tocsr()  # column-stochastic
    rank = np.full(count, 1.0 / count)
    for _ in range(PAGERANK_MAX_ITERATIONS):
        previous = rank
        rank = (
            DAMPING * (transition @ rank + rank[dangling].sum() / count) + (1.0 - DAMPING) / count
        )
        if np.abs(rank - previous).sum() < count * PAGERANK_TOLERANCE:
            break
    result: npt.NDArray[np.float64] = rank / rank.sum()
    return result


def _brandes_single_source(
    source: int, adjacency: list[list[tuple[int, float]]], into: npt.NDArray[np.float64]
) -> None:
    """Weighted Brandes from one source (networkx's algorithm), for tied shortest paths."""
    count = len(adjacency)
    sigma = [0.0] * count
    sigma[source] = 1.0
    dist: dict[int, float] = {}
    seen = {source: 0.0}
    preds: list[list[int]] = [[] for _ in range(count)]
    order: list[int] = []
    heap: list[tuple[float, int, int, int]] = [(0.0, 0, source, source)]
    counter = 1
    while heap:
        d, _, pred, v = heapq.heappop(heap)
        if v in dist:
            continue
        sigma[v] += sigma[pred] if pred != v else 0.0
        order.append(v)
        dist[v] = d
        for w, length in adjacency[v]:
            vw = d + length
            if w not in dist and (w not in seen or vw < seen[w]):
                seen[w] = vw
                heapq.heappush(heap, (vw, counter, v, w))
                counter += 1
                sigma[w] = 0.0
                preds[w] = [v]
            elif vw == seen[w]:
                sigma[w] += sigma[v]
                preds[w].append(v)
    delta = [0.0] * count
    for w in reversed(order):
        coefficient = (1.0 + delta[w]) / sigma[w]
        for v in preds[w]:
            delta[v] += sigma[v] * coefficient
        if w != source:
            into[w] += delta[w]


def betweenness_array(
    count: int,
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    distances: npt.NDArray[np.float64],
    sources: int | None = None,
    seed: int = BETWEENNESS_SEED,
) -> npt.NDArray[np.float64]:
    """Normalised betweenness from `sources` sources (None: betweenness_sample_size)."""
    import numpy as np
    import scipy.sparse as sp

    result = np.zeros(count, dtype=np.float64)
    if count < 3 or rows.size == 0:
        return result
    k = betweenness_sample_size(count) if sources is None else min(sources, count)
    if k >= count:
        chosen = np.arange(count)
    else:
        chosen = np.sort(np.random.default_rng(seed).choice(count, size=k, replace=False))
    graph = sp.csr_array(
        (
            np.concatenate([distances, distances]),
            (np.concatenate([rows, cols]), np.concatenate([cols, rows])),
        ),
        shape=(count, count),
    )
    tail = np.concatenate([rows, cols])
    head = np.concatenate([cols, rows])
    length = np.concatenate([distances, distances])
    adjacency: list[list[tuple[int, float]]] | None = None
    batch = max(1, min(len(chosen), 4_000_000 // max(count, tail.size)))
    for start in range(0, len(chosen), batch):
        block = chosen[start : start + batch]
        dist, pred = sp.csgraph.dijkstra(
            graph, directed=True, indices=block, return_predecessors=True
        )
        reachable = np.isfinite(dist)
        # Tight edges (on some shortest path): a tree has exactly reachable - 1 of them.
        tight = (dist[:, tail] + length[None, :]) == dist[:, head]
        tied = tight.sum(axis=1) != reachable.sum(axis=1) - 1
        if tied.any():
            if adjacency is None:
                adjacency = [[] for _ in range(count)]
                for u, v, w in zip(tail.tolist(), head.tolist(), length.tolist(), strict=True):
                    adjacency[u].append((v, w))
            for source in block[tied].tolist():
                _brandes_single_source(int(source), adjacency, result)
        tree = ~tied
        if not tree.any():
            continue
        dist_t = np.where(reachable[tree], dist[tree], np.inf)
        pred_t = pred[tree]
        size = reachable[tree].astype(np.float64)  # each reachable node counts itself
        order = np.argsort(dist_t, axis=1, kind="stable")
        lines = np.arange(size.shape[0])
        for position in range(count - 1, 0, -1):
            nodes = order[:, position]
            parents = pred_t[lines, nodes]
            valid = parents >= 0
            # One node per line at each position: plain fancy indexing, no duplicate targets.
            size[lines[valid], parents[valid]] += size[lines[valid], nodes[valid]]
        dependency = size - 1.0  # subtree size minus the node itself
        dependency[~reachable[tree]] = 0.0
        dependency[np.arange(size.shape[0]), block[tree]] = 0.0  # the source itself
        result += dependency.sum(axis=0)
    scale = 1.0 / ((count - 1) * (count - 2)) * (count / len(chosen))
    scaled: npt.NDArray[np.float64] = result * scale
    return scaled


def metrics_by_index(
    count: int, index_edges: Sequence[tuple[int, int, float]], sources: int | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(weighted degree, pagerank, betweenness) for nodes 0..count-1."""
    import numpy as np

    rows, cols, weights = _graph_arrays(count, index_edges)
    degree = np.zeros(count, dtype=np.float64)
    np.add.at(degree, rows, weights)
    np.add.at(degree, cols, weights)
    pagerank = pagerank_array(count, rows, cols, weights)
    distances = np.maximum(1.0 - weights, MIN_DISTANCE)
    betweenness = betweenness_array(count, rows, cols, distances, sources)
    return degree, pagerank, betweenness


def compute_metrics(
    node_ids: Sequence[N], edges: Sequence[tuple[N, N, float]]
) -> dict[N, NodeMetrics]:
    """CPU-bound: callers run it in METRICS_EXECUTOR (`compute_metrics_async`)."""
    index: dict[N, int] = {}
    for node in node_ids:
        index.setdefault(node, len(index))
    for source, target, _ in edges:
        index.setdefault(source, len(index))
        index.setdefault(target, len(index))
    if not index:
        return {}
    index_edges = [(index[s], index[t], float(w)) for s, t, w in edges]
    degree, pagerank, betweenness = metrics_by_index(len(index), index_edges)
    return {
        node: NodeMetrics(
            weighted_degree=float(degree[i]),
            pagerank=float(pagerank[i]),
            betweenness=float(betweenness[i]),
        )
        for node, i in index.items()
    }


async def compute_metrics_async(
    node_ids: Sequence[uuid.UUID], edges: Sequence[tuple[uuid.UUID, uuid.UUID, float]]
) -> dict[uuid.UUID, NodeMetrics]:
    loop = asyncio.get_running_loop()
    result: dict[uuid.UUID, NodeMetrics] = await loop.run_in_executor(
        METRICS_EXECUTOR, compute_metrics, node_ids, edges
    )
    return result


__all__ = [
    "NodeMetrics",
    "betweenness_error_bound",
    "betweenness_sample_size",
    "compute_metrics",
    "compute_metrics_async",
]
