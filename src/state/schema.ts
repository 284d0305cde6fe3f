// The state file's schema: version 1. Parsed field by field, so that a damaged file fails with the path of the
// first bad field rather than with a crash somewhere later; unknown fields are kept out of the typed value.
import { CantainerError, describeValue } from '../errors.js';
import { checkBus, type Bus, type Member, type MemberEnd } from '../bus/model.js';

export const STATE_VERSION = 1;

export interface DesiredState {
  readonly buses: readonly Bus[];
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StateFormatError(field, `${describeValue(value)} is not an object`);
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

function parseEnd(value: Json, field: string): MemberEnd {
  const raw = object(value, field);
  return {
    name: string(raw.name, `${field}.name`),
    ...(raw.netns === undefined ? {} : { netns: string(raw.netns, `${field}.netns`) }),
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
    ...annotations(raw.annotations, `${field}.annotations`),
  };
}

function parseBus(value: Json, field: string): Bus {
  const raw = object(value, field);
  const bus: Bus = {
    id: string(raw.id, `${field}.id`),
    name: string(raw.name, `${field}.name`),
    fd: boolean(raw.fd, `${field}.fd`),
    members: array(raw.members, `${field}.members`).map((member, i) => parseMember(member, `${field}.members[${i}]`)),
    ...annotations(raw.annotations, `${field}.annotations`),
  };
  try {
    checkBus(bus);
  } catch (error) {
    throw new StateFormatError(field, error instanceof Error ? error.message : String(error));
  }
  return bus;
}

export function parseState(text: string): DesiredState {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateFormatError('file', `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const raw = object(json, 'file');
  if (raw.version !== STATE_VERSION) {
    throw new StateFormatError('version', `${describeValue(raw.version)} is not a state version this cantainer reads (it reads version ${STATE_VERSION})`);
  }
  const buses = array(raw.buses, 'buses').map((bus, i) => parseBus(bus, `buses[${i}]`));
  const ids = new Set<string>();
  for (const [i, bus] of buses.entries()) {
    if (ids.has(bus.id)) throw new StateFormatError(`buses[${i}].id`, `${describeValue(bus.id)} appears twice`);
    ids.add(bus.id);
  }
  return { buses };
}

export function serializeState(state: DesiredState): string {
  return `${JSON.stringify({ version: STATE_VERSION, buses: state.buses }, null, 2)}\n`;
}
