import { describe, expect, it } from 'vitest';
import {
  clampView,
  EDGE_PADDING,
  interpolate,
  layoutGraph,
  meanDisplacement,
  nodeAt,
  panBy,
  placeLabels,
  rescale,
  seededRandom,
  zoomAt,
  type LayoutInput,
  type LayoutLink,
  type Point,
  type Rect,
} from './layout';

const SIZE = { width: 800, height: 460 };

/** A session-like graph growing in 15 batches to `total` nodes, each new node linked to 1-3 others. */
function growingGraph(total: number, batches: number) {
  const random = seededRandom(7);
  const nodes: LayoutInput[] = [];
  const links: LayoutLink[] = [];
  const steps: { nodes: LayoutInput[]; links: LayoutLink[] }[] = [];
  const perBatch = Math.ceil(total / batches);
  for (let batch = 0; batch < batches; batch += 1) {
    for (let i = 0; i < perBatch && nodes.length < total; i += 1) {
      const id = `n${nodes.length}`;
      const linkCount = nodes.length ? 1 + Math.floor(random() * 3) : 0;
      for (let l = 0; l < linkCount; l += 1) {
        const other = nodes[Math.floor(random() * nodes.length)]!;
        links.push({ source: id, target: other.id, value: 0.5 + random() / 2 });
      }
      nodes.push({ id, radius: nodes.length < 20 ? 10 : 4 });
    }
    steps.push({ nodes: [...nodes], links: [...links] });
  }
  return steps;
}

function run(steps: ReturnType<typeof growingGraph>) {
  let positions = new Map<string, Point>();
  const moves: number[] = [];
  for (const step of steps) {
    const next = layoutGraph(step.nodes, step.links, positions, SIZE);
    if (positions.size) moves.push(meanDisplacement(positions, next));
    positions = next;
  }
  return { positions, moves };
}

function overlap(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('graph layout', () => {
  const steps = growingGraph(200, 15);
  const { positions, moves } = run(steps);
  const last = steps[steps.length - 1]!;

  it('places every one of 200 nodes inside the canvas', () => {
    expect(positions.size).toBe(200);
    for (const node of last.nodes) {
      const point = positions.get(node.id)!;
      expect(point.x - node.radius).toBeGreaterThanOrEqual(EDGE_PADDING - 1e-9);
      expect(point.x + node.radius).toBeLessThanOrEqual(SIZE.width - EDGE_PADDING + 1e-9);
      expect(point.y - node.radius).toBeGreaterThanOrEqual(EDGE_PADDING - 1e-9);
      expect(point.y + node.radius).toBeLessThanOrEqual(SIZE.height - EDGE_PADDING + 1e-9);
    }
  });

  it('does not pile nodes against the edges', () => {
    const atEdge = last.nodes.filter((node) => {
      const { x, y } = positions.get(node.id)!;
      const pad = node.radius + EDGE_PADDING + 0.5;
      return x <= pad || y <= pad || x >= SIZE.width - pad || y >= SIZE.height - pad;
    });
    expect(atEdge.length).toBeLessThan(20); // the issue saw 50 of 159 pinned to the edges
  });

  it('keeps existing nodes in place as the graph grows (mean move < 20 px per update)', () => {
    expect(moves).toHaveLength(14);
    const mean = moves.reduce((sum, move) => sum + move, 0) / moves.length;
    expect(mean).toBeLessThan(20);
  });

  it('is deterministic', () => {
    expect(run(steps).positions).toEqual(positions);
  });

  it('starts a new node next to its neighbour', () => {
    const base = layoutGraph([{ id: 'a', radius: 5 }, { id: 'b', radius: 5 }], [], new Map(), SIZE);
    const grown = layoutGraph(
      [{ id: 'a', radius: 5 }, { id: 'b', radius: 5 }, { id: 'c', radius: 5 }],
      [{ source: 'c', target: 'a', value: 1 }],
      base,
      SIZE,
    );
    const c = grown.get('c')!;
    const toA = Math.hypot(c.x - grown.get('a')!.x, c.y - grown.get('a')!.y);
    const toB = Math.hypot(c.x - grown.get('b')!.x, c.y - grown.get('b')!.y);
    expect(toA).toBeLessThan(toB);
  });

  it('scales positions with the canvas', () => {
    const scaled = rescale(new Map([['a', { x: 100, y: 50 }]]), SIZE, { width: 400, height: 460 });
    expect(scaled.get('a')).toEqual({ x: 50, y: 50 });
  });
});

describe('labels', () => {
  it('never overlap, stay on the canvas and go to the most important nodes first', () => {
    const random = seededRandom(3);
    const candidates = Array.from({ length: 200 }, (_, i) => ({
      id: `n${i}`,
      x: 20 + random() * 760,
      y: 20 + random() * 420,
      radius: 5,
      width: 40 + random() * 60,
    }));
    const labels = placeLabels(candidates, SIZE, 30);
    expect(labels.size).toBeGreaterThan(10);
    expect(labels.size).toBeLessThanOrEqual(30);
    expect(labels.has('n0')).toBe(true);
    const rects = [...labels.values()];
    for (const rect of rects) {
      expect(rect.x).toBeGreaterThanOrEqual(0);
      expect(rect.y).toBeGreaterThanOrEqual(0);
      expect(rect.x + rect.width).toBeLessThanOrEqual(SIZE.width);
      expect(rect.y + rect.height).toBeLessThanOrEqual(SIZE.height);
    }
    for (let i = 0; i < rects.length; i += 1) {
      for (let j = i + 1; j < rects.length; j += 1) expect(overlap(rects[i]!, rects[j]!)).toBe(false);
    }
  });

  it('leave out a node whose label has no room', () => {
    const labels = placeLabels(
      [
        { id: 'a', x: 100, y: 100, radius: 5, width: 300 },
        { id: 'b', x: 100, y: 100, radius: 5, width: 300 },
      ],
      SIZE,
      10,
    );
    expect([...labels.keys()]).toEqual(['a']);
  });
});

describe('zoom and pan', () => {
  it('zooms around the pointer and never shows past the graph', () => {
    const view = zoomAt({ k: 1, x: 0, y: 0 }, 2, 400, 230, SIZE);
    expect(view).toEqual({ k: 2, x: -400, y: -230 });
    expect(zoomAt(view, 0.1, 0, 0, SIZE)).toEqual({ k: 1, x: 0, y: 0 });
    expect(panBy(view, 1000, 0, SIZE).x).toBe(0);
    expect(clampView({ k: 2, x: -5000, y: 0 }, SIZE).x).toBe(-800);
  });

  it('finds the node under the pointer in the zoomed view', () => {
    const positions = new Map([
      ['a', { x: 100, y: 100 }],
      ['b', { x: 300, y: 100 }],
    ]);
    const nodes = [
      { id: 'a', radius: 5 },
      { id: 'b', radius: 5 },
    ];
    expect(nodeAt(nodes, positions, { k: 2, x: -100, y: 0 }, 100, 200)).toBe('a');
    expect(nodeAt(nodes, positions, { k: 1, x: 0, y: 0 }, 200, 100)).toBeNull();
  });

  it('interpolates from the old layout to the new one', () => {
    const mid = interpolate(new Map([['a', { x: 0, y: 0 }]]), new Map([['a', { x: 10, y: 20 }], ['b', { x: 1, y: 1 }]]), 0.5);
    expect(mid.get('a')).toEqual({ x: 5, y: 10 });
    expect(mid.get('b')).toEqual({ x: 1, y: 1 });
  });
});
