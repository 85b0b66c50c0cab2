'use client';

import { useMemo, useState } from 'react';
import dynamic from 'next/dynamic';
import { NODE_COLOURS, type GraphState } from '@/lib/graph/graphStore';
import { typesOf } from '@/lib/graph/entityTable';
import type { LiveConnection, ProcessingUpdate } from '@/lib/graph/useLiveGraph';
import { useThrottledAnnouncement } from '@/lib/announce';
import { humanise } from '@/lib/format';
import { EntityTable } from './EntityTable';
import { NodeDetails } from './NodeDetails';

// d3-force and the drawing code load only when a graph is shown, keeping first-load JS small.
const GraphCanvas = dynamic(() => import('./GraphCanvas'), {
  ssr: false,
  loading: () => <div className="graph-canvas" aria-busy="true" />,
});

// One screen-reader announcement of the graph's progress per interval at most.
const ANNOUNCE_INTERVAL_MS = 15_000;

interface GraphPanelProps {
  graph: GraphState;
  sessionId: string;
  startedAt?: string;
  connection?: LiveConnection;
  processing?: ProcessingUpdate | null;
}

function statusText(graph: GraphState, processing: ProcessingUpdate | null | undefined): string {
  if (processing && processing.status !== 'done') {
    return `${humanise(processing.status)}${processing.message ? `: ${processing.message}` : ''}`;
  }
  return `${graph.nodes.size} entities, ${graph.links.size} links`;
}

export function GraphPanel({ graph, sessionId, startedAt, connection, processing }: GraphPanelProps) {
  const types = useMemo(() => typesOf(graph.nodes.values(), Object.keys(NODE_COLOURS)), [graph.nodes]);
  const [hiddenTypes, setHiddenTypes] = useState<ReadonlySet<string>>(new Set());
  // Stable between renders, so the canvas redraws only when the graph or the filter changes.
  const visibleTypes = useMemo(() => new Set(types.filter((type) => !hiddenTypes.has(type))), [types, hiddenTypes]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const selected = selectedId ? graph.nodes.get(selectedId) : undefined;
  const status = statusText(graph, processing);
  // The stages of each utterance are shown, but only results and errors are announced.
  const announced = useThrottledAnnouncement(
    processing && (processing.status === 'done' || processing.status === 'error') ? status : null,
    ANNOUNCE_INTERVAL_MS,
  );

  const toggleType = (type: string) =>
    setHiddenTypes((current) => {
      const next = new Set(current);
      if (next.has(type)) next.delete(type);
      else next.add(type);
      return next;
    });

  return (
    <section className="card stack graph-panel" aria-labelledby="graph-title">
      <div className="row spread">
        <h2 id="graph-title">Knowledge graph</h2>
        {connection && (
          <span className={`badge ${connection === 'live' ? 'connected' : connection === 'offline' ? 'error' : 'connecting'}`}>
            {connection === 'live' ? 'Live' : connection === 'offline' ? 'Offline' : 'Connecting'}
          </span>
        )}
      </div>
      <fieldset className="legend">
        <legend>Show</legend>
        {types.map((type) => (
          <label key={type} style={{ ['--dot' as string]: NODE_COLOURS[type] ?? '#6b7280' }}>
            <input type="checkbox" checked={visibleTypes.has(type)} onChange={() => toggleType(type)} />
            {humanise(type)}
          </label>
        ))}
        <span className="muted">Size and labels: PageRank</span>
      </fieldset>
      <GraphCanvas graph={graph} visibleTypes={visibleTypes} selectedId={selectedId} onSelect={setSelectedId} />
      <p className="muted" data-testid="processing-status">
        {status}
      </p>
      <p role="status" className="visually-hidden" data-testid="graph-announcement">
        {announced}
      </p>
      {selected && (
        <NodeDetails sessionId={sessionId} node={selected} startedAt={startedAt} onClose={() => setSelectedId(null)} />
      )}
      <h3 className="visually-hidden">Entities</h3>
      <EntityTable graph={graph} visibleTypes={visibleTypes} selectedId={selectedId} onSelect={setSelectedId} />
    </section>
  );
}
