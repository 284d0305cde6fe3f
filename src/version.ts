import { readFileSync } from 'node:fs';

/** The package version, read from package.json so that there is one source of truth. */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  const parsed: unknown = JSON.parse(readFileSync(url, 'utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') return parsed.version;
  return '0.0.0';
}
