// Members by bus name over the control socket: what the plugins of engines without a network step of their own
// (CNI, netavark) ask of the daemon. Attach makes the member's end straight in a namespace file (the container's)
// under the name asked for; the bus is made on first use when asked, and goes when nothing is left on it.
import { InvalidValueError } from '../errors.js';
import type { Member } from '../bus/model.js';
import { busMtu } from '../bus/plan.js';
import { checkSpan, type Span, type SpanMode } from '../bus/span.js';
import type { ControlHandler, ControlHandlers, RequestBody } from './context.js';
import type { AttachAnswer, MemberEntry } from './protocol.js';
import { annotationsOf, optionalBoolean, optionalInteger, optionalText, strings, text } from './body.js';
import { timingFrom } from '../bus/timing.js';

/** A span of nodes as the request says it (`span`, `hub`, `nodes`, as the CNI configuration has them), checked. */
function spanOf(body: RequestBody): Span | undefined {
  const raw = body.span;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InvalidValueError('span', raw, 'an object: {mode, hub, nodes}');
  const fields = raw as RequestBody;
  const hub = optionalText(fields, 'hub');
  const nodes = strings(fields, 'nodes');
  const span: Span = {
    mode: text(fields, 'mode') as SpanMode,
    ...(hub === undefined ? {} : { hub }),
    ...(nodes === undefined ? {} : { nodes }),
  };
  checkSpan(span);
  return span;
}

const attachMember: ControlHandler<'Member.Attach'> = async (body, context) => {
  const busName = text(body, 'bus');
  const netns = text(body, 'netns');
  if (!netns.startsWith('/'))
    throw new InvalidValueError('netns', netns, 'the absolute path of a network namespace file (/run/netns/NAME, /proc/PID/ns/net)');
  const fd = optionalBoolean(body, 'fd');
  const send = strings(body, 'send');
  const receive = strings(body, 'receive');
  const annotations = annotationsOf(body, 'annotations');
  const busAnnotations = annotationsOf(body, 'busAnnotations');
  const span = spanOf(body);
  const timing = timingFrom(
    { bitrate: optionalInteger(body, 'bitrate'), dbitrate: optionalInteger(body, 'dbitrate') },
    fd ?? false,
    (key) => key,
  );
  const member: Member = {
    id: text(body, 'member'),
    end: { name: text(body, 'interface'), netns, up: true },
    ...(send === undefined ? {} : { send }),
    ...(receive === undefined ? {} : { receive }),
    ...(annotations === undefined ? {} : { annotations }),
  };
  const { bus, created } = await context.buses.attachMember(
    {
      bus: busName,
      create: optionalBoolean(body, 'create') === true,
      ...(fd === undefined ? {} : { fd }),
      ...(busAnnotations === undefined ? {} : { annotations: busAnnotations }),
      ...(span === undefined ? {} : { span }),
      ...(timing === undefined ? {} : { timing }),
    },
    member,
  );
  const answer: AttachAnswer = {
    bus: bus.name,
    id: bus.id,
    fd: bus.fd,
    mtu: busMtu(bus),
    created,
    member: member.id,
    interface: member.end.name,
    netns,
  };
  return answer;
};

const detachMember: ControlHandler<'Member.Detach'> = async (body, context) => {
  const result = await context.buses.detachMember(text(body, 'bus'), text(body, 'member'));
  return result;
};

const checkMember: ControlHandler<'Member.Check'> = (body, context) => ({
  problems: context.buses.memberProblems(text(body, 'bus'), text(body, 'member')),
});

const listMembers: ControlHandler<'Member.List'> = (body, context) => {
  const name = text(body, 'bus');
  const annotation = optionalText(body, 'annotation');
  const bus = context.buses.list().find((candidate) => candidate.name === name);
  const members: MemberEntry[] = (bus?.members ?? [])
    .filter((member) => annotation === undefined || member.annotations?.[annotation] !== undefined)
    .map((member) => ({
      id: member.id,
      interface: member.end.name,
      ...(member.end.netns === undefined ? {} : { netns: member.end.netns }),
      ...(member.since === undefined ? {} : { since: member.since }),
      annotations: member.annotations ?? {},
    }));
  return { members };
};

export const MEMBER_HANDLERS: ControlHandlers<'Member.Attach' | 'Member.Detach' | 'Member.Check' | 'Member.List'> = {
  'Member.Attach': attachMember,
  'Member.Detach': detachMember,
  'Member.Check': checkMember,
  'Member.List': listMembers,
};
