// The names the artefacts of `npm run package` go by, in one place for the builders and what runs them.

/** This machine's architecture as Debian and OCI name it (Node.js says x64 where they say amd64). */
export function packageArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** The self-contained executable's file name: cantainer-<version>-linux-<arch>, with Node.js's name of the arch. */
export function executableName(version: string): string {
  return `cantainer-${version}-linux-${process.arch}`;
}
