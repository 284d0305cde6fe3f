// The manual page, made from the commands themselves (their descriptions, arguments and options), so that it says
// exactly what --help says and cannot fall behind it.
import type { Command } from 'commander';

/** Escapes text for roff: backslashes, and a leading dot or quote that would read as a request. */
function roff(text: string): string {
  return text
    .replace(/\\/gu, '\\e')
    .replace(/-/gu, '\\-')
    .replace(/^([.'])/gmu, '\\&$1');
}

function usage(command: Command, path: readonly string[]): string {
  const args = command.registeredArguments.map((argument) => (argument.required ? `<${argument.name()}>` : `[${argument.name()}]`));
  return [...path, command.name(), ...(command.options.length > 0 ? ['[options]'] : []), ...args].join(' ');
}

function section(command: Command, path: readonly string[]): string[] {
  const lines: string[] = [];
  const runnable = command.commands.length === 0;
  if (runnable) {
    lines.push('.TP', `.B ${roff(usage(command, path))}`, roff(command.description()));
    for (const option of command.options) lines.push('.RS', '.TP', `.B ${roff(option.flags)}`, roff(option.description), '.RE');
  }
  for (const sub of command.commands) lines.push(...section(sub, [...path, command.name()]));
  return lines;
}

/** cantainer(1) in roff, for `man`: every command with its arguments and options. */
export function manPage(program: Command, version: string, date: string): string {
  return [
    `.TH CANTAINER 1 "${date}" "cantainer ${version}" "User Commands"`,
    '.SH NAME',
    `cantainer \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    '.B cantainer',
    '[\\fIoptions\\fR] \\fIcommand\\fR ...',
    '.SH DESCRIPTION',
    roff(
      'cantainer makes CAN buses container networks: every container on a bus gets a SocketCAN interface (a vxcan end) and sees every frame any other member sends, exactly once, in order. The daemon serves the Docker network plugin socket and a control socket; the commands below ask it. The same executable is the CNI plugin when CNI_COMMAND is set and the netavark plugin when called as cantainer-netavark or from a netavark plugin directory.',
    ),
    '.SH OPTIONS',
    ...program.options.flatMap((option) => ['.TP', `.B ${roff(option.flags)}`, roff(option.description)]),
    '.SH COMMANDS',
    ...program.commands.flatMap((command) => section(command, ['cantainer'])),
    '.SH FILES',
    '.TP',
    '.I /run/docker/plugins/cantainer.sock',
    "Docker's plugin socket (held by cantainer.socket under systemd).",
    '.TP',
    '.I /run/cantainer/control.sock',
    'the control socket the commands and the CNI and netavark plugins use.',
    '.TP',
    '.I /var/lib/cantainer',
    'the state: every bus, member, gateway, uplink and tunnel, restored when the daemon starts.',
    '.SH SEE ALSO',
    '.BR candump (1),',
    '.BR cansend (1),',
    '.BR docker-network-create (1)',
    '',
  ].join('\n');
}
