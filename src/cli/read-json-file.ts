import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AccordError, isAccordError } from '../errors/index.js';

/** Largest JSON document the CLI reads; a product at its schema limits stays well below this. */
export const MAX_JSON_FILE_BYTES = 64 * 1024 * 1024;

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'a parent of it is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function unreadable(
  what: string,
  file: string,
  reason: string,
  cause?: unknown,
): AccordError<'INPUT_INVALID'> {
  return new AccordError(
    'INPUT_INVALID',
    `cannot read ${what} file '${oneLine(file)}': ${reason}`,
    { file },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads and parses one JSON file, relative paths against `cwd`. Every failure (missing,
 * unreadable, too large, malformed) is an INPUT_INVALID AccordError whose message names the
 * file as given and what kind of document it was meant to be (`what`, e.g. "product").
 */
export async function readJsonFile(file: string, cwd: string, what: string): Promise<unknown> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw unreadable(what, file, FS_REASONS.EISDIR ?? 'it is a directory');
    if (info.size > MAX_JSON_FILE_BYTES) {
      throw unreadable(what, file, `it is larger than ${MAX_JSON_FILE_BYTES / (1024 * 1024)} MiB`);
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof AccordError) throw error;
    const code = (error as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? (FS_REASONS[code] ?? code) : 'read failed';
    throw unreadable(what, file, reason, error);
  }
  // attacker-controlled: the file may be anything; only its parse result leaves this function.
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  } catch (error) {
    const detail = error instanceof Error ? oneLine(error.message) : 'parse failed';
    throw new AccordError(
      'INPUT_INVALID',
      `${what} file '${oneLine(file)}' is not valid JSON: ${detail}`,
      { file },
      { cause: error },
    );
  }
}

/** Reads a JSON file and runs `parse` on it, prefixing any AccordError with the file so the user knows which one. */
export async function readDocument<T>(
  file: string,
  cwd: string,
  what: string,
  parse: (input: unknown) => T,
): Promise<T> {
  const input = await readJsonFile(file, cwd, what);
  try {
    return parse(input);
  } catch (error) {
    if (!isAccordError(error)) throw error;
    throw new AccordError(
      error.code,
      `${file}: ${error.message}`,
      { ...error.details, file },
      { cause: error },
    );
  }
}
