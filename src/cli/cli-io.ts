import pc from 'picocolors';

/** A place the CLI writes text to: process.stdout in production, a buffer in tests. */
export interface CliStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Everything the CLI takes from its process, passed in so commands run in-process under test. */
export interface CliIo {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory that relative file arguments are resolved against. */
  readonly cwd: string;
  /** Clock for defaults such as `--at`, epoch milliseconds; the system clock when absent. */
  readonly now?: () => number;
}

/** Colour functions for human output: on for a terminal, off for pipes, tests and `NO_COLOR` (no-color.org). */
export function colorsFor(io: CliIo): ReturnType<typeof pc.createColors> {
  const forced = io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0';
  const enabled = io.env.NO_COLOR === undefined && (forced || io.stdout.isTTY === true);
  return pc.createColors(enabled);
}

// C0/C1 controls (terminal escapes) and bidi overrides (Trojan Source, CVE-2021-42574).
function isUnprintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * Text from a document made safe to print on one terminal line: line breaks and tabs become
 * spaces, escapes and bidi controls become U+FFFD so a file cannot repaint the screen.
 */
export function printable(text: string): string {
  // attacker-controlled: titles and portion text come from product files written by others.
  let out = '';
  for (const char of text.replace(/[\t\n\r]+/g, ' '))
    out += isUnprintable(char.charCodeAt(0)) ? '\uFFFD' : char;
  return out;
}

/** Writes one line (a newline is added). */
export function writeLine(stream: CliStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** Writes a value as indented JSON followed by a newline. */
export function writeJson(stream: CliStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}
