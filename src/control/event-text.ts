// An event of the buses as a line people read, the same in `cantainer events` and on the dashboard. Loads nothing.
import type { ControlStreams } from './protocol.js';

/** An event as a line people read: time, type, then what it concerns. */
export function eventText(event: ControlStreams['Events.Stream']): string {
  const fields = (['bus', 'member', 'gateway', 'interface', 'tunnel', 'node', 'fault', 'detail'] as const).flatMap((key) => {
    const value = event[key];
    return value === undefined ? [] : [`${key}=${value.includes(' ') ? JSON.stringify(value) : value}`];
  });
  return [event.time, event.type, ...fields].join('  ');
}
