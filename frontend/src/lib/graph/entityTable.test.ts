import { describe, expect, it } from 'vitest';
import { DEFAULT_SORT, sortEntities, toggleSort, typesOf } from './entityTable';

const nodes = [
  { id: '1', label: 'work', type: 'topic', mentionCount: 3, pagerank: 0.2, weightedDegree: 1 },
  { id: '2', label: 'anxiety', type: 'emotion', mentionCount: 5, pagerank: 0.4, weightedDegree: 3 },
  { id: '3', label: 'Sleep', type: 'topic', mentionCount: 1, pagerank: 0.1, weightedDegree: 2 },
];

describe('entity table', () => {
  const all = new Set(['topic', 'emotion']);

  it('sorts by weight first, then by any column both ways', () => {
    expect(sortEntities(nodes, DEFAULT_SORT, all).map((n) => n.label)).toEqual(['anxiety', 'work', 'Sleep']);
    const byLabel = toggleSort(DEFAULT_SORT, 'label');
    expect(byLabel).toEqual({ key: 'label', direction: 'ascending' });
    expect(sortEntities(nodes, byLabel, all).map((n) => n.label)).toEqual(['anxiety', 'Sleep', 'work']);
    expect(sortEntities(nodes, toggleSort(byLabel, 'label'), all).map((n) => n.label)).toEqual(['work', 'Sleep', 'anxiety']);
    expect(sortEntities(nodes, toggleSort(DEFAULT_SORT, 'mentionCount'), all)[0]?.label).toBe('anxiety');
  });

  it('shows only the chosen types', () => {
    expect(sortEntities(nodes, DEFAULT_SORT, new Set(['topic'])).map((n) => n.id)).toEqual(['1', '3']);
  });

  it('offers the known types and any other present', () => {
    expect(typesOf([...nodes, { id: '4', label: 'x', type: 'person' }], ['topic', 'emotion', 'note'])).toEqual([
      'topic',
      'emotion',
      'note',
      'person',
    ]);
  });
});
