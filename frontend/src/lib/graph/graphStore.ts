// Pure merge logic for the live graph: the Socket.IO events (graph_state, graph_batch_update,
// metrics_updated) arrive in any order and may repeat, so every update is an idempotent upsert.
import type { GraphLink, GraphNode, GraphSnapshot } from '../types';

export interface GraphState {
  nodes: Map<string, GraphNode>;
  links: Map<string, GraphLink>;
}

export function emptyGraph(): GraphState {
  return { nodes: new Map(), links: new Map() };
}

/** Undirected: (a, b) and (b, a) are the same link. */
export function linkKey(source: string, target: string): string {
  return source < target ? `${source}|${target}` : `${target}|${source}`;
}

interface IncomingLink {
  source?: unknown;
  target?: unknown;
  value?: unknown;
  similarity?: unknown;
}

function endpointId(endpoint: unknown): string | null {
  if (typeof endpoint === 'string') return endpoint;
  if (endpoint && typeof endpoint === 'object' && 'id' in endpoint) return String((endpoint as { id: unknown }).id);
  return null;
}

function normaliseLink(raw: IncomingLink): GraphLink | null {
  const source = endpointId(raw.source);
  const target = endpointId(raw.target);
  if (!source || !target || source === target) return null;
  const value = typeof raw.value === 'number' ? raw.value : typeof raw.similarity === 'number' ? raw.similarity : 1;
  return { source, target, value };
}

function upsertNodes(nodes: Map<string, GraphNode>, incoming: unknown): void {
  if (!Array.isArray(incoming)) return;
  for (const raw of incoming as Partial<GraphNode>[]) {
    if (!raw || typeof raw.id !== 'string') continue;
    const previous = nodes.get(raw.id);
    nodes.set(raw.id, {
      ...previous,
      ...raw,
      id: raw.id,
      label: raw.label ?? previous?.label ?? raw.id,
      type: raw.type ?? previous?.type ?? 'topic',
    });
  }
}

function upsertLinks(links: Map<string, GraphLink>, nodes: Map<string, GraphNode>, incoming: unknown): void {
  if (!Array.isArray(incoming)) return;
  for (const raw of incoming as IncomingLink[]) {
    const link = raw ? normaliseLink(raw) : null;
    // A link whose node has not arrived yet would crash the simulation; drop it.
    if (!link || !nodes.has(link.source) || !nodes.has(link.target)) continue;
    links.set(linkKey(link.source, link.target), link);
  }
}

/** `graph_state` (after join) replaces the whole graph. */
export function applySnapshot(snapshot: Partial<GraphSnapshot> & { edges?: unknown }): GraphState {
  const next = emptyGraph();
  upsertNodes(next.nodes, snapshot.nodes);
  upsertLinks(next.links, next.nodes, snapshot.links ?? snapshot.edges);
  return next;
}

/** `graph_batch_update` adds or updates nodes and edges. */
export function applyBatch(state: GraphState, batch: { nodes?: unknown; edges?: unknown; links?: unknown }): GraphState {
  const nodes = new Map(state.nodes);
  const links = new Map(state.links);
  upsertNodes(nodes, batch.nodes);
  upsertLinks(links, nodes, batch.edges ?? batch.links);
  return { nodes, links };
}

/** `metrics_updated` changes centrality figures of known nodes only. */
export function applyMetrics(state: GraphState, update: { nodes?: unknown }): GraphState {
  if (!Array.isArray(update.nodes)) return state;
  const nodes = new Map(state.nodes);
  for (const raw of update.nodes as Partial<GraphNode>[]) {
    const existing = raw && typeof raw.id === 'string' ? nodes.get(raw.id) : undefined;
    if (!existing) continue;
    nodes.set(existing.id, {
      ...existing,
      pagerank: raw.pagerank ?? existing.pagerank,
      betweenness: raw.betweenness ?? existing.betweenness,
      weightedDegree: raw.weightedDegree ?? existing.weightedDegree,
    });
  }
  return { nodes, links: state.links };
}

export const NODE_COLOURS: Record<string, string> = {
  topic: '#2563eb',
  emotion: '#db2777',
  note: '#059669',
  concern: '#d97706',
};

export function nodeColour(type: string): string {
  return NODE_COLOURS[type] ?? '#6b7280';
}

/** Radius grows with PageRank relative to the graph's largest, within readable bounds. */
export function nodeRadius(pagerank: number | undefined, maxPagerank: number): number {
  const min = 5;
  const max = 18;
  if (!pagerank || maxPagerank <= 0) return min;
  return min + (max - min) * Math.sqrt(Math.min(1, pagerank / maxPagerank));
}

/** Nodes sorted by PageRank (then mentions), for the accessible list beside the canvas. */
export function rankedNodes(state: GraphState): GraphNode[] {
  return [...state.nodes.values()].sort(
    (a, b) => (b.pagerank ?? 0) - (a.pagerank ?? 0) || (b.mentionCount ?? 0) - (a.mentionCount ?? 0),
  );
}
