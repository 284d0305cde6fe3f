// Structured logs: one JSON object per line, with a time, a level, a message and the fields of the event (bus,
// member, method, duration). Nothing is logged in frame paths.
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(level: LogLevel, write: (line: string, at: LogLevel) => void, now: () => Date = () => new Date()): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit =
    (at: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      if (LOG_LEVELS.indexOf(at) < threshold) return;
      const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
      write(`${JSON.stringify({ time: now().toISOString(), level: at, msg: message, ...defined })}\n`, at);
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/**
 * Where a daemon's line goes: warnings and errors to standard error, the rest to standard output. Docker logs what a
 * managed plugin writes on standard error at its error level, and the rest at info.
 */
export function writeToStdio(line: string, at: LogLevel): void {
  (at === 'warn' || at === 'error' ? process.stderr : process.stdout).write(line);
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger('error', () => undefined);

/** A logger that keeps its lines, for tests that do. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { readonly lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return Object.assign(logger, { lines });
}
