// The CNI plugin's process: `bin/cantainer` runs this instead of the command line whenever CNI_COMMAND is set, so a
// link or copy named `cantainer` in the runtime's CNI bin directory is the whole install.
import { readStdin } from '../control/client.js';
import { runCni } from './plugin.js';

export async function cniMain(): Promise<number> {
  const outcome = await runCni(process.env, await readStdin());
  process.stdout.write(outcome.stdout);
  if (outcome.stderr !== undefined) process.stderr.write(outcome.stderr);
  return outcome.exitCode;
}
