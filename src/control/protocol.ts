// The control protocol in one place: every method of the daemon's control socket with the body it takes and the
// answer it gives. The server's handlers are typed against this map (a handler that answers another shape does not
// compile), and so is the one client every front door uses (the commands, the CNI and netavark plugins). Types and
// constants only: loading it loads nothing of the service.
import type { Gateway } from '../bus/gateway.js';
import type { GatewayFlags } from '../bus/gateway-spec.js';
import type { Tunnel, TunnelTransport } from '../bus/tunnel.js';
import type { Span, SpanMode } from '../bus/span.js';
import type { Uplink, UplinkDirection } from '../bus/uplink.js';
import type { BusEvent } from '../service/events.js';
import type { TunnelCounters } from '../tunnel/counters.js';

export const DEFAULT_CONTROL_SOCKET = '/run/cantainer/control.sock';

export const CONTROL_SOCKET_ENV = 'CANTAINER_CONTROL_SOCKET';

/** The member annotation with the name people know a member's container by (set by the plugins that attach by name). */
export const CONTAINER_ANNOTATION = 'container';

/** A bus in `cantainer ls`. */
export interface BusEntry {
  readonly name: string;
  readonly id: string;
  readonly fd: boolean;
  readonly members: number;
  readonly gateways: number;
  readonly uplinks: number;
  readonly frames: number;
  readonly dropped: number;
  /** The bus's namespace file: tools read its `monitor` interface there. */
  readonly namespace: string;
  /** A bus spanning nodes: how, and this node's part (absent until the nodes are known). */
  readonly span?: SpanSummary;
  /** A timed bus (bitrate=N): its bit rates, its load, the frames it lost for lack of bus time. */
  readonly timing?: TimingSummary;
}

/** A timed bus's settings and traffic. */
export interface TimingSummary {
  /** Nominal bit rate, bit/s. */
  readonly bitrate: number;
  /** Data-phase bit rate of FD frames that switch, bit/s. */
  readonly dbitrate?: number;
  /** The share of the bus's time frames took over the last 5 seconds, 0..1 (absent while the arbiter is not running). */
  readonly load?: number;
  /** Frames that crossed the bus since the daemon started. */
  readonly frames?: number;
  /** Frames waiting for the bus now. */
  readonly waiting?: number;
  /** Frames lost: bus-full (the sender's queue was full), unwired (their sender or way on went away), fault (a fault lost them). */
  readonly dropped?: Readonly<Record<'bus-full' | 'unwired' | 'fault', number>>;
  /** The interface host tools send on in the bus's namespace (the monitor only shows what crossed). */
  readonly inject: string;
}

/** A spanned bus's settings and this node's part in it. */
export interface SpanSummary {
  readonly mode: SpanMode;
  /** hub: this node's bus is the one the others connect to; spoke: it connects to the hub. */
  readonly role?: 'hub' | 'spoke';
  /** HOST:PORT of the hub. */
  readonly hub?: string;
  /** On the hub: the nodes that may connect. */
  readonly nodes?: readonly string[];
}

/** A gateway as the API shows it: its settings, the name of the bus that declares it, and its status. */
export type GatewayEntry = Omit<Gateway, 'declaredBy'> & {
  /** The bus whose settings declare it (then it goes with that bus), or absent when added by hand. */
  readonly declaredBy?: string;
  readonly state: 'wired' | 'waiting' | 'refused';
  /** Why it is not wired: the missing buses, or the reason it is refused. */
  readonly detail?: string;
};

/** An uplink with its bus and whether its interface is there. */
export type UplinkEntry = Uplink & {
  readonly bus: string;
  readonly state: 'up' | 'down';
  readonly detail?: string;
};

/** A tunnel as the API shows it: its settings, its bus, its state and counters. */
export type TunnelEntry = Tunnel & {
  readonly bus: string;
  readonly state: 'up' | 'failed' | 'stopped';
  readonly detail?: string;
  readonly peers?: readonly string[];
  readonly counters?: TunnelCounters;
};

/** A member in `cantainer inspect`. */
export interface InspectMember {
  readonly id: string;
  /** The member's end in the bus namespace. */
  readonly hostEnd: string;
  readonly container?: string;
  readonly interface?: string;
  /** The namespace file a CNI or netavark member was made in. */
  readonly netns?: string;
  readonly send?: readonly string[];
  readonly receive?: readonly string[];
}

/** A kernel rule of a bus with its counters. */
export interface RuleEntry {
  readonly source: string;
  readonly destination: string;
  readonly fd: boolean;
  /** `ID/MASK` in hex, when the rule filters. */
  readonly filter?: string;
  /** The fields the rule edits. */
  readonly edits?: readonly string[];
  readonly handled: number;
  readonly dropped: number;
  readonly deleted: number;
}

