import { readFileSync } from 'node:fs';

/** Set by the bundler when the code is built into one executable (there is no package.json beside it then). */
declare const CANTAINER_BUNDLED_VERSION: string | undefined;

/** The package version, read from package.json so that there is one source of truth. */
export function packageVersion(): string {
  if (typeof CANTAINER_BUNDLED_VERSION === 'string') return CANTAINER_BUNDLED_VERSION;
  const url = new URL('../../package.json', import.meta.url);
  const parsed: unknown = JSON.parse(readFileSync(url, 'utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') return parsed.version;
  return '0.0.0';
}
