// Pure layout of the session graph: where nodes sit and which ones carry a label. No DOM here, so
// the rules (fit to the canvas, stability across updates, labels that never overlap) are unit
// tested and the canvas component only draws.
import {
  forceCollide,
  forceLink,
  forceManyBody,
  forceSimulation,
  forceX,
  forceY,
  type SimulationLinkDatum,
  type SimulationNodeDatum,
} from 'd3-force';

export interface Point {
  x: number;
  y: number;
}

export interface Size {
  width: number;
  height: number;
}

export interface LayoutInput {
  id: string;
  radius: number;
}

export interface LayoutLink {
  source: string;
  target: string;
  value: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Room kept free along the canvas edges, so no node is drawn cut off. */
export const EDGE_PADDING = 8;
const FIRST_TICKS = 300;
const UPDATE_TICKS = 90;
// Small graphs are spaced as if they had this many nodes: growing from 5 to 50 nodes then does not
// shrink every distance at each update.
const SPACING_MIN_NODES = 50;
// How hard an existing node is held at its previous place: enough that a batch of new nodes moves
// the old ones a few pixels, not enough to freeze a layout that needs to make room.
const ANCHOR_STRENGTH = 0.6;
const PINNED_SHARE = 0.85;

interface SimNode extends SimulationNodeDatum {
  id: string;
  radius: number;
  anchor: Point | null;
}

/** A small deterministic generator (mulberry32): the same graph always gets the same picture. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let value = 2166136261;
  for (let i = 0; i < text.length; i += 1) value = Math.imul(value ^ text.charCodeAt(i), 16777619);
  return value >>> 0;
}

function clampInto(point: Point, radius: number, size: Size): Point {
  const pad = radius + EDGE_PADDING;
  return {
    x: Math.max(pad, Math.min(size.width - pad, point.x)),
    y: Math.max(pad, Math.min(size.height - pad, point.y)),
  };
}

/** Positions scaled to a resized canvas (the panel got wider or narrower). */
export function rescale(positions: Map<string, Point>, from: Size, to: Size): Map<string, Point> {
  if (from.width === to.width && from.height === to.height) return positions;
  const sx = to.width / (from.width || to.width);
  const sy = to.height / (from.height || to.height);
  return new Map([...positions].map(([id, point]) => [id, { x: point.x * sx, y: point.y * sy }]));
}

/** Where a node that just appeared starts: beside its already placed neighbours, else near the centre. */
function entryPoint(id: string, neighbours: Point[], size: Size): Point {
  const random = seededRandom(hash(id));
  const angle = random() * 2 * Math.PI;
  if (neighbours.length) {
    const cx = neighbours.reduce((sum, point) => sum + point.x, 0) / neighbours.length;
    const cy = neighbours.reduce((sum, point) => sum + point.y, 0) / neighbours.length;
    return { x: cx + 14 * Math.cos(angle), y: cy + 14 * Math.sin(angle) };
  }
  const spread = 0.3 * Math.min(size.width, size.height) * Math.sqrt(random());
  return { x: size.width / 2 + spread * Math.cos(angle), y: size.height / 2 + spread * Math.sin(angle) };
}

/**
 * Positions for every node inside `size`. Nodes in `previous` are held near their place; new ones
 * start beside their neighbours; the spacing shrinks with the node count so 200 nodes still fit.
 */
export function layoutGraph(
  nodes: LayoutInput[],
  links: LayoutLink[],
  previous: Map<string, Point>,
  size: Size,
): Map<string, Point> {
  if (!nodes.length || size.width <= 0 || size.height <= 0) return new Map();
  const ids = new Set(nodes.map((node) => node.id));
  const usable = links.filter((link) => ids.has(link.source) && ids.has(link.target) && link.source !== link.target);
  const neighbours = new Map<string, string[]>();
  for (const link of usable) {
    neighbours.set(link.source, [...(neighbours.get(link.source) ?? []), link.target]);
    neighbours.set(link.target, [...(neighbours.get(link.target) ?? []), link.source]);
  }

  const placed = new Map<string, Point>();
  for (const node of nodes) {
    const kept = previous.get(node.id);
    if (kept) placed.set(node.id, clampInto(kept, node.radius, size));
  }
  const simNodes: SimNode[] = nodes.map((node) => {
    const anchor = placed.get(node.id) ?? null;
    const start =
      anchor ??
      entryPoint(
        node.id,
        (neighbours.get(node.id) ?? []).flatMap((other) => placed.get(other) ?? []),
        size,
      );
    return { id: node.id, radius: node.radius, anchor, x: start.x, y: start.y };
  });

  // About the side of the square each node gets on the canvas: links and repulsion scale with it.
  const spacing = Math.max(10, Math.min(70, 0.75 * Math.sqrt((size.width * size.height) / Math.max(nodes.length, SPACING_MIN_NODES))));
  const centre = { x: size.width / 2, y: size.height / 2 };
  const simulation = forceSimulation<SimNode, SimulationLinkDatum<SimNode>>(simNodes)
    .randomSource(seededRandom(nodes.length))
    .force(
      'link',
      forceLink<SimNode, SimulationLinkDatum<SimNode>>(usable.map((link) => ({ ...link })))
        .id((node) => node.id)
        .distance(spacing)
        .strength(0.2),
    )
    .force('charge', forceManyBody<SimNode>().strength(-(spacing * spacing) / 12).distanceMax(spacing * 4))
    .force('collide', forceCollide<SimNode>().radius((node) => node.radius + 2))
    // Gravity towards the centre, stronger along the short axis, keeps the cloud on a wide canvas.
    .force('gravityX', forceX<SimNode>(centre.x).strength((node) => (node.anchor ? 0 : 0.04)))
    .force('gravityY', forceY<SimNode>(centre.y).strength((node) => (node.anchor ? 0 : 0.04 * (size.width / size.height))))
    .force('anchorX', forceX<SimNode>((node) => node.anchor?.x ?? centre.x).strength((node) => (node.anchor ? ANCHOR_STRENGTH : 0)))
    .force('anchorY', forceY<SimNode>((node) => node.anchor?.y ?? centre.y).strength((node) => (node.anchor ? ANCHOR_STRENGTH : 0)))
    .alpha(placed.size ? 0.2 : 1)
    .stop();

  // An update first lets the new nodes settle around the pinned old ones, then relaxes everything
  // briefly: old nodes move only as far as the last phase lets them.
  const ticks = placed.size ? UPDATE_TICKS : FIRST_TICKS;
  const pinnedTicks = placed.size ? Math.round(ticks * PINNED_SHARE) : 0;
  for (const node of simNodes) {
    if (node.anchor && pinnedTicks) {
      node.fx = node.anchor.x;
      node.fy = node.anchor.y;
    }
  }
  for (let i = 0; i < ticks; i += 1) {
    if (i === pinnedTicks) {
      for (const node of simNodes) {
        node.fx = null;
        node.fy = null;
      }
    }
    simulation.tick();
    // Walls, not a squeeze afterwards: a node reaching the edge stays there while the others
    // settle around it, instead of the whole cloud being scaled (which would move every node).
    for (const node of simNodes) {
      const inside = clampInto({ x: node.x ?? 0, y: node.y ?? 0 }, node.radius, size);
      node.x = inside.x;
      node.y = inside.y;
    }
  }
  return new Map(simNodes.map((node) => [node.id, { x: node.x ?? 0, y: node.y ?? 0 }]));
}

export interface LabelCandidate {
  id: string;
  x: number;
  y: number;
  radius: number;
  /** Width of the rendered text in px. */
  width: number;
}

function overlaps(a: Rect, b: Rect, gap = 2): boolean {
  return a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap;
}

function inside(rect: Rect, size: Size): boolean {
  return rect.x >= 0 && rect.y >= 0 && rect.x + rect.width <= size.width && rect.y + rect.height <= size.height;
}

/**
 * Labels for the most important nodes, in the order given (most important first), each placed
 * below, above, right or left of its node where it overlaps no other label, no labelled node and
 * stays on the canvas; a node without room gets no label (it is still a dot, listed in the table).
 */
export function placeLabels(candidates: LabelCandidate[], size: Size, maxLabels: number, lineHeight = 14): Map<string, Rect> {
  const placed = new Map<string, Rect>();
  const taken: Rect[] = [];
  const dots = candidates.slice(0, maxLabels * 2).map((node) => ({
    x: node.x - node.radius,
    y: node.y - node.radius,
    width: 2 * node.radius,
    height: 2 * node.radius,
  }));
  for (const node of candidates) {
    if (placed.size >= maxLabels) break;
    const { x, y, radius, width } = node;
    const options: Rect[] = [
      { x: x - width / 2, y: y + radius + 2, width, height: lineHeight },
      { x: x - width / 2, y: y - radius - 2 - lineHeight, width, height: lineHeight },
      { x: x + radius + 3, y: y - lineHeight / 2, width, height: lineHeight },
      { x: x - radius - 3 - width, y: y - lineHeight / 2, width, height: lineHeight },
    ];
    const fit = options.find(
      (rect) => inside(rect, size) && !taken.some((other) => overlaps(rect, other)) && !dots.some((dot) => overlaps(rect, dot, 0)),
    );
    if (!fit) continue;
    placed.set(node.id, fit);
    taken.push(fit);
  }
  return placed;
}

/** Mean distance the nodes present in both layouts moved. */
export function meanDisplacement(before: Map<string, Point>, after: Map<string, Point>): number {
  let total = 0;
  let count = 0;
  for (const [id, point] of after) {
    const old = before.get(id);
    if (!old) continue;
    total += Math.hypot(point.x - old.x, point.y - old.y);
    count += 1;
  }
  return count ? total / count : 0;
}

/** Zoom and pan of the canvas: screen = world * k + (x, y). */
export interface View {
  k: number;
  x: number;
  y: number;
}

export const IDENTITY_VIEW: View = { k: 1, x: 0, y: 0 };
export const MIN_ZOOM = 1;
export const MAX_ZOOM = 6;

/** Zooms by `factor` around the screen point (cx, cy), keeping the canvas covered. */
export function zoomAt(view: View, factor: number, cx: number, cy: number, size: Size): View {
  const k = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, view.k * factor));
  const ratio = k / view.k;
  return clampView({ k, x: cx - (cx - view.x) * ratio, y: cy - (cy - view.y) * ratio }, size);
}

