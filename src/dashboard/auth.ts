// Who may see the dashboard. Without a token: whoever reaches the address, which is then a local one (the daemon
// refuses a non-local address without --http-token). With one: a request shows it as `Authorization: Bearer TOKEN`
// (scripts, Prometheus), or as the cookie the page sets after it is opened once as /?token=TOKEN (browsers: the
// live streams cannot send headers). The token is compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidValueError } from '../errors.js';
import type { Logger } from '../log.js';
import { answerText } from '../transport/http-server.js';

const COOKIE = 'cantainer_token';
const MIN_TOKEN = 16;

/** Reads `--http-token FILE`: its first line, at least 16 characters. */
export function readTokenFile(file: string, log: Logger): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidValueError('--http-token', file, `a readable file holding a token (${(error as Error).message})`);
  }
  const token = text.split('\n')[0]?.trim() ?? '';
  if (token.length < MIN_TOKEN || /\s/u.test(token))
    throw new InvalidValueError('--http-token', file, `a file whose first line is a token of ${MIN_TOKEN} or more characters, no spaces`);
  if ((statSync(file).mode & 0o077) !== 0) log.warn('the dashboard token file can be read by other users: chmod 600 it', { file });
  return token;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function cookieValue(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export class Gate {
  readonly #token: Buffer | undefined;

  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : digest(token);
  }

  #matches(candidate: string | undefined): boolean {
    return this.#token !== undefined && candidate !== undefined && timingSafeEqual(digest(candidate), this.#token);
  }

  /** Whether the request may be answered; if not, it has been answered (401, or the page's redirect). */
  admit(request: IncomingMessage, response: ServerResponse, path: string): boolean {
    if (this.#token === undefined) return true;
    const bearer = /^Bearer\s+(\S+)$/iu.exec(request.headers.authorization ?? '')?.[1];
    if (this.#matches(bearer) || this.#matches(cookieValue(request))) return true;
    const query = new URL(request.url ?? '/', 'http://dashboard').searchParams.get('token') ?? undefined;
    if (path === '/' && this.#matches(query)) {
      // The token leaves the address bar (and the history) at once; the browser keeps it as a cookie.
      response
        .writeHead(303, {
          Location: '/',
          'Set-Cookie': `${COOKIE}=${encodeURIComponent(query ?? '')}; HttpOnly; SameSite=Strict; Path=/`,
          'Cache-Control': 'no-store',
        })
        .end();
      return false;
    }
    answerText(response, 401, 'this dashboard needs its token: open /?token=TOKEN once, or send Authorization: Bearer TOKEN\n', {
      'WWW-Authenticate': 'Bearer realm="cantainer"',
    });
    return false;
  }
}
