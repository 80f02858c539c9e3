import { AccordError } from '../../errors/index.js';

// The MISP event JSON format as MISP exports it (core format, `Event` with `Attribute`, `Object`,
// `Tag`, `Orgc`, `SharingGroup`): numbers are often written as digit strings ("distribution": "3")
// and both spellings are accepted. Only what the import maps is read; other members are ignored.

/** A tag as written on an event, object or attribute, and the JSON pointer it was found at. */
export interface MispTag {
  readonly name: string;
  readonly path: string;
}

/** MISP distribution levels (0 organisation only … 3 all communities, 4 sharing group, 5 inherit). */
export type Distribution = 0 | 1 | 2 | 3 | 4 | 5;

export interface MispAttribute {
  readonly path: string;
  readonly uuid: string | null;
  readonly type: string;
  readonly category: string | null;
  readonly value: string;
  readonly toIds: boolean;
  readonly comment: string;
  readonly distribution: Distribution | null;
  readonly sharingGroupId: string | null;
  /** The attribute's role in its object (`sha256`, `ip`), for object attributes. */
  readonly objectRelation: string | null;
  readonly tags: readonly MispTag[];
}

export interface MispObject {
  readonly path: string;
  readonly uuid: string | null;
  readonly name: string;
  readonly metaCategory: string | null;
  readonly comment: string;
  readonly distribution: Distribution | null;
  readonly sharingGroupId: string | null;
  readonly tags: readonly MispTag[];
  readonly attributes: readonly MispAttribute[];
}

export interface MispEvent {
  /** JSON pointer of the event object in the file (`/Event`, `/response/3/Event`). */
  readonly path: string;
  readonly uuid: string;
  readonly info: string;
  /** `YYYY-MM-DD`, or null when absent. */
  readonly date: string | null;
  /** 1 high, 2 medium, 3 low, 4 undefined. */
  readonly threatLevel: 1 | 2 | 3 | 4 | null;
  /** 0 initial, 1 ongoing, 2 completed. */
  readonly analysis: 0 | 1 | 2 | null;
  readonly distribution: Distribution | null;
  readonly sharingGroup: { readonly id: string | null; readonly name: string | null } | null;
  readonly orgc: { readonly name: string; readonly uuid: string | null } | null;
  /** Seconds since the epoch of the last change, as MISP keeps it. */
  readonly timestamp: number | null;
  readonly published: boolean;
  readonly tags: readonly MispTag[];
  readonly attributes: readonly MispAttribute[];
  readonly objects: readonly MispObject[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_TEXT = 100_000;

type Json = Record<string, unknown>;

function fail(path: string, reason: string): never {
  throw new AccordError('INPUT_INVALID', `${path === '' ? '/' : path}: ${reason}`, { path: path || '/' });
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string, what: string): Json {
  if (!isRecord(value)) fail(path, `expected ${what} (a JSON object)`);
  return value;
}

function list(value: unknown, path: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, 'expected an array');
  return value;
}

function text(value: unknown, path: string, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) fail(path, 'is missing');
    return null;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') fail(path, 'expected a string');
  if (value.length > MAX_TEXT) fail(path, `is longer than ${MAX_TEXT} characters`);
  if (required && value.trim() === '') fail(path, 'is empty');
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(n) || n < min || n > max) fail(path, `expected an integer from ${min} to ${max}`);
  return n;
}

function flag(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === '1' || value === 1) return true;
  if (value === '0' || value === 0) return false;
  fail(path, 'expected true or false');
}

function sharingGroupId(value: unknown, path: string): string | null {
  const id = text(value, path, false);
  return id === null || id === '0' || id === '' ? null : id;
}

/** `Tag: [{ name }]`, and the older `EventTag`/`AttributeTag: [{ Tag: { name } }]` spellings. */
function tagsOf(owner: Json, path: string): MispTag[] {
  const tags: MispTag[] = [];
  for (const [i, tag] of list(owner.Tag, `${path}/Tag`).entries()) {
    const at = `${path}/Tag/${i}`;
    tags.push({ name: text(object(tag, at, 'a tag').name, `${at}/name`, true)!, path: at });
  }
  for (const key of ['EventTag', 'AttributeTag']) {
    for (const [i, link] of list(owner[key], `${path}/${key}`).entries()) {
      const at = `${path}/${key}/${i}/Tag`;
      const tag = object(object(link, `${path}/${key}/${i}`, 'a tag link').Tag, at, 'a tag');
      tags.push({ name: text(tag.name, `${at}/name`, true)!, path: at });
    }
  }
  return tags;
}

function attributeOf(value: unknown, path: string): MispAttribute | null {
  const a = object(value, path, 'an attribute');
  if (flag(a.deleted, `${path}/deleted`)) return null;
  const uuid = text(a.uuid, `${path}/uuid`, false);
  if (uuid !== null && !UUID.test(uuid)) fail(`${path}/uuid`, 'expected a UUID');
  return {
    path,
    uuid,
    type: text(a.type, `${path}/type`, true)!,
    category: text(a.category, `${path}/category`, false),
    value: text(a.value, `${path}/value`, true)!,
    toIds: flag(a.to_ids, `${path}/to_ids`),
    comment: text(a.comment, `${path}/comment`, false) ?? '',
    distribution: integer(a.distribution, `${path}/distribution`, 0, 5) as Distribution | null,
    sharingGroupId: sharingGroupId(a.sharing_group_id, `${path}/sharing_group_id`),
    objectRelation: text(a.object_relation, `${path}/object_relation`, false),
    tags: tagsOf(a, path),
  };
}

