// The state file's schema: version 2 (version 1, without gateways, is read too). Parsed field by field, so that a damaged file fails with the path of the
// first bad field rather than with a crash somewhere later; unknown fields are kept out of the typed value.
import { CantainerError, describeValue, errorMessage } from '../errors.js';
import { checkBus, type Bus, type Member, type MemberEnd } from '../bus/model.js';
import type { Uplink, UplinkDirection } from '../bus/uplink.js';
import type { Tunnel, TunnelTransport } from '../bus/tunnel.js';
import type { Span, SpanMode } from '../bus/span.js';
import type { BusTiming } from '../bus/timing.js';
import type { Fault } from '../bus/fault.js';
import {
  checkGateway,
  gatewaySetProblem,
  type Crc8ChecksumSpec,
  type FrameEdit,
  type Gateway,
  type XorChecksumSpec,
} from '../bus/gateway.js';

export const STATE_VERSION = 2;
/** Versions this cantainer reads; older ones are upgraded on the next save. */
const READABLE_VERSIONS: readonly unknown[] = [1, 2];

export interface DesiredState {
  readonly buses: readonly Bus[];
  readonly gateways?: readonly Gateway[];
}

export class StateFormatError extends CantainerError {
  readonly field: string;

  constructor(field: string, detail: string) {
    super('ESTATEFORMAT', `${field}: ${detail}`);
    this.field = field;
  }
}

type Json = unknown;

function object(value: Json, field: string): Record<string, Json> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new StateFormatError(field, `${describeValue(value)} is not an object`);
  return value as Record<string, Json>;
}

function array(value: Json, field: string): Json[] {
  if (!Array.isArray(value)) throw new StateFormatError(field, `${describeValue(value)} is not an array`);
  return value as Json[];
}

function string(value: Json, field: string): string {
  if (typeof value !== 'string') throw new StateFormatError(field, `${describeValue(value)} is not a string`);
  return value;
}

function boolean(value: Json, field: string): boolean {
  if (typeof value !== 'boolean') throw new StateFormatError(field, `${describeValue(value)} is not true or false`);
  return value;
}

function annotations(value: Json, field: string): { annotations?: Record<string, string> } {
  if (value === undefined) return {};
  const entries = Object.entries(object(value, field)).map(([key, text]) => [key, string(text, `${field}.${key}`)] as const);
  return { annotations: Object.fromEntries(entries) };
}

function strings(value: Json, field: string): string[] {
  return array(value, field).map((item, i) => string(item, `${field}[${i}]`));
}

function parseEnd(value: Json, field: string): MemberEnd {
  const raw = object(value, field);
  return {
    name: string(raw.name, `${field}.name`),
    ...(raw.netns === undefined ? {} : { netns: string(raw.netns, `${field}.netns`) }),
    ...(raw.netnsId === undefined ? {} : { netnsId: string(raw.netnsId, `${field}.netnsId`) }),
    ...(raw.up === undefined ? {} : { up: boolean(raw.up, `${field}.up`) }),
    ...(raw.handover === undefined ? {} : { handover: boolean(raw.handover, `${field}.handover`) }),
  };
}

function parseMember(value: Json, field: string): Member {
  const raw = object(value, field);
  return {
    id: string(raw.id, `${field}.id`),
    end: parseEnd(raw.end, `${field}.end`),
    ...(raw.since === undefined ? {} : { since: string(raw.since, `${field}.since`) }),
    ...(raw.send === undefined ? {} : { send: strings(raw.send, `${field}.send`) }),
    ...(raw.receive === undefined ? {} : { receive: strings(raw.receive, `${field}.receive`) }),
    ...annotations(raw.annotations, `${field}.annotations`),
  };
}

function parseUplink(value: Json, field: string): Uplink {
  const raw = object(value, field);
  return {
    interface: string(raw.interface, `${field}.interface`),
    direction: string(raw.direction, `${field}.direction`) as UplinkDirection,
    accept: strings(raw.accept, `${field}.accept`),
    reject: strings(raw.reject, `${field}.reject`),
  };
}

function parseTunnel(value: Json, field: string): Tunnel {
  const raw = object(value, field);
  const optionalText = (key: 'listen' | 'peer'): Partial<Tunnel> =>
    raw[key] === undefined ? {} : { [key]: string(raw[key], `${field}.${key}`) };
  const optionalNumber = (key: 'timeoutUs' | 'mtu'): Partial<Tunnel> =>
    raw[key] === undefined ? {} : { [key]: number(raw[key], `${field}.${key}`) };
  return {
    name: string(raw.name, `${field}.name`),
    transport: string(raw.transport, `${field}.transport`) as TunnelTransport,
    ...optionalText('listen'),
    ...optionalText('peer'),
    ...optionalNumber('timeoutUs'),
    ...optionalNumber('mtu'),
    allow: strings(raw.allow, `${field}.allow`),
  };
}

function parseSpan(value: Json, field: string): Span {
  const raw = object(value, field);
  return {
    mode: string(raw.mode, `${field}.mode`) as SpanMode,
    ...(raw.hub === undefined ? {} : { hub: string(raw.hub, `${field}.hub`) }),
    ...(raw.port === undefined ? {} : { port: number(raw.port, `${field}.port`) }),
    ...(raw.nodes === undefined ? {} : { nodes: strings(raw.nodes, `${field}.nodes`) }),
  };
}

function parseTiming(value: Json, field: string): BusTiming {
  const raw = object(value, field);
  return {
    bitrate: number(raw.bitrate, `${field}.bitrate`),
    ...(raw.dbitrate === undefined ? {} : { dbitrate: number(raw.dbitrate, `${field}.dbitrate`) }),
  };
}

