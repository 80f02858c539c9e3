import type { AccordNode } from '../app/node.js';
import { AccordError } from '../errors/index.js';
import type { Actor } from '../services/actor.js';
import type { IncidentView } from '../services/incident-service.js';

// Issue 5: "an incident in the demo suspends, recalls and notifies as its arrangement says". Once
// the seeded releases are delivered, USA's analyst reports that NZL leaked two products shared
// under the FVEY arrangement (whose protocol recalls, notifies within 24 hours and suspends on a
// confirmed breach): a USA product released to NZL and a GBR product USA received. Every party is
// told; USA and GBR each recall the product they originated; USA's oversight auditor confirms the
// breach and every node that holds the arrangement suspends NZL under it.

export const DEMO_INCIDENT_ARRANGEMENT = 'fvey-multilateral';
export const DEMO_INCIDENT_SUSPECT = 'NZL';
const REPORTER = 'USA';

async function actor(node: AccordNode, username: string): Promise<Actor> {
  const user = await node.store.users.getByUsername(username);
  if (user === undefined) {
    throw new AccordError('STORE_NOT_FOUND', `demo user ${username} is missing`, { username });
  }
  return { user, via: 'local' };
}

function nodeOf(nodes: readonly AccordNode[], code: string): AccordNode {
  const node = nodes.find((n) => n.config.partner === code);
  if (node === undefined) throw new AccordError('STORE_NOT_FOUND', `no demo node ${code}`, { code });
  return node;
}

/**
 * Reports the demo's incident at USA (once: a demo started again finds it and reports nothing new)
 * and returns it. `deliver` waits until the nodes' outboxes are empty.
 */
export async function reportDemoIncident(nodes: readonly AccordNode[]): Promise<IncidentView> {
  const usa = nodeOf(nodes, REPORTER);
  const auditor = await actor(usa, 'auditor');
  const earlier = (await usa.services.incidents.list(auditor)).find(
    (i) => i.kind === 'breach' && i.arrangement?.id === DEMO_INCIDENT_ARRANGEMENT,
  );
  if (earlier !== undefined) return usa.services.incidents.get(auditor, earlier.id);

  const underFvey = (r: { effect: string; arrangementId: string | null }) =>
    r.effect === 'allow' && r.arrangementId === DEMO_INCIDENT_ARRANGEMENT;
  const leaked = (await usa.store.releases.list({ recipient: DEMO_INCIDENT_SUSPECT })).find(underFvey);
  const fromGbr = (await usa.store.receivedProducts.list({ limit: 500 })).find(
    (r) => r.originator === 'GBR' && r.arrangementId === DEMO_INCIDENT_ARRANGEMENT && r.recalledAt === null,
  );
  const products = [leaked?.productId, fromGbr?.productId].filter((p): p is string => p !== undefined);
  return usa.services.incidents.report(await actor(usa, 'analyst'), {
    arrangement: DEMO_INCIDENT_ARRANGEMENT,
    suspectedParty: DEMO_INCIDENT_SUSPECT,
    products,
    severity: 'high',
    description: `Two products shared under ${DEMO_INCIDENT_ARRANGEMENT} were seen outside ${DEMO_INCIDENT_SUSPECT}'s accredited systems (demo scenario).`,
  });
}

/** USA's oversight auditor confirms the demo incident, unless that was done before. */
export async function confirmDemoIncident(nodes: readonly AccordNode[], id: string): Promise<IncidentView> {
  const usa = nodeOf(nodes, REPORTER);
  const auditor = await actor(usa, 'auditor');
  const incident = await usa.services.incidents.get(auditor, id);
  if (incident.state !== 'reported' && incident.state !== 'under-review') return incident;
  return usa.services.incidents.decide(auditor, id, 'confirmed', {
    note: 'Confirmed by the oversight council after review of the audit logs (demo).',
  });
}

/** Lines that tell what the protocol did at each node: notified, recalled, suspended. */
export async function demoIncidentLines(nodes: readonly AccordNode[], id: string): Promise<string[]> {
  const lines: string[] = [];
  const usa = nodeOf(nodes, REPORTER);
  const view = await usa.services.incidents.get(await actor(usa, 'auditor'), id);
  lines.push(
    `  incident  ${view.id}: ${view.partner} suspected under ${view.arrangement?.id ?? '?'} (${view.severity ?? '?'}), ${view.state}`,
  );
  const told = view.notifications.map((n) => `${n.partner} ${n.status}${n.overdue ? ' (overdue)' : ''}`);
  lines.push(`    notified by ${view.notifyBy ?? '?'}: ${told.join(', ')}`);
  for (const node of nodes) {
    const code = node.config.partner;
    const here = await node.store.incidents.get(id);
    if (here === undefined) {
      lines.push(`    ${code}: not told yet`);
      continue;
    }
    const steps = await node.store.incidents.steps(id);
    const recalled = steps.flatMap((s) => s.effects.recalled ?? []);
    const suspended = steps.map((s) => s.effects.suspended).find((s) => s !== undefined);
    const did = [
      recalled.length > 0 ? `recalled ${recalled.join(', ')}` : '',
      suspended !== undefined ? `suspended ${suspended.partner} under ${suspended.arrangementId}` : '',
    ].filter((d) => d !== '');
    lines.push(`    ${code}: ${here.state}${did.length > 0 ? `; ${did.join('; ')}` : ''}`);
  }
  return lines;
}
