// Talks to a plugin socket the way Docker's plugin client does: POST, no Content-Type, JSON bodies with a trailing
// newline, an empty body for Activate and GetCapabilities.
import { request } from 'node:http';

export interface PluginAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export function post(socketPath: string, path: string, body?: object | string, timeoutMs = 10_000): Promise<PluginAnswer> {
  const text = body === undefined ? '' : typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        agent: false,
        headers: {
          Accept: 'application/vnd.docker.plugins.v1.2+json',
          Host: 'plugin.moby.localhost',
          'Content-Length': Buffer.byteLength(text),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(raw) as Record<string, unknown> });
          } catch {
            reject(new Error(`not JSON from ${path}: ${raw}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}

/** Docker's requests for one container on one network, in the order Docker sends them. */
export const dockerRequests = {
  createNetwork: (id: string, generic: Record<string, string> = {}, nullIpam = true): object => ({
    NetworkID: id,
    Options: { 'com.docker.network.enable_ipv4': true, 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic },
    IPv4Data: [
      nullIpam
        ? { AddressSpace: 'null', Pool: '0.0.0.0/0' }
        : { AddressSpace: 'LocalDefault', Pool: '172.18.0.0/16', Gateway: '172.18.0.1/16' },
    ],
    IPv6Data: null,
  }),
  createEndpoint: (network: string, endpoint: string, options: Record<string, unknown> = {}, mac = ''): object => ({
    NetworkID: network,
    EndpointID: endpoint,
    Interface: { Address: '', AddressIPv6: '', MacAddress: mac },
    Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [], ...options },
  }),
  join: (network: string, endpoint: string): object => ({
    NetworkID: network,
    EndpointID: endpoint,
    SandboxKey: '/var/run/docker/netns/6d2f0c1b9a87',
    Options: {},
  }),
  endpoint: (network: string, endpoint: string): object => ({ NetworkID: network, EndpointID: endpoint }),
  network: (network: string): object => ({ NetworkID: network }),
};