function attributesOf(owner: Json, path: string): MispAttribute[] {
  return list(owner.Attribute, `${path}/Attribute`)
    .map((a, i) => attributeOf(a, `${path}/Attribute/${i}`))
    .filter((a): a is MispAttribute => a !== null);
}

function objectOf(value: unknown, path: string): MispObject | null {
  const o = object(value, path, 'a MISP object');
  if (flag(o.deleted, `${path}/deleted`)) return null;
  return {
    path,
    uuid: text(o.uuid, `${path}/uuid`, false),
    name: text(o.name, `${path}/name`, true)!,
    metaCategory: text(o['meta-category'], `${path}/meta-category`, false),
    comment: text(o.comment, `${path}/comment`, false) ?? '',
    distribution: integer(o.distribution, `${path}/distribution`, 0, 5) as Distribution | null,
    sharingGroupId: sharingGroupId(o.sharing_group_id, `${path}/sharing_group_id`),
    tags: tagsOf(o, path),
    attributes: attributesOf(o, path),
  };
}

function eventOf(value: unknown, path: string): MispEvent {
  const e = object(value, path, 'a MISP event');
  const uuid = text(e.uuid, `${path}/uuid`, true)!;
  if (!UUID.test(uuid)) fail(`${path}/uuid`, 'expected a UUID');
  const date = text(e.date, `${path}/date`, false);
  // A day that does not exist (2026-02-30) is refused, not rolled over by Date.parse.
  if (date !== null && !(DATE.test(date) && sameDay(date)))
    fail(`${path}/date`, 'expected a date YYYY-MM-DD');
  const orgc =
    e.Orgc === undefined || e.Orgc === null ? null : object(e.Orgc, `${path}/Orgc`, 'an organisation');
  const group =
    e.SharingGroup === undefined || e.SharingGroup === null
      ? null
      : object(e.SharingGroup, `${path}/SharingGroup`, 'a sharing group');
  const groupId = sharingGroupId(e.sharing_group_id, `${path}/sharing_group_id`);
  return {
    path,
    uuid: uuid.toLowerCase(),
    info: text(e.info, `${path}/info`, true)!,
    date,
    threatLevel: integer(e.threat_level_id, `${path}/threat_level_id`, 1, 4) as MispEvent['threatLevel'],
    analysis: integer(e.analysis, `${path}/analysis`, 0, 2) as MispEvent['analysis'],
    distribution: integer(e.distribution, `${path}/distribution`, 0, 4) as Distribution | null,
    sharingGroup:
      group === null && groupId === null
        ? null
        : {
            id: groupId ?? (group === null ? null : text(group.id, `${path}/SharingGroup/id`, false)),
            name: group === null ? null : text(group.name, `${path}/SharingGroup/name`, false),
          },
    orgc:
      orgc === null
        ? null
        : {
            name: text(orgc.name, `${path}/Orgc/name`, true)!,
            uuid: text(orgc.uuid, `${path}/Orgc/uuid`, false),
          },
    timestamp: integer(e.timestamp, `${path}/timestamp`, 0, Number.MAX_SAFE_INTEGER),
    published: flag(e.published, `${path}/published`),
    tags: tagsOf(e, path),
    attributes: attributesOf(e, path),
    objects: list(e.Object, `${path}/Object`)
      .map((o, i) => objectOf(o, `${path}/Object/${i}`))
      .filter((o): o is MispObject => o !== null),
  };
}

function wrapped(value: unknown, path: string): MispEvent {
  const holder = object(value, path, 'an object with an "Event" member');
  if (!('Event' in holder)) fail(path, 'expected an object with an "Event" member');
  return eventOf(holder.Event, `${path}/Event`);
}

/**
 * Reads a MISP export: one event `{"Event": …}`, an array of them, or `{"response": [...]}` as
 * MISP's REST API answers. Any part of the wrong shape is INPUT_INVALID naming its JSON pointer.
 */
export function parseMispEvents(input: unknown): MispEvent[] {
  // attacker-controlled: the whole file.
  let events: MispEvent[];
  if (Array.isArray(input)) events = input.map((v, i) => wrapped(v, `/${i}`));
  else if (isRecord(input) && 'response' in input && !('Event' in input)) {
    if (!Array.isArray(input.response)) fail('/response', 'expected an array');
    events = input.response.map((v, i) => wrapped(v, `/response/${i}`));
  } else events = [wrapped(input, '')];
  if (events.length === 0) fail('', 'holds no event');
  const seen = new Map<string, string>();
  for (const event of events) {
    const first = seen.get(event.uuid);
    if (first !== undefined) fail(`${event.path}/uuid`, `event ${event.uuid} is also at ${first}`);
    seen.set(event.uuid, event.path);
  }
  return events;
}

/** Whether a YYYY-MM-DD date exists: it reads back the same from the instant it names. */
function sameDay(date: string): boolean {
  const time = Date.parse(`${date}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === date;
}
