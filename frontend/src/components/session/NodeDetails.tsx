'use client';

import { useEffect, useId, useRef } from 'react';
import { useApiResource } from '@/lib/useApiResource';
import type { GraphNode, NodeMentions } from '@/lib/types';
import { formatDuration, humanise } from '@/lib/format';

interface NodeDetailsProps {
  sessionId: string;
  node: GraphNode;
  startedAt?: string;
  onClose: () => void;
}

/** A node's figures and the moments it was mentioned (fetched when the node is chosen). */
export function NodeDetails({ sessionId, node, startedAt, onClose }: NodeDetailsProps) {
  const mentionsHeading = useId();
  const mentions = useApiResource<NodeMentions>(`/api/sessions/${sessionId}/graph/nodes/${node.id}/mentions`);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), [node.id]);
  // A new mention while the details are open: load the moments again (not on the first render).
  const seenCount = useRef(node.mentionCount);
  const reload = mentions.reload;
  useEffect(() => {
    if (seenCount.current === node.mentionCount) return;
    seenCount.current = node.mentionCount;
    reload();
  }, [node.mentionCount, reload]);
  const start = startedAt ? new Date(startedAt).getTime() : null;
  return (
    <section className="node-details card stack" aria-labelledby="node-details-title" data-testid="node-details">
      <div className="row spread">
        <h3 id="node-details-title" ref={headingRef} tabIndex={-1}>
          {node.label} <span className="muted">({humanise(node.type)})</span>
        </h3>
        <button type="button" className="button secondary small" onClick={onClose}>
          Close details
        </button>
      </div>
      <dl className="metrics">
        <div>
          <dt>Mentions</dt>
          <dd>{node.mentionCount ?? 1}</dd>
        </div>
        <div>
          <dt>PageRank</dt>
          <dd>{(node.pagerank ?? 0).toFixed(3)}</dd>
        </div>
        <div>
          <dt>Links (weighted)</dt>
          <dd>{(node.weightedDegree ?? 0).toFixed(2)}</dd>
        </div>
        <div>
          <dt>Betweenness</dt>
          <dd>{(node.betweenness ?? 0).toFixed(3)}</dd>
        </div>
      </dl>
      <h4 id={mentionsHeading}>Mentioned</h4>
      {mentions.error && <p className="muted">Could not load the moments: {mentions.error.message}</p>}
      {!mentions.data && !mentions.error && <p aria-busy="true" className="muted">Loading…</p>}
      {mentions.data && (
        // A long list scrolls: focusable, so a keyboard can scroll it too (axe: scrollable-region-focusable).
        <div className="mentions" role="region" aria-labelledby={mentionsHeading} tabIndex={0}>
          <ol data-testid="node-mentions">
            {mentions.data.mentions.map((mention, index) => {
              const at = new Date(mention.at).getTime();
              return (
                <li key={index}>
                  <time dateTime={mention.at}>
                    {start !== null && at >= start ? `at ${formatDuration((at - start) / 1000)}` : new Date(mention.at).toLocaleTimeString()}
                  </time>
                  {mention.context && <q>{mention.context}</q>}
                </li>
              );
            })}
          </ol>
        </div>
      )}
    </section>
  );
}
