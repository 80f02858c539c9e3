import { useId } from 'react';
import { DEFAULT_REGISTRY, type Label, parseMarking, renderPortionMark } from '../../src/markings/index.js';

/** What the picker edits: one choice per part of a label. */
export interface LabelChoice {
  readonly level: string;
  readonly caveats: readonly string[];
  readonly relTo: readonly string[];
  readonly controls: readonly string[];
}

const LEVELS = [
  { abbrev: 'U', name: 'UNCLASSIFIED' },
  { abbrev: 'R', name: 'RESTRICTED' },
  { abbrev: 'C', name: 'CONFIDENTIAL' },
  { abbrev: 'S', name: 'SECRET' },
  { abbrev: 'TS', name: 'TOP SECRET' },
] as const;
const CAVEATS = ['SI', 'TK'] as const;
const PARTNERS = ['USA', 'GBR', 'CAN', 'AUS', 'NZL', 'FRA', 'FVEY', 'NATO'] as const;
const CONTROLS = ['NOFORN', 'ORCON', 'IMCON', 'RELIDO', 'PROPIN'] as const;

/** The marking a choice writes, before it is checked: `(S//SI//REL TO USA, GBR/ORCON)`. */
function draftMarking(choice: LabelChoice): string {
  const parts: string[] = [choice.level];
  if (choice.caveats.length > 0) parts.push(choice.caveats.join('/'));
  const dissemination = [
    ...choice.controls,
    ...(choice.relTo.length > 0 ? [`REL TO ${choice.relTo.join(', ')}`] : []),
  ];
  if (dissemination.length > 0) parts.push(dissemination.join('/'));
  return `(${parts.join('//')})`;
}

/** The canonical portion mark of a choice, or null when the parts exclude each other. */
export function markingOf(choice: LabelChoice, originator: string): string | null {
  try {
    const { label } = parseMarking(draftMarking(choice), DEFAULT_REGISTRY);
    return renderPortionMark(label, { originator, registry: DEFAULT_REGISTRY });
  } catch {
    return null;
  }
}

/** The choice a stored marking stands for (unknown parts are dropped: the picker cannot show them). */
export function choiceOf(marking: string): LabelChoice {
  let label: Label;
  try {
    label = parseMarking(marking, DEFAULT_REGISTRY).label;
  } catch {
    return { level: 'U', caveats: [], relTo: [], controls: [] };
  }
  const level = LEVELS.find((l) => l.name === label.classification.level)?.abbrev ?? 'TS';
  return {
    level,
    caveats: label.caveats.filter((c) => (CAVEATS as readonly string[]).includes(c)),
    relTo: (label.relTo ?? []).filter((c) => (PARTNERS as readonly string[]).includes(c)),
    controls: label.controls.filter((c) => (CONTROLS as readonly string[]).includes(c)),
  };
}

function toggled(list: readonly string[], item: string, on: boolean): string[] {
  return on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item);
}

/**
 * Pickers for each part of a label. An option that would make the label invalid with the others
 * already chosen (REL TO with NOFORN, RELIDO with NOFORN, …) is disabled, so only valid
 * combinations can be picked; the marking module decides, as the node will.
 */
export function LabelPicker({
  legend,
  value,
  onChange,
  originator,
}: {
  readonly legend: string;
  readonly value: LabelChoice;
  readonly onChange: (next: LabelChoice) => void;
  readonly originator: string;
}) {
  const id = useId();
  const valid = (next: LabelChoice) => markingOf(next, originator) !== null;
  const checkbox = (group: 'caveats' | 'relTo' | 'controls', item: string) => {
    const on = value[group].includes(item);
    const next = { ...value, [group]: toggled(value[group], item, !on) };
    const disabled = !on && !valid(next);
    return (
      <label key={item} title={disabled ? 'not valid with the parts already chosen' : undefined}>
        <input
          type="checkbox"
          checked={on}
          disabled={disabled}
          onChange={() => onChange(next)}
          aria-describedby={disabled ? `${id}-why` : undefined}
        />{' '}
        {item}
      </label>
    );
  };
  return (
    <fieldset className="picker">
      <legend>{legend}</legend>
      <div>
        <label htmlFor={`${id}-level`}>Classification</label>{' '}
        <select
          id={`${id}-level`}
          value={value.level}
          onChange={(e) => onChange({ ...value, level: e.target.value })}
        >
          {LEVELS.map((l) => (
            <option key={l.abbrev} value={l.abbrev} disabled={!valid({ ...value, level: l.abbrev })}>
              {l.name}
            </option>
          ))}
        </select>
      </div>
      <fieldset>
        <legend>Caveats</legend>
        {CAVEATS.map((c) => checkbox('caveats', c))}
      </fieldset>
      <fieldset>
        <legend>Releasable to</legend>
        {PARTNERS.map((p) => checkbox('relTo', p))}
      </fieldset>
      <fieldset>
        <legend>Controls</legend>
        {CONTROLS.map((c) => checkbox('controls', c))}
      </fieldset>
      <span id={`${id}-why`} className="visually-hidden">
        Disabled: not valid with the parts already chosen.
      </span>
    </fieldset>
  );
}
