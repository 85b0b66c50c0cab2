'use client';

import dynamic from 'next/dynamic';
import { NODE_COLOURS, rankedNodes, type GraphState } from '@/lib/graph/graphStore';
import type { LiveConnection, ProcessingUpdate } from '@/lib/graph/useLiveGraph';
import { humanise } from '@/lib/format';

// d3-force and the drawing code load only when a graph is shown, keeping first-load JS small.
const GraphCanvas = dynamic(() => import('./GraphCanvas'), {
  ssr: false,
  loading: () => <div className="graph-canvas" aria-busy="true" />,
});

interface GraphPanelProps {
  graph: GraphState;
  connection?: LiveConnection;
  processing?: ProcessingUpdate | null;
}

export function GraphPanel({ graph, connection, processing }: GraphPanelProps) {
  const ranked = rankedNodes(graph);
  return (
    <section className="card stack" aria-labelledby="graph-title">
      <div className="row spread">
        <h2 id="graph-title">Knowledge graph</h2>
        {connection && (
          <span className={`badge ${connection === 'live' ? 'connected' : connection === 'offline' ? 'error' : 'connecting'}`}>
            {connection === 'live' ? 'Live' : connection === 'offline' ? 'Offline' : 'Connecting'}
          </span>
        )}
      </div>
      <div className="legend" aria-label="Legend">
        {Object.entries(NODE_COLOURS).map(([type, colour]) => (
          <span key={type} style={{ ['--dot' as string]: colour }}>
            {humanise(type)}
          </span>
        ))}
        <span className="muted">Size: PageRank</span>
      </div>
      <GraphCanvas graph={graph} />
      <p role="status" className="muted" data-testid="processing-status">
        {processing && processing.status !== 'done'
          ? `${humanise(processing.status)}${processing.message ? `: ${processing.message}` : ''}`
          : `${graph.nodes.size} entities, ${graph.links.size} links`}
      </p>
      <h3 className="visually-hidden">Entities</h3>
      {ranked.length > 0 ? (
        <ol className="entity-list" aria-label="Graph entities" data-testid="graph-entities">
          {ranked.map((node) => (
            <li key={node.id} data-node-type={node.type}>
              {node.label} <span className="muted">({node.type})</span>
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted">Entities appear here as the patient speaks.</p>
      )}
    </section>
  );
}