/** One bus in detail: what `cantainer inspect` prints. */
export interface BusDetail {
  readonly name: string;
  readonly id: string;
  readonly fd: boolean;
  /** A bus spanning nodes, with its tunnel to (or from) the other nodes: state, peers, counters. */
  readonly span?: SpanSummary & { readonly tunnel?: TunnelEntry };
  readonly timing?: TimingSummary;
  /**
   * The interface in the bus's namespace where `send` and `replay` put frames: `monitor`, or `inject` when the
   * daemon's arbiter carries the bus's frames (a timed bus, faults that lose or delay frames).
   */
  readonly sendOn?: string;
  /** The bus's faults (`cantainer fault`), when it has some. */
  readonly faults?: readonly FaultEntry[];
  readonly namespace: string;
  readonly frames: number;
  readonly dropped: number;
  readonly members: readonly InspectMember[];
  readonly gateways: readonly GatewayEntry[];
  readonly uplinks: ReadonlyArray<{
    readonly interface: string;
    readonly direction: UplinkDirection;
    readonly state: 'up' | 'down';
    readonly detail?: string;
  }>;
  readonly rules: readonly RuleEntry[];
  /** What differs between the bus's plan and the kernel, one change a line. */
  readonly drift: readonly string[];
}

/** The buses of a host as `cantainer topology` and the dashboard draw them: who is on which bus, what joins them. */
export interface Topology {
  readonly buses: readonly TopologyBus[];
  /** Every gateway once (a gateway both ways is one entry with `both`). */
  readonly gateways: readonly TopologyGateway[];
}

/** One bus of a topology with its counters (the kernel's, since the bus was wired). */
export interface TopologyBus {
  readonly name: string;
  readonly id: string;
  readonly fd: boolean;
  /** A timed bus's bit rates (bit/s) and load (0..1 over the last 5 seconds). */
  readonly bitrate?: number;
  readonly dbitrate?: number;
  readonly load?: number;
  /** Frames the bus carried, each counted once. */
  readonly frames: number;
  /** Frames lost: those the kernel could not deliver, and a timed bus's for lack of bus time or to faults. */
  readonly dropped: number;
  readonly members: readonly TopologyMember[];
  readonly uplinks: ReadonlyArray<{
    readonly interface: string;
    readonly direction: UplinkDirection;
    readonly state: 'up' | 'down';
    /** Frames from the interface onto the bus. */
    readonly frames: number;
  }>;
  readonly tunnels: readonly TopologyTunnel[];
  /** Its faults in words ("drop 10%", "engine: off"). */
  readonly faults: readonly string[];
  /** Differences between the bus's plan and the kernel (0: as planned). */
  readonly drift: number;
  /** A bus spanning nodes: this node's part. */
  readonly span?: SpanSummary;
}

/** A member as a topology shows it. */
export interface TopologyMember {
  readonly id: string;
  /** Its container's (or pod's) name; `host` for an interface on the host; else the first 12 characters of its id. */
  readonly name: string;
  /** The interface inside the container, when known. */
  readonly interface?: string;
  /** Its end in the bus's namespace. */
  readonly hostEnd: string;
  /** Frames it put on the bus. */
  readonly frames: number;
  /** Its faults in words. */
  readonly faults?: readonly string[];
}

/** A tunnel as a topology shows it. */
export interface TopologyTunnel {
  readonly name: string;
  readonly transport: TunnelTransport;
  readonly listen?: string;
  readonly peer?: string;
  /** TCP: who is connected now. */
  readonly peers?: readonly string[];
  readonly state: 'up' | 'failed' | 'stopped';
  readonly detail?: string;
  /** Frames from the network onto the bus, and from the bus out. */
  readonly framesIn: number;
  readonly framesOut: number;
}

/** A gateway as a topology shows it. */
export interface TopologyGateway {
  readonly source: string;
  readonly destination: string;
  readonly both: boolean;
  readonly state: 'wired' | 'waiting' | 'refused';
  readonly detail?: string;
  /** Its filters and edits as `gateway add` flags (`--accept 7E0 --set id=123`); empty: every frame, unchanged. */
  readonly settings: string;
  /** Frames that crossed from source to destination, and back (both ways only). */
  readonly frames: number;
  readonly framesBack?: number;
}

/** What Member.Attach takes: a member made straight in a namespace file, on a bus found (or made) by name. */
export interface AttachRequest {
  readonly bus: string;
  /** The absolute path of the container's network namespace file. */
  readonly netns: string;
  readonly member: string;
  readonly interface: string;
  /** Make the bus (transient) when none has that name. */
  readonly create?: boolean;
  readonly fd?: boolean;
  readonly send?: readonly string[];
  readonly receive?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** Notes kept with a bus made by this attach. */
  readonly busAnnotations?: Readonly<Record<string, string>>;
  /** One bus with the buses of that name on other nodes (`mode` "nodes", with `hub` and `nodes`). */
  readonly span?: Pick<Span, 'mode' | 'hub' | 'nodes'>;
  /** A timed bus: its nominal bit rate, bit/s (a bus made now takes it; an existing bus must have the same). */
  readonly bitrate?: number;
  /** Its data-phase bit rate, bit/s (FD buses, with bitrate). */
  readonly dbitrate?: number;
}

