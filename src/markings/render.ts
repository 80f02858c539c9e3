import type { Control, Label } from './model.js';
import { DEFAULT_REGISTRY, levelAbbrev, type MarkingRegistry } from './registry.js';

/** Rendering options: the originating partner goes first in a REL TO list. */
export interface RenderOptions {
  readonly originator?: string;
  readonly registry?: MarkingRegistry;
}

const PORTION_CONTROL: Readonly<Record<Control, string>> = {
  ORCON: 'OC',
  IMCON: 'IMC',
  NOFORN: 'NF',
  PROPIN: 'PR',
  RELIDO: 'RELIDO',
};

/**
 * REL TO in canonical order: the originator first, then other trigraphs alphabetically, then
 * community codes alphabetically (the CAPCO rule with the originator in the place of USA).
 */
export function orderRelTo(codes: readonly string[], originator?: string): string[] {
  // Stored lists are already trigraphs-then-communities, each alphabetical.
  if (originator === undefined || !codes.includes(originator)) return [...codes];
  return [originator, ...codes.filter((c) => c !== originator)];
}

function dissemination(label: Label, originator: string | undefined, portion: boolean): string {
  const tokens: string[] = [];
  for (const control of label.controls) {
    // CAPCO order puts REL TO after PROPIN and before RELIDO.
    if (control === 'RELIDO' && label.relTo !== null) tokens.push(relToText(label.relTo, originator));
    tokens.push(portion ? PORTION_CONTROL[control] : control);
  }
  if (label.relTo !== null && !label.controls.includes('RELIDO'))
    tokens.push(relToText(label.relTo, originator));
  return tokens.join('/');
}

function relToText(codes: readonly string[], originator: string | undefined): string {
  return `REL TO ${orderRelTo(codes, originator).join(', ')}`;
}

function render(label: Label, head: string, options: RenderOptions, portion: boolean): string {
  const segments = [head];
  if (label.caveats.length > 0) segments.push(label.caveats.join('/'));
  const dissem = dissemination(label, options.originator, portion);
  if (dissem !== '') segments.push(dissem);
  if (label.tlp !== null) segments.push(`TLP:${label.tlp}`);
  if (label.pap !== null) segments.push(`PAP:${label.pap}`);
  return segments.join('//');
}

/** Canonical banner line, e.g. `TOP SECRET//SI//ORCON/REL TO USA, GBR, FVEY`. */
export function renderBanner(label: Label, options: RenderOptions = {}): string {
  return render(label, label.classification.level, options, false);
}

/** Canonical portion mark, e.g. `(S//REL TO GBR, USA)`. */
export function renderPortionMark(label: Label, options: RenderOptions = {}): string {
  const registry = options.registry ?? DEFAULT_REGISTRY;
  return `(${render(label, levelAbbrev(registry, label.classification), options, true)})`;
}