function parseFault(value: Json, field: string): Fault {
  const raw = object(value, field);
  return {
    id: string(raw.id, `${field}.id`),
    ...(raw.member === undefined ? {} : { member: string(raw.member, `${field}.member`) }),
    ...(raw.drop === undefined ? {} : { drop: number(raw.drop, `${field}.drop`) }),
    ...(raw.delayMs === undefined ? {} : { delayMs: number(raw.delayMs, `${field}.delayMs`) }),
    ...(raw.jitterMs === undefined ? {} : { jitterMs: number(raw.jitterMs, `${field}.jitterMs`) }),
    ...(raw.off === undefined ? {} : { off: boolean(raw.off, `${field}.off`) as true }),
    ...(raw.until === undefined ? {} : { until: string(raw.until, `${field}.until`) }),
  };
}

function parseBus(value: Json, field: string): Bus {
  const raw = object(value, field);
  const bus: Bus = {
    id: string(raw.id, `${field}.id`),
    name: string(raw.name, `${field}.name`),
    fd: boolean(raw.fd, `${field}.fd`),
    ...(raw.transient === undefined ? {} : { transient: boolean(raw.transient, `${field}.transient`) }),
    members: array(raw.members, `${field}.members`).map((member, i) => parseMember(member, `${field}.members[${i}]`)),
    ...(raw.uplinks === undefined
      ? {}
      : { uplinks: array(raw.uplinks, `${field}.uplinks`).map((uplink, i) => parseUplink(uplink, `${field}.uplinks[${i}]`)) }),
    ...(raw.tunnels === undefined
      ? {}
      : { tunnels: array(raw.tunnels, `${field}.tunnels`).map((tunnel, i) => parseTunnel(tunnel, `${field}.tunnels[${i}]`)) }),
    ...(raw.span === undefined ? {} : { span: parseSpan(raw.span, `${field}.span`) }),
    ...(raw.timing === undefined ? {} : { timing: parseTiming(raw.timing, `${field}.timing`) }),
    ...(raw.faults === undefined
      ? {}
      : { faults: array(raw.faults, `${field}.faults`).map((fault, i) => parseFault(fault, `${field}.faults[${i}]`)) }),
    ...annotations(raw.annotations, `${field}.annotations`),
  };
  try {
    checkBus(bus);
  } catch (error) {
    throw new StateFormatError(field, errorMessage(error));
  }
  return bus;
}

function number(value: Json, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new StateFormatError(field, `${describeValue(value)} is not a number`);
  return value;
}

function parseEdit(value: Json, field: string): FrameEdit {
  const raw = object(value, field);
  return {
    operation: string(raw.operation, `${field}.operation`),
    field: string(raw.field, `${field}.field`),
    value: string(raw.value, `${field}.value`),
  } as FrameEdit;
}

function parseXor(value: Json, field: string): XorChecksumSpec {
  const raw = object(value, field);
  return {
    from: number(raw.from, `${field}.from`),
    to: number(raw.to, `${field}.to`),
    at: number(raw.at, `${field}.at`),
    init: number(raw.init, `${field}.init`),
  };
}

function parseCrc8(value: Json, field: string): Crc8ChecksumSpec {
  const raw = object(value, field);
  return { ...parseXor(value, field), poly: number(raw.poly, `${field}.poly`), finalXor: number(raw.finalXor, `${field}.finalXor`) };
}

function parseGateway(value: Json, field: string): Gateway {
  const raw = object(value, field);
  const gateway: Gateway = {
    source: string(raw.source, `${field}.source`),
    destination: string(raw.destination, `${field}.destination`),
    both: boolean(raw.both, `${field}.both`),
    accept: strings(raw.accept, `${field}.accept`),
    reject: strings(raw.reject, `${field}.reject`),
    edits: array(raw.edits, `${field}.edits`).map((edit, i) => parseEdit(edit, `${field}.edits[${i}]`)),
    ...(raw.xorChecksum === undefined ? {} : { xorChecksum: parseXor(raw.xorChecksum, `${field}.xorChecksum`) }),
    ...(raw.crc8Checksum === undefined ? {} : { crc8Checksum: parseCrc8(raw.crc8Checksum, `${field}.crc8Checksum`) }),
    ...(raw.declaredBy === undefined ? {} : { declaredBy: string(raw.declaredBy, `${field}.declaredBy`) }),
  };
  try {
    checkGateway(gateway);
  } catch (error) {
    throw new StateFormatError(field, errorMessage(error));
  }
  return gateway;
}

export function parseState(text: string): DesiredState {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateFormatError('file', `not JSON (${errorMessage(error)})`);
  }
  const raw = object(json, 'file');
  if (!READABLE_VERSIONS.includes(raw.version)) {
    throw new StateFormatError(
      'version',
      `${describeValue(raw.version)} is not a state version this cantainer reads (it reads versions ${READABLE_VERSIONS.join(' and ')})`,
    );
  }
  const buses = array(raw.buses, 'buses').map((bus, i) => parseBus(bus, `buses[${i}]`));
  const ids = new Set<string>();
  for (const [i, bus] of buses.entries()) {
    if (ids.has(bus.id)) throw new StateFormatError(`buses[${i}].id`, `${describeValue(bus.id)} appears twice`);
    ids.add(bus.id);
  }
  const gateways =
    raw.gateways === undefined ? [] : array(raw.gateways, 'gateways').map((gateway, i) => parseGateway(gateway, `gateways[${i}]`));
  const problem = gatewaySetProblem(gateways);
  if (problem !== undefined) throw new StateFormatError('gateways', problem);
  return { buses, gateways };
}

export function serializeState(state: DesiredState): string {
  return `${JSON.stringify({ version: STATE_VERSION, buses: state.buses, gateways: state.gateways ?? [] }, null, 2)}\n`;
}