/** What Member.Attach answers. */
export interface AttachAnswer {
  readonly bus: string;
  readonly id: string;
  readonly fd: boolean;
  readonly mtu: number;
  /** The bus was made by this attach. */
  readonly created: boolean;
  readonly member: string;
  readonly interface: string;
  readonly netns: string;
}

/** A member as Member.List shows it. */
export interface MemberEntry {
  readonly id: string;
  readonly interface: string;
  readonly netns?: string;
  readonly since?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

/** What Tunnel.Add takes: the command line's flags by their long names. */
export interface TunnelRequest {
  readonly bus: string;
  readonly transport: TunnelTransport;
  readonly name?: string;
  readonly listen?: string;
  readonly peer?: string;
  readonly timeoutUs?: number;
  readonly mtu?: number;
  readonly allow?: readonly string[];
}

/** A fault as the API shows it: what it does, to whom (the member's id, and its container when known), until when. */
export interface FaultEntry {
  readonly bus: string;
  readonly id: string;
  readonly member?: string;
  readonly container?: string;
  readonly drop?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly off?: true;
  /** ISO 8601; until removed when absent. */
  readonly until?: string;
  /** In words: "drop 10%", "delay 20 ms ± 5 ms", "off (neither sends nor receives)". */
  readonly detail: string;
}

/** What Fault.Add takes: the command line's flags; `member` is a container's name or a member's id. */
export interface FaultRequestBody {
  readonly bus: string;
  readonly member?: string;
  readonly drop?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly off?: boolean;
  readonly forMs?: number;
}

/** What Daemon.Status answers. */
export interface DaemonStatus {
  readonly version: string;
  readonly pid: number;
  readonly startedAt?: string;
  readonly stateFile?: string;
  /** Why the state file could not be used at start (it was set aside). */
  readonly stateProblem?: string;
  readonly buses: number;
}

type NoBody = Readonly<Record<string, never>>;

/** Every request-and-answer method of the control socket: `POST /<method>` with `request`, answered with `answer`. */
export interface ControlMethods {
  'Bus.List': { request: NoBody; answer: { buses: BusEntry[] } };
  /** `bus`: a name, or an id. */
  'Bus.Inspect': { request: { bus: string }; answer: BusDetail };
  'Bus.Repair': { request: { bus: string }; answer: { bus: string; changes: string[] } };
  /** `wait`: take a gateway naming a bus that does not exist yet, wired once it does (refused otherwise). */
  'Gateway.Add': { request: GatewayFlags & { source: string; destination: string; wait?: boolean }; answer: { gateway: GatewayEntry } };
  /** `removed`: the gateway as `gateway ls` shows it (`a <-> b` when it went both ways). */
  'Gateway.Remove': { request: { source: string; destination: string }; answer: { removed: string; both: boolean } };
  'Gateway.List': { request: NoBody; answer: { gateways: GatewayEntry[] } };
  'Uplink.Add': {
    request: { bus: string; interface: string; direction?: UplinkDirection; accept?: readonly string[]; reject?: readonly string[] };
    answer: { uplink: UplinkEntry };
  };
  'Uplink.Remove': { request: { bus: string; interface: string }; answer: { removed: string } };
  'Uplink.List': { request: NoBody; answer: { uplinks: UplinkEntry[] } };
  'Tunnel.Add': { request: TunnelRequest; answer: { tunnel: TunnelEntry } };
  'Tunnel.Remove': { request: { bus: string; name: string }; answer: { removed: string } };
  'Tunnel.List': { request: NoBody; answer: { tunnels: TunnelEntry[] } };
  'Member.Attach': { request: AttachRequest; answer: AttachAnswer };
  'Member.Detach': { request: { bus: string; member: string }; answer: { removed: boolean; busRemoved: boolean } };
  'Member.Check': { request: { bus: string; member: string }; answer: { problems: string[] } };
  'Member.List': { request: { bus: string; annotation?: string }; answer: { members: MemberEntry[] } };
  'Daemon.Status': { request: NoBody; answer: DaemonStatus };
  'Fault.Add': { request: FaultRequestBody; answer: { fault: FaultEntry } };
  /** `ids`: those faults of the bus; all of them when absent or empty. */
  'Fault.Remove': { request: { bus: string; ids?: readonly string[] }; answer: { removed: FaultEntry[] } };
  'Fault.List': { request: { bus?: string }; answer: { faults: FaultEntry[] } };
  /** `buses`: only these (names or ids) and the gateways between them; all when absent or empty. */
  'Topology.Get': { request: { buses?: readonly string[] }; answer: Topology };
}

/** Methods answered with a stream of newline-delimited JSON values, with the type of each value. */
export interface ControlStreams {
  'Events.Stream': BusEvent;
}

export type ControlMethod = keyof ControlMethods;
export type ControlRequest<M extends ControlMethod> = ControlMethods[M]['request'];
export type ControlAnswer<M extends ControlMethod> = ControlMethods[M]['answer'];
export type ControlStream = keyof ControlStreams;

// The plugins check a timed bus's settings as the daemon will, so that a network is refused when it is made.
export { checkTiming, parseBitrate } from '../bus/timing.js';
