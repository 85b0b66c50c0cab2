'use client';

import { useEffect, useRef, useState } from 'react';
import {
  forceCenter,
  forceCollide,
  forceLink,
  forceManyBody,
  forceSimulation,
  type Simulation,
  type SimulationLinkDatum,
  type SimulationNodeDatum,
} from 'd3-force';
import { nodeColour, nodeRadius, type GraphState } from '@/lib/graph/graphStore';

interface SimNode extends SimulationNodeDatum {
  id: string;
  label: string;
  type: string;
  radius: number;
}

type SimLink = SimulationLinkDatum<SimNode> & { value: number };

const HEIGHT = 460;
const LABEL_SPACE = 16;

/**
 * Force-directed layout on a canvas (cheaper than SVG for many nodes). Positions survive updates:
 * existing nodes keep x/y and only new ones enter, so the picture does not jump on every batch.
 */
export default function GraphCanvas({ graph }: { graph: GraphState }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const simulationRef = useRef<Simulation<SimNode, SimLink> | null>(null);
  const nodesRef = useRef<Map<string, SimNode>>(new Map());
  const [width, setWidth] = useState(0);

  // Re-layout when the panel's width changes (window resize, summary appearing above).
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.round(entry.contentRect.width));
    });
    observer.observe(canvas);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || width === 0) return;
    const context = canvas.getContext('2d');
    if (!context) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = HEIGHT * ratio;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);

    const maxPagerank = Math.max(0, ...[...graph.nodes.values()].map((node) => node.pagerank ?? 0));
    const previous = nodesRef.current;
    const nodes: SimNode[] = [...graph.nodes.values()].map((node) => {
      const kept = previous.get(node.id);
      return {
        ...(kept ?? { x: width / 2 + (Math.random() - 0.5) * 40, y: HEIGHT / 2 + (Math.random() - 0.5) * 40 }),
        id: node.id,
        label: node.label,
        type: node.type,
        radius: nodeRadius(node.pagerank, maxPagerank),
      };
    });
    nodesRef.current = new Map(nodes.map((node) => [node.id, node]));
    const links: SimLink[] = [...graph.links.values()].map((link) => ({
      source: link.source,
      target: link.target,
      value: link.value ?? 1,
    }));

    const draw = () => {
      context.clearRect(0, 0, width, HEIGHT);
      context.strokeStyle = '#94a3b8';
      for (const link of links) {
        const source = link.source as SimNode;
        const target = link.target as SimNode;
        context.lineWidth = 0.5 + 2 * link.value;
        context.beginPath();
        context.moveTo(source.x ?? 0, source.y ?? 0);
        context.lineTo(target.x ?? 0, target.y ?? 0);
        context.stroke();
      }
      context.font = '12px system-ui, sans-serif';
      context.textAlign = 'center';
      for (const node of nodes) {
        const x = Math.max(node.radius, Math.min(width - node.radius, node.x ?? 0));
        // Keep room below each node for its label.
        const y = Math.max(node.radius, Math.min(HEIGHT - node.radius - LABEL_SPACE, node.y ?? 0));
        node.x = x;
        node.y = y;
        context.fillStyle = nodeColour(node.type);
        context.beginPath();
        context.arc(x, y, node.radius, 0, 2 * Math.PI);
        context.fill();
        context.fillStyle = '#0f172a';
        context.fillText(node.label, x, y + node.radius + 12);
      }
    };

    simulationRef.current?.stop();
    const simulation = forceSimulation<SimNode, SimLink>(nodes)
      .force('link', forceLink<SimNode, SimLink>(links).id((node) => node.id).distance(90))
      .force('charge', forceManyBody().strength(-160))
      .force('center', forceCenter(width / 2, HEIGHT / 2))
      .force('collide', forceCollide<SimNode>().radius((node) => node.radius + 14))
      .alpha(previous.size ? 0.4 : 1)
      .on('tick', draw);
    simulationRef.current = simulation;
    draw();
    return () => {
      simulation.stop();
    };
  }, [graph, width]);

  return (
    <canvas
      ref={canvasRef}
      className="graph-canvas"
      role="img"
      aria-label={`Knowledge graph with ${graph.nodes.size} entities and ${graph.links.size} links`}
    />
  );
}
