// The colours of every picture: the Okabe–Ito palette, which people with the common kinds of colour blindness tell
// apart. Colour never carries meaning alone: a state is also written out, and what is down is drawn dashed.
export const COLOURS = {
  /** Buses: blue. */
  bus: '#0072B2',
  busFill: '#DCEBF5',
  /** Gateways: orange. */
  gateway: '#E69F00',
  gatewayFill: '#FFF4DC',
  /** Host interfaces (uplinks): bluish green. */
  uplink: '#009E73',
  /** Tunnels: reddish purple. */
  tunnel: '#CC79A7',
  /** Down, failed, refused, faulty: vermillion, dashed. */
  down: '#D55E00',
  member: '#333333',
  text: '#1A1A1A',
  muted: '#555555',
} as const;
