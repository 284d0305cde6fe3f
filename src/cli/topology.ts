// `cantainer topology`: the buses of this host drawn, for documents and CI reports (the dashboard draws the same).
import { Option, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { renderTopology, TOPOLOGY_FORMATS, type TopologyFormat } from '../topology/render.js';
import { CONTROL_SOCKET_OPTION, callDaemon, controlSocketPath } from './client.js';
import type { CliIo } from './output.js';

export function registerTopologyCommand(program: Command, io: CliIo): void {
  program
    .command('topology')
    .description(
      'draw the buses: members with their containers and interfaces, host interfaces, tunnels, and the gateways between buses with their filters, edits and counters',
    )
    .argument('[bus...]', 'only these buses (names or ids) and the gateways between them (default: all)')
    .addOption(
      new Option('--format <format>', 'svg (a picture), dot (Graphviz), mermaid (Markdown), json (the data)')
        .choices(TOPOLOGY_FORMATS)
        .default('svg'),
    )
    .option('-o, --output <file>', 'write it to this file instead of standard output')
    .option(...CONTROL_SOCKET_OPTION)
    .addHelpText(
      'after',
      '\nExamples:\n  cantainer topology > buses.svg\n  cantainer topology --format dot | dot -Tpng -o buses.png\n  cantainer topology powertrain body --format mermaid',
    )
    .action(async (buses: string[], options: { format: TopologyFormat; output?: string; controlSocket?: string }) => {
      const topology = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Topology.Get', { buses });
      const text = renderTopology(topology, options.format);
      if (options.output === undefined) io.out(text);
      else writeFileSync(options.output, text);
    });
}
