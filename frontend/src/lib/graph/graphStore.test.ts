import { describe, expect, it } from 'vitest';
import { applyBatch, applyMetrics, applySnapshot, emptyGraph, linkKey, nodeRadius, rankedNodes } from './graphStore';

const topic = (id: string, extra = {}) => ({ id, label: id.toUpperCase(), type: 'topic', ...extra });

describe('graph store', () => {
  it('replaces everything on a snapshot and keeps each undirected link once', () => {
    const state = applySnapshot({
      nodes: [topic('work'), topic('sleep')],
      links: [
        { source: 'work', target: 'sleep', value: 0.8 },
        { source: 'sleep', target: 'work', value: 0.9 },
      ],
    });
    expect([...state.nodes.keys()]).toEqual(['work', 'sleep']);
    expect(state.links.size).toBe(1);
    expect(state.links.get(linkKey('work', 'sleep'))?.value).toBe(0.9);
  });

  it('upserts batch nodes and edges without mutating the previous state', () => {
    const before = applySnapshot({ nodes: [topic('work', { mentionCount: 1 })], links: [] });
    const after = applyBatch(before, {
      nodes: [topic('work', { mentionCount: 2 }), { id: 'anxiety', label: 'anxiety', type: 'emotion' }],
      edges: [{ source: 'work', target: 'anxiety', similarity: 0.77 }],
    });
    expect(before.nodes.size).toBe(1);
    expect(after.nodes.get('work')?.mentionCount).toBe(2);
    expect(after.nodes.get('anxiety')?.type).toBe('emotion');
    expect(after.links.get(linkKey('anxiety', 'work'))?.value).toBe(0.77);
  });

  it('drops links to unknown nodes and self-links', () => {
    const state = applyBatch(emptyGraph(), {
      nodes: [topic('a')],
      edges: [
        { source: 'a', target: 'ghost' },
        { source: 'a', target: 'a' },
      ],
    });
    expect(state.links.size).toBe(0);
  });

  it('applies metrics to known nodes only, and ranks by PageRank', () => {
    const state = applySnapshot({ nodes: [topic('a'), topic('b')], links: [] });
    const updated = applyMetrics(state, {
      nodes: [
        { id: 'b', pagerank: 0.7, betweenness: 0.2, weightedDegree: 1.5 },
        { id: 'ghost', pagerank: 0.9 },
      ],
    });
    expect(updated.nodes.has('ghost')).toBe(false);
    expect(updated.nodes.get('b')).toMatchObject({ pagerank: 0.7, betweenness: 0.2, weightedDegree: 1.5 });
    expect(rankedNodes(updated).map((n) => n.id)).toEqual(['b', 'a']);
  });

  it('sizes nodes by PageRank within bounds', () => {
    expect(nodeRadius(undefined, 1)).toBe(5);
    expect(nodeRadius(1, 1)).toBe(18);
    expect(nodeRadius(0.25, 1)).toBeCloseTo(11.5);
    expect(nodeRadius(5, 1)).toBe(18);
  });
});
