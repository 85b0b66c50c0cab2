'use client';

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { nodeColour, nodeRadius, rankedNodes, type GraphState } from '@/lib/graph/graphStore';
import {
  IDENTITY_VIEW,
  interpolate,
  layoutGraph,
  nodeAt,
  panBy,
  placeLabels,
  rescale,
  toScreen,
  zoomAt,
  type Point,
  type Rect,
  type Size,
  type View,
} from '@/lib/graph/layout';
import { humanise } from '@/lib/format';
import type { GraphNode } from '@/lib/types';

const FONT = '12px system-ui, sans-serif';
const LINE_HEIGHT = 14;
const SETTLE_MS = 350;
// Labels for the most important nodes only: past ~30 a canvas this size turns into text soup.
const MAX_LABELS = 30;
const MIN_LABELS = 8;
const AREA_PER_LABEL = 12_000;
const FULL_SIZE_AREA = 800 * 460;
const DOT_RADIUS = 3.5;

interface GraphCanvasProps {
  graph: GraphState;
  /** Node types shown; the others are hidden but keep their place. */
  visibleTypes: ReadonlySet<string>;
  selectedId: string | null;
  onSelect: (id: string | null) => void;
}

interface Drawn {
  id: string;
  radius: number;
  node: GraphNode;
}

function prefersReducedMotion(): boolean {
  return typeof window !== 'undefined' && window.matchMedia?.('(prefers-reduced-motion: reduce)').matches === true;
}

function cssVar(element: Element, name: string, fallback: string): string {
  return getComputedStyle(element).getPropertyValue(name).trim() || fallback;
}

/**
 * The session graph on a canvas (cheaper than SVG at 200 nodes). The layout is computed whole
 * (src/lib/graph/layout.ts) on each update: existing nodes stay near their place, new ones start
 * beside their neighbours; a short blend shows the change, none under prefers-reduced-motion.
 * The rendered positions are published in `data-layout` (CSS px) for the end-to-end checks.
 */
