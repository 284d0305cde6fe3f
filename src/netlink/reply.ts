// Collects the kernel's reply to one request out of the datagrams read from a netlink socket. Pure: the
// transport feeds it bytes, it says when the reply is complete and what it holds.
import { MalformedMessageError } from '../errors.js';
import { ackFromErrno, decodeAck, decodeMessages, extendedAckMessage, type NetlinkAck, type NetlinkMessage } from './message.js';
import { NlMsgType, NlmF } from './constants.js';

export interface Reply {
  /** Data messages of the reply (dump entries, echoed objects); acknowledgements and NLMSG_DONE excluded. */
  readonly messages: readonly NetlinkMessage[];
  /** The failure the kernel reported, if any. */
  readonly error: NetlinkAck | undefined;
  /** The kernel flagged the dump as inconsistent (NLM_F_DUMP_INTR): the object set changed while it was read. */
  readonly interrupted: boolean;
}

export class ReplyCollector {
  readonly #seq: number;
  readonly #dump: boolean;
  readonly #messages: NetlinkMessage[] = [];
  #error: NetlinkAck | undefined;
  #interrupted = false;
  #complete = false;

  /** `dump` replies end with NLMSG_DONE; other requests must carry NLM_F_ACK and end with NLMSG_ERROR. */
  constructor(seq: number, dump: boolean) {
    this.#seq = seq >>> 0;
    this.#dump = dump;
  }

  get complete(): boolean {
    return this.#complete;
  }

  /** Feeds one datagram; returns true once the reply is complete. Messages for other sequence numbers are stale and skipped. */
  accept(datagram: Buffer): boolean {
    for (const message of decodeMessages(datagram)) {
      if (this.#complete || message.seq !== this.#seq) continue;
      if ((message.flags & NlmF.DUMP_INTR) !== 0) this.#interrupted = true;
      if (message.type === NlMsgType.ERROR) {
        const ack = decodeAck(message);
        if (ack.errno !== 0) this.#error = ack;
        this.#complete = true;
      } else if (message.type === NlMsgType.DONE) {
        this.#acceptDone(message);
      } else if (message.type !== NlMsgType.NOOP) {
        this.#messages.push(message);
      }
    }
    return this.#complete;
  }

  // NLMSG_DONE carries an int: 0, or a negative errno when the dump itself failed part-way, then optional
  // extended-ack attributes.
  #acceptDone(message: NetlinkMessage): void {
    if (!this.#dump) throw new MalformedMessageError('netlink reply', `NLMSG_DONE for request ${this.#seq}, which was not a dump`);
    if (message.payload.length >= 4) {
      const status = message.payload.readInt32LE(0);
      if (status > 0) throw new MalformedMessageError('netlink reply', `NLMSG_DONE status ${status} is positive`);
      if (status < 0) {
        const extended =
          (message.flags & NlmF.ACK_TLVS) !== 0 ? extendedAckMessage(message.payload.subarray(4), 'netlink NLMSG_DONE') : undefined;
        this.#error = ackFromErrno(-status, extended, message);
      }
    }
    this.#complete = true;
  }

  result(): Reply {
    if (!this.#complete) throw new Error(`reply to netlink request ${this.#seq} is not complete yet`);
    return { messages: this.#messages, error: this.#error, interrupted: this.#interrupted };
  }
}
