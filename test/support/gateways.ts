import type { Gateway } from '../../src/bus/gateway.js';

/** A gateway from `source` to `destination` that lets every frame through unchanged, with `more` on top. */
export const gateway = (source: string, destination: string, more: Partial<Gateway> = {}): Gateway => ({
  source,
  destination,
  both: false,
  accept: [],
  reject: [],
  edits: [],
  ...more,
});
