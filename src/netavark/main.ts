// The netavark plugin's process (bin/cantainer-netavark, installed as `cantainer` in a netavark_plugin_dirs directory).
import { readStdin } from '../control/client.js';
import { runNetavark } from './plugin.js';

export async function netavarkMain(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  // info and an unknown command read nothing: netavark gives info no stdin.
  const stdin = command === 'create' || command === 'setup' || command === 'teardown' ? await readStdin() : '';
  const outcome = await runNetavark(argv, stdin);
  process.stdout.write(outcome.stdout);
  return outcome.exitCode;
}
