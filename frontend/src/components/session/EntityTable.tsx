'use client';

import { useState } from 'react';
import { DEFAULT_SORT, sortEntities, toggleSort, type EntitySort, type EntitySortKey } from '@/lib/graph/entityTable';
import type { GraphState } from '@/lib/graph/graphStore';
import { humanise } from '@/lib/format';

const COLUMNS: { key: EntitySortKey; title: string; numeric?: boolean }[] = [
  { key: 'label', title: 'Entity' },
  { key: 'type', title: 'Type' },
  { key: 'mentionCount', title: 'Mentions', numeric: true },
  { key: 'pagerank', title: 'Weight (PageRank)', numeric: true },
  { key: 'weightedDegree', title: 'Links (weighted)', numeric: true },
];

interface EntityTableProps {
  graph: GraphState;
  visibleTypes: ReadonlySet<string>;
  selectedId: string | null;
  onSelect: (id: string) => void;
}

/**
 * The graph as a table: what the canvas shows, for keyboard and screen-reader users. The scroll
 * container is focusable (axe scrollable-region-focusable) so arrow keys scroll it.
 */
export function EntityTable({ graph, visibleTypes, selectedId, onSelect }: EntityTableProps) {
  const [sort, setSort] = useState<EntitySort>(DEFAULT_SORT);
  const rows = sortEntities(graph.nodes.values(), sort, visibleTypes);
  if (graph.nodes.size === 0) return <p className="muted">Entities appear here as the patient speaks.</p>;
  return (
    <div className="table-scroll entity-table" role="region" aria-labelledby="entity-table-caption" tabIndex={0}>
      <table data-testid="graph-entities">
        <caption id="entity-table-caption" className="visually-hidden">
          Graph entities, {rows.length} shown
        </caption>
        <thead>
          <tr>
            {COLUMNS.map((column) => (
              <th
                key={column.key}
                scope="col"
                aria-sort={sort.key === column.key ? sort.direction : undefined}
                className={column.numeric ? 'numeric' : undefined}
              >
                <button type="button" className="sort-button" onClick={() => setSort((current) => toggleSort(current, column.key))}>
                  {column.title}
                  <span aria-hidden="true">{sort.key === column.key ? (sort.direction === 'ascending' ? ' ▲' : ' ▼') : ''}</span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((node) => (
            <tr key={node.id} data-node-type={node.type} aria-selected={node.id === selectedId ? true : undefined}>
              <th scope="row">
                <button type="button" className="link-button" onClick={() => onSelect(node.id)} aria-pressed={node.id === selectedId}>
                  {node.label}
                </button>
              </th>
              <td>{humanise(node.type)}</td>
              <td className="numeric">{node.mentionCount ?? 1}</td>
              <td className="numeric">{(node.pagerank ?? 0).toFixed(3)}</td>
              <td className="numeric">{(node.weightedDegree ?? 0).toFixed(2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
