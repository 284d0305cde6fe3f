// `cantainer topology --format FORMAT`: one topology, drawn as each format wants it.
import type { Topology } from '../control/protocol.js';
import { renderDot } from './dot.js';
import { renderMermaid } from './mermaid.js';
import { renderSvg } from './svg.js';

export const TOPOLOGY_FORMATS = ['svg', 'dot', 'mermaid', 'json'] as const;
export type TopologyFormat = (typeof TOPOLOGY_FORMATS)[number];

export function renderTopology(topology: Topology, format: TopologyFormat): string {
  switch (format) {
    case 'svg':
      return renderSvg(topology);
    case 'dot':
      return renderDot(topology);
    case 'mermaid':
      return renderMermaid(topology);
    case 'json':
      return `${JSON.stringify(topology, null, 2)}\n`;
  }
}
