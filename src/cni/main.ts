// The CNI plugin's process: `bin/cantainer` runs this instead of the command line whenever CNI_COMMAND is set, so a
// link or copy named `cantainer` in the runtime's CNI bin directory is the whole install.
import { runCni } from './plugin.js';

async function readStdin(): Promise<string> {
  // VERSION may come with nothing on stdin, from a terminal: do not wait for it.
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function cniMain(): Promise<number> {
  const outcome = await runCni(process.env, await readStdin());
  process.stdout.write(outcome.stdout);
  return outcome.exitCode;
}
