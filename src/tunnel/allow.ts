// Who may reach a tunnel: its `allow` entries as a kernel-style address match, addresses compared in canonical form
// (IPv4-mapped IPv6 addresses, what a dual-stack socket reports for IPv4 peers, taken as the IPv4 addresses they are).
import { BlockList } from 'node:net';
import { parseCidr } from '../bus/tunnel.js';

export type AddressCheck = (address: string) => boolean;

/**
 * A peer's address as a socket reports it, in canonical form. The kernel writes addresses canonically already
 * (inet_ntop): only an IPv4-mapped one needs taking as IPv4. Cheap, for every datagram; addresses people write go
 * through canonicalAddress instead.
 */
export function reportedAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/u.exec(address);
  return mapped?.[1] ?? address;
}

/** A check for the entries, or undefined when there are none. */
export function allowCheck(entries: readonly string[]): AddressCheck | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const cidr = parseCidr('allow', entry);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    const plain = reportedAddress(address);
    return list.check(plain, plain.includes(':') ? 'ipv6' : 'ipv4');
  };
}
