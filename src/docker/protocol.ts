// libnetwork's remote network driver protocol: the request and response shapes of each endpoint, and parsers that
// turn a request body into a typed value. Requests accept unknown fields (the protocol grew over Engine versions);
// missing or mistyped fields the driver needs are refused with their name.
import { InvalidValueError, errorMessage } from '../errors.js';

export interface IpamData {
  readonly AddressSpace?: string;
  readonly Pool?: string;
  readonly Gateway?: string;
}

export interface CreateNetworkRequest {
  readonly NetworkID: string;
  /** Docker's keys (`com.docker.network.enable_ipv6`, ...) and the user's under `com.docker.network.generic`. */
  readonly Options: Readonly<Record<string, unknown>>;
  readonly IPv4Data: readonly IpamData[];
}

export interface NetworkRequest {
  readonly NetworkID: string;
}

export interface EndpointRequest {
  readonly NetworkID: string;
  readonly EndpointID: string;
}

export interface CreateEndpointRequest extends EndpointRequest {
  readonly Interface: { readonly Address: string; readonly AddressIPv6: string; readonly MacAddress: string };
  readonly Options: Readonly<Record<string, unknown>>;
}

export interface JoinRequest extends EndpointRequest {
  readonly SandboxKey: string;
}

export interface JoinResponse {
  readonly InterfaceName: { readonly SrcName: string; readonly DstPrefix: string; readonly DstName?: string };
  readonly DisableGatewayService: boolean;
}

export interface CapabilitiesResponse {
  readonly Scope: 'local' | 'global';
  readonly ConnectivityScope: 'local' | 'global';
  readonly GwAllocChecker: boolean;
}

type Body = Readonly<Record<string, unknown>>;

export const ACTIVATE = { Implements: ['NetworkDriver'] } as const;
export const CAPABILITIES: CapabilitiesResponse = { Scope: 'local', ConnectivityScope: 'local', GwAllocChecker: true };

/**
 * The answers that depend on nothing: a starting daemon gives them before its buses are loaded, since Docker gives
 * up on a plugin whose socket does not answer Activate soon enough.
 */
export const STATIC_ANSWERS: Readonly<Record<string, object>> = {
  '/Plugin.Activate': ACTIVATE,
  '/NetworkDriver.GetCapabilities': CAPABILITIES,
};

/** The request body as an object: Docker sends an empty body to Activate and GetCapabilities. */
export function parseBody(text: string): Body {
  if (text.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidValueError(
      'request body',
      `${text.slice(0, 80)}${text.length > 80 ? '...' : ''}`,
      `a JSON object (${errorMessage(error)})`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidValueError('request body', json, 'a JSON object');
  return json as Body;
}

const ID_MAX = 256;

function id(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > ID_MAX || !/^[\x21-\x7e]+$/u.test(value)) {
    throw new InvalidValueError(key, value, `an id of 1..${ID_MAX} printable characters`);
  }
  return value;
}

function optionalObject(body: Body, key: string): Readonly<Record<string, unknown>> {
  const value = body[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidValueError(key, value, 'an object');
  return value as Record<string, unknown>;
}

function optionalString(body: Body, key: string, field = key): string {
  const value = body[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InvalidValueError(field, value, 'a string');
  return value;
}

export function parseNetworkRequest(body: Body): NetworkRequest {
  return { NetworkID: id(body, 'NetworkID') };
}

export function parseEndpointRequest(body: Body): EndpointRequest {
  return { NetworkID: id(body, 'NetworkID'), EndpointID: id(body, 'EndpointID') };
}

export function parseCreateNetwork(body: Body): CreateNetworkRequest {
  const ipv4 = body.IPv4Data;
  if (ipv4 !== undefined && ipv4 !== null && !Array.isArray(ipv4)) throw new InvalidValueError('IPv4Data', ipv4, 'an array');
  return {
    NetworkID: id(body, 'NetworkID'),
    Options: optionalObject(body, 'Options'),
    IPv4Data: Array.isArray(ipv4) ? (ipv4 as IpamData[]) : [],
  };
}

export function parseCreateEndpoint(body: Body): CreateEndpointRequest {
  const iface = optionalObject(body, 'Interface');
  return {
    ...parseEndpointRequest(body),
    Interface: {
      Address: optionalString(iface, 'Address', 'Interface.Address'),
      AddressIPv6: optionalString(iface, 'AddressIPv6', 'Interface.AddressIPv6'),
      MacAddress: optionalString(iface, 'MacAddress', 'Interface.MacAddress'),
    },
    Options: optionalObject(body, 'Options'),
  };
}

export function parseJoin(body: Body): JoinRequest {
  return { ...parseEndpointRequest(body), SandboxKey: optionalString(body, 'SandboxKey') };
}

/** The driver options of CreateNetwork (`-o` / compose `driver_opts`), always strings in Docker's requests. */
export function genericOptions(options: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const generic = options['com.docker.network.generic'];
  if (generic === undefined || generic === null) return {};
  if (typeof generic !== 'object' || Array.isArray(generic))
    throw new InvalidValueError('Options["com.docker.network.generic"]', generic, 'an object');
  return generic as Record<string, unknown>;
}

/** True when Docker's IPAM handed the network an address pool (it did not use `--ipam-driver null`). */
export function usesAddressPool(ipv4: readonly IpamData[]): boolean {
  return ipv4.some((data) => typeof data.AddressSpace === 'string' && data.AddressSpace !== 'null' && data.Pool !== '0.0.0.0/0');
}