export default function GraphCanvas({ graph, visibleTypes, selectedId, onSelect }: GraphCanvasProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  // The canvas' CSS box (its height is set by the stylesheet, lower on phones).
  const [size, setSize] = useState<Size>({ width: 0, height: 0 });
  const { width, height: HEIGHT } = size;
  const [view, setView] = useState<View>(IDENTITY_VIEW);
  const [hovered, setHovered] = useState<{ id: string; x: number; y: number } | null>(null);
  const layoutRef = useRef<{ size: Size; positions: Map<string, Point> }>({ size: { width: 0, height: 0 }, positions: new Map() });
  const [shown, setShown] = useState<Map<string, Point>>(new Map());
  const dragRef = useRef<{ x: number; y: number; moved: boolean } | null>(null);

  // Importance order (PageRank, then mentions) decides the size of a node and who gets a label.
  // A phone's canvas has a third of the desktop's area: fewer labels and smaller circles there.
  const area = size.width * size.height;
  const maxLabels = Math.max(MIN_LABELS, Math.min(MAX_LABELS, Math.round(area / AREA_PER_LABEL)));
  const scale = Math.max(0.55, Math.min(1, Math.sqrt(area / FULL_SIZE_AREA)));
  const drawn: Drawn[] = useMemo(() => {
    const ranked = rankedNodes(graph);
    const maxPagerank = Math.max(0, ...ranked.map((node) => node.pagerank ?? 0));
    return ranked.map((node, index) => ({
      id: node.id,
      node,
      radius: index < maxLabels ? Math.max(DOT_RADIUS, scale * nodeRadius(node.pagerank, maxPagerank)) : DOT_RADIUS,
    }));
  }, [graph, maxLabels, scale]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(([entry]) => {
      if (!entry) return;
      const next = { width: Math.round(entry.contentRect.width), height: Math.round(entry.contentRect.height) };
      setSize((current) => (current.width === next.width && current.height === next.height ? current : next));
    });
    observer.observe(canvas);
    return () => observer.disconnect();
  }, []);

  // Layout on every graph change or resize; then a short settle from what is on screen now.
  useEffect(() => {
    if (width === 0 || HEIGHT === 0) return;
    const previous = layoutRef.current;
    const kept = rescale(previous.positions, previous.size, size);
    const links = [...graph.links.values()].map((link) => ({ source: link.source, target: link.target, value: link.value ?? 1 }));
    const next = layoutGraph(drawn, links, kept, size);
    layoutRef.current = { size, positions: next };
    if (prefersReducedMotion() || kept.size === 0) {
      setShown(next);
      return;
    }
    let frame = 0;
    const start = performance.now();
    const step = (now: number) => {
      const t = Math.min(1, (now - start) / SETTLE_MS);
      setShown(t < 1 ? interpolate(kept, next, t * (2 - t)) : next);
      if (t < 1) frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
  }, [drawn, graph.links, size, width, HEIGHT]);

  const visible = useMemo(() => drawn.filter((entry) => visibleTypes.has(entry.node.type) && shown.has(entry.id)), [drawn, shown, visibleTypes]);

  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context || width === 0 || HEIGHT === 0) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = HEIGHT * ratio;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, HEIGHT);
    const linkColour = cssVar(canvas, '--graph-link', '#94a3b8');
    const textColour = cssVar(canvas, '--text', '#0f172a');
    const haloColour = cssVar(canvas, '--graph-bg', '#f1f5f9');
    const screen = new Map(visible.map((entry) => [entry.id, toScreen(shown.get(entry.id)!, view)]));

    context.strokeStyle = linkColour;
    context.globalAlpha = 0.6;
    for (const link of graph.links.values()) {
      const a = screen.get(link.source);
      const b = screen.get(link.target);
      if (!a || !b) continue;
      context.lineWidth = 0.5 + 1.5 * (link.value ?? 1);
      context.beginPath();
      context.moveTo(a.x, a.y);
      context.lineTo(b.x, b.y);
      context.stroke();
    }
    context.globalAlpha = 1;
    // Most important last, so they are drawn on top.
    for (const entry of [...visible].reverse()) {
      const point = screen.get(entry.id)!;
      context.fillStyle = nodeColour(entry.node.type);
      context.beginPath();
      context.arc(point.x, point.y, entry.radius * view.k, 0, 2 * Math.PI);
      context.fill();
      if (entry.id === selectedId || entry.id === hovered?.id) {
        context.strokeStyle = textColour;
        context.lineWidth = 2;
        context.stroke();
      }
    }

    context.font = FONT;
    context.textBaseline = 'top';
    const candidates = visible.slice(0, maxLabels * 2).map((entry) => ({
      id: entry.id,
      ...screen.get(entry.id)!,
      radius: entry.radius * view.k,
      width: Math.ceil(context.measureText(entry.node.label).width),
    }));
    // The selected node always gets its label, ahead of the ranking.
    candidates.sort((a, b) => Number(b.id === selectedId) - Number(a.id === selectedId));
    const labels = placeLabels(candidates, size, maxLabels, LINE_HEIGHT);
    const labelText = new Map(visible.map((entry) => [entry.id, entry.node.label]));
    context.lineWidth = 3;
    context.strokeStyle = haloColour;
    context.fillStyle = textColour;
    for (const [id, rect] of labels) {
      const text = labelText.get(id) ?? '';
      context.strokeText(text, rect.x, rect.y + 1);
      context.fillText(text, rect.x, rect.y + 1);
    }
    // "settled": what is drawn is the final layout of this update, not a frame of the blend.
    canvas.dataset.settled = String(shown === layoutRef.current.positions);
    canvas.dataset.layout = JSON.stringify({
      width,
      height: HEIGHT,
      view,
      nodes: visible.map((entry) => ({ id: entry.id, ...screen.get(entry.id)!, r: entry.radius * view.k })),
      labels: [...labels].map(([id, rect]: [string, Rect]) => ({ id, ...rect })),
    });
  }, [graph.links, hovered?.id, maxLabels, selectedId, shown, size, view, visible, width, HEIGHT]);

  // Wheel zoom needs a non-passive listener to keep the page from scrolling underneath.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const box = canvas.getBoundingClientRect();
      const factor = Math.exp(-event.deltaY / 300);
      setView((current) => zoomAt(current, factor, event.clientX - box.left, event.clientY - box.top, { width: box.width, height: box.height }));
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => canvas.removeEventListener('wheel', onWheel);
  }, []);

  const pointAt = useCallback((event: React.PointerEvent<HTMLCanvasElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }, []);

  const hitTest = useCallback(
    (x: number, y: number) => nodeAt(visible, shown, view, x, y),
    [shown, view, visible],
  );

  const hoveredNode = hovered ? graph.nodes.get(hovered.id) : undefined;
  const zoom = (factor: number) => setView((current) => zoomAt(current, factor, width / 2, HEIGHT / 2, size));

  return (
    <div className="graph-stage">
      <div className="graph-zoom row" role="group" aria-label="Zoom">
        <button type="button" className="button secondary small" onClick={() => zoom(1.5)} aria-label="Zoom in">
          +
        </button>
        <button type="button" className="button secondary small" onClick={() => zoom(1 / 1.5)} aria-label="Zoom out" disabled={view.k <= 1}>
          −
        </button>
        <button type="button" className="button secondary small" onClick={() => setView(IDENTITY_VIEW)} disabled={view.k === 1}>
          Reset view
        </button>
      </div>
      <canvas
        ref={canvasRef}
        className="graph-canvas"
        role="img"
        aria-label={`Knowledge graph with ${graph.nodes.size} entities and ${graph.links.size} links; the table below lists them.`}
        onPointerDown={(event) => {
          const point = pointAt(event);
          dragRef.current = { ...point, moved: false };
          event.currentTarget.setPointerCapture?.(event.pointerId);
        }}
        onPointerMove={(event) => {
          const point = pointAt(event);
          const drag = dragRef.current;
          if (drag) {
            const dx = point.x - drag.x;
            const dy = point.y - drag.y;
            if (drag.moved || Math.hypot(dx, dy) > 4) {
              dragRef.current = { ...point, moved: true };
              setView((current) => panBy(current, dx, dy, size));
            }
            return;
          }
          const id = hitTest(point.x, point.y);
          setHovered(id ? { id, ...point } : null);
        }}
        onPointerUp={(event) => {
          const drag = dragRef.current;
          dragRef.current = null;
          if (drag && !drag.moved) {
            const point = pointAt(event);
            onSelect(hitTest(point.x, point.y));
          }
        }}
        onPointerLeave={() => setHovered(null)}
        style={{ cursor: hovered ? 'pointer' : view.k > 1 ? 'grab' : 'default' }}
      />
      {hoveredNode && hovered && (
        <div className="graph-tooltip" aria-hidden="true" style={{ left: hovered.x, top: hovered.y }}>
          <strong>{hoveredNode.label}</strong> · {humanise(hoveredNode.type)} · {hoveredNode.mentionCount ?? 1}×
        </div>
      )}
    </div>
  );
}
