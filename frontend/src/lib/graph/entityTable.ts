// Sorting and filtering of the entity table, the accessible alternative to the canvas.
import type { GraphNode } from '../types';

export type EntitySortKey = 'label' | 'type' | 'mentionCount' | 'pagerank' | 'weightedDegree';
export type SortDirection = 'ascending' | 'descending';

export interface EntitySort {
  key: EntitySortKey;
  direction: SortDirection;
}

export const DEFAULT_SORT: EntitySort = { key: 'pagerank', direction: 'descending' };

/** Text columns start A→Z, figures start at the largest. */
export function toggleSort(current: EntitySort, key: EntitySortKey): EntitySort {
  if (current.key === key) return { key, direction: current.direction === 'ascending' ? 'descending' : 'ascending' };
  return { key, direction: key === 'label' || key === 'type' ? 'ascending' : 'descending' };
}

function value(node: GraphNode, key: EntitySortKey): string | number {
  if (key === 'label' || key === 'type') return node[key].toLocaleLowerCase();
  return node[key] ?? 0;
}

/** Nodes of the visible types in the chosen order; ties fall back to PageRank, then label. */
export function sortEntities(nodes: Iterable<GraphNode>, sort: EntitySort, visibleTypes: ReadonlySet<string>): GraphNode[] {
  const sign = sort.direction === 'ascending' ? 1 : -1;
  return [...nodes]
    .filter((node) => visibleTypes.has(node.type))
    .sort((a, b) => {
      const x = value(a, sort.key);
      const y = value(b, sort.key);
      const primary = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sign * primary || (b.pagerank ?? 0) - (a.pagerank ?? 0) || a.label.localeCompare(b.label);
    });
}

/** The types a filter offers: the known ones first, then any other type present in the graph. */
export function typesOf(nodes: Iterable<GraphNode>, known: readonly string[]): string[] {
  const present = new Set([...nodes].map((node) => node.type));
  return [...known, ...[...present].filter((type) => !known.includes(type)).sort()];
}