/** Pans by (dx, dy) screen pixels. */
export function panBy(view: View, dx: number, dy: number, size: Size): View {
  return clampView({ ...view, x: view.x + dx, y: view.y + dy }, size);
}

/** Never pans the graph out of sight: the zoomed world always covers the canvas. */
export function clampView(view: View, size: Size): View {
  const minX = size.width - size.width * view.k;
  const minY = size.height - size.height * view.k;
  return { k: view.k, x: Math.min(0, Math.max(minX, view.x)), y: Math.min(0, Math.max(minY, view.y)) };
}

export function toScreen(point: Point, view: View): Point {
  return { x: point.x * view.k + view.x, y: point.y * view.k + view.y };
}

/** The node under a screen point (within its radius plus a few px of slack), topmost first. */
export function nodeAt(
  nodes: { id: string; radius: number }[],
  positions: Map<string, Point>,
  view: View,
  sx: number,
  sy: number,
  slack = 4,
): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const node of nodes) {
    const position = positions.get(node.id);
    if (!position) continue;
    const screen = toScreen(position, view);
    const distance = Math.hypot(screen.x - sx, screen.y - sy);
    if (distance <= node.radius * view.k + slack && distance < bestDistance) {
      best = node.id;
      bestDistance = distance;
    }
  }
  return best;
}

/** Linear blend between two layouts (t in 0..1), for the short settle animation. */
export function interpolate(from: Map<string, Point>, to: Map<string, Point>, t: number): Map<string, Point> {
  return new Map(
    [...to].map(([id, target]) => {
      const start = from.get(id) ?? target;
      return [id, { x: start.x + (target.x - start.x) * t, y: start.y + (target.y - start.y) * t }];
    }),
  );
}
