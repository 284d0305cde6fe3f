// The daemon's control API: what the `cantainer` commands and the CNI and netavark plugins ask of a running daemon,
// over its own socket (never Docker's plugin socket). POST /<Object>.<Verb> with a JSON body, a JSON answer,
// `{"Err": ...}` with a `Code` on failure. Every method of control/protocol.ts has its handler here; handlers parse
// and check, then call the bus service; nothing else.
import { BUS_HANDLERS, STREAM_HANDLERS } from './buses.js';
import { endpoints, type ControlHandlers, type StreamHandler } from './context.js';
import { GATEWAY_HANDLERS } from './gateways.js';
import { MEMBER_HANDLERS } from './members.js';
import type { ControlMethod, ControlStream } from './protocol.js';
import { TUNNEL_HANDLERS } from './tunnels.js';
import { FAULT_HANDLERS } from './faults.js';
import { TOPOLOGY_HANDLERS } from './topology.js';

export type { ControlContext } from './context.js';

/** A method of the protocol without its handler, or a handler answering another shape, does not compile. */
const HANDLERS = {
  ...BUS_HANDLERS,
  ...GATEWAY_HANDLERS,
  ...TUNNEL_HANDLERS,
  ...MEMBER_HANDLERS,
  ...FAULT_HANDLERS,
  ...TOPOLOGY_HANDLERS,
  ...STREAM_HANDLERS,
} satisfies ControlHandlers<ControlMethod> & { readonly [S in ControlStream]: StreamHandler };

export const CONTROL_ENDPOINTS = endpoints(HANDLERS);
