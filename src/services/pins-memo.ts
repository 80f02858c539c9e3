import type { ArrangementDocument } from '../arrangements/index.js';
import { type ArrangementPins, arrangementPins, type KeyOnRecord } from '../federation/index.js';

/** Arrangements whose pins are remembered; past this many the memo starts again (a node holds a few). */
export const PINS_REMEMBERED = 64;

/** A memo that starts again past `limit` entries. */
export function remember<T>(memo: Map<string, T>, key: string, limit: number, make: () => T): T {
  let value = memo.get(key);
  if (value === undefined) {
    value = make();
    if (memo.size >= limit) memo.clear();
    memo.set(key, value);
  }
  return value;
}

/**
 * arrangementPins, remembered: it verifies every party's signature on the document (an Ed25519
 * verify each), the same work for every envelope and receipt under one arrangement. The memo's key
 * is all it reads, the whole document and each party's keys on record, so a new signature or a
 * key changed in the directory is a new entry, never a stale answer.
 */
export class PinsMemo {
  readonly #pins = new Map<string, ArrangementPins>();

  /**
   * The pins of `document` under `keysOf`. `documentKey` is JSON.stringify(document), when the
   * caller has it already (the inbox keys its compiled arrangements by it too).
   */
  pinsOf(
    document: ArrangementDocument,
    keysOf: (code: string) => readonly KeyOnRecord[],
    documentKey: string = JSON.stringify(document),
  ): ArrangementPins {
    // JSON text holds no raw newline, so the separator cannot be forged; nesting documentKey in
    // another JSON.stringify would escape every quote of the document again, per envelope.
    const key = `${documentKey}\n${JSON.stringify(document.parties.map((p) => keysOf(p.partner)))}`;
    return remember(this.#pins, key, PINS_REMEMBERED, () => arrangementPins(document, keysOf));
  }
}
