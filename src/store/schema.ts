import type { Generated } from 'kysely';
import type { StoreTable } from './store.js';

// Portable column types, the same on SQLite and PostgreSQL: JSON documents and ISO 8601 UTC
// instants are TEXT (ISO strings sort as time), booleans are INTEGER 0/1, bytes are blob/bytea.

export interface PartnersTable {
  code: string;
  name: string;
  endpoint: string | null;
  keys_json: string;
  updated_at: string;
}

export interface CommunitiesTable {
  code: string;
  name: string;
  updated_at: string;
}

export interface CommunityMembersTable {
  community_code: string;
  partner_code: string;
  from_day: string;
  until_day: string | null;
}

export interface ArrangementsTable {
  id: string;
  version: number;
  document_json: string;
  status: string;
  version_hash: string;
  created_at: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  nationality: string;
  clearance: string;
  caveats_json: string;
  communities_json: string;
  roles_json: string;
  oversight_json: string | null;
  password_hash: string | null;
  disabled: number;
  created_at: string;
}

export interface ApiTokensTable {
  token_sha256: string;
  user_id: string;
  label: string;
  created_at: string;
  last_used_at: string | null;
}

export interface SessionsTable {
  session_sha256: string;
  user_id: string;
  csrf_token: string;
  expires_at: string;
  created_at: string;
}

export interface LoginAttemptsTable {
  id: string;
  username: string;
  ip: string;
  ok: number;
  attempted_at: string;
}

export interface ProductsTable {
  id: string;
  originator: string;
  author: string;
  current_version: number;
  state: string;
  created_at: string;
  updated_at: string;
}

export interface ProductVersionsTable {
  product_id: string;
  version: number;
  document_json: string;
  title: string;
  banner: string;
  classification_rank: number;
  discipline: string;
  categories_json: string;
  search_text: string;
  created_at: string;
  min_lon: number | null;
  min_lat: number | null;
  max_lon: number | null;
  max_lat: number | null;
}

export interface PortionsTable {
  product_id: string;
  version: number;
  portion_id: string;
  marking: string;
  classification_rank: number;
}

export interface ApprovalsTable {
  product_id: string;
  version: number;
  approver: string;
  decision: string;
  comment: string | null;
  decided_at: string;
}

export interface AttachmentsTable {
  sha256: string;
  size: number;
  media_type: string;
  bytes: Uint8Array;
  created_at: string;
}

export interface ProductAttachmentsTable {
  product_id: string;
  version: number;
  sha256: string;
  filename: string;
}

export interface ReleasesTable {
  id: string;
  product_id: string;
  version: number;
  recipient: string;
  arrangement_id: string | null;
  arrangement_version: number | null;
  effect: string;
  decision_json: string;
  released_by: string;
  released_at: string;
}

export interface ConsentsTable {
  product_id: string;
  originator: string;
  recipient: string;
  granted_at: string;
  expires_at: string | null;
  signature: string | null;
  holder: string | null;
  product_version: number | null;
  request_id: string | null;
  consent_json: string | null;
}

export interface RecallsTable {
  id: string;
  product_id: string;
  version: number | null;
  reason: string;
  recalled_by: string;
  recalled_at: string;
}

export interface OutboxTable {
  id: string;
  release_id: string | null;
  consent_request_id: string | null;
  onward_release_id: string | null;
  incident_id: string | null;
  recipient: string;
  payload_json: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  receipt_json: string | null;
  recall_id: string | null;
}

export interface InboxTable {
  envelope_id: string;
  sender: string;
  kind: string;
  arrangement_id: string;
  arrangement_version: number;
  product_id: string;
  product_version: number;
  envelope_digest: string;
  remote_address: string | null;
  outcome: string;
  code: string | null;
  reason: string | null;
  receipt_json: string | null;
  received_at: string;
}

export interface ReceivedProductsTable {
  envelope_id: string;
  product_id: string;
  product_version: number;
  originator: string;
  sender: string;
  arrangement_id: string;
  arrangement_version: number;
  document_json: string;
  banner: string;
  classification_rank: number;
  received_at: string;
  recalled_at: string | null;
  recall_envelope_id: string | null;
}

export interface ReceivedRecallsTable {
  envelope_id: string;
  recall_id: string;
  originator: string;
  product_id: string;
  product_version: number | null;
  reason: string;
  recalled_at: string;
  received_at: string;
}

export interface ConsentRequestsTable {
  id: string;
  direction: string;
  envelope_id: string;
  product_id: string;
  product_version: number;
  product_digest: string;
  originator: string;
  holder: string;
  recipient: string;
  arrangement_id: string;
  arrangement_version: number;
  arrangement_hash: string;
  reason: string;
  status: string;
  requested_by: string | null;
  requested_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  consent_json: string | null;
}

export interface OnwardReleasesTable {
  id: string;
  envelope_id: string;
  product_id: string;
  product_version: number;
  originator: string;
  recipient: string;
  arrangement_id: string;
  arrangement_version: number;
  effect: string;
  decision_json: string;
  consent_request_id: string | null;
  released_by: string;
  released_at: string;
}

// Audit log (0007). Indices and sizes are bigint on PostgreSQL, which pg returns as strings: read
// them through Number(). Hashes are the raw 32 bytes.

export interface AuditQueueTable {
  seq: Generated<number>;
  entry_json: string;
  queued_at: string;
}

export interface AuditEntriesTable {
  idx: number;
  leaf_hash: Uint8Array;
  entry_json: string;
  recorded_at: string;
}

export interface AuditNodesTable {
  level: number;
  idx: number;
  hash: Uint8Array;
}

export interface AuditTreeHeadsTable {
  tree_size: number;
  root_hash: string;
  signed_at: string;
  node_id: string;
  signature: string;
}

export interface AuditPeerHeadsTable {
  partner: string;
  tree_size: number;
  root_hash: string;
  signed_at: string;
  node_id: string;
  signature: string;
  fetched_at: string;
}

export interface IncidentsTable {
  id: string;
  kind: string;
  partner: string;
  detected_at: string;
  evidence_json: string;
  state: string;
  dedupe_key: string;
  origin: string | null;
  arrangement_id: string | null;
  arrangement_version: number | null;
  reporter: string | null;
  severity: string | null;
  description: string | null;
  products_json: string | null;
  notify_by: string | null;
  updated_at: string | null;
}

export interface IncidentStepsTable {
  incident_id: string;
  seq: number;
  state: string;
  action: string;
  at: string;
  by_partner: string;
  by_user: string | null;
  note: string | null;
  effects_json: string;
}

export interface StixObjectsTable {
  stix_id: string;
  version: string;
  type: string;
  product_id: string | null;
  portion_id: string | null;
  object_json: string;
  date_added: string;
}

/** The marking definitions a product's stored STIX objects name (migration 0018). */
export interface StixProductMarkingsTable {
  product_id: string;
  marking_ref: string;
}

export interface StreamEventsTable {
  seq: Generated<number>;
  event_json: string;
  published_at: string;
}

export interface EntityOccurrencesTable {
  source: string;
  product_id: string;
  version: number;
  portion_id: string;
  entity_type: string;
  value: string;
  originator: string;
  reported_at: string;
}

export interface AlertRulesTable {
  id: string;
  owner_id: string;
  kind: string;
  params_json: string;
  created_at: string;
  /** The community (team) owning the rule; null for a user's own rule (0016). */
  team: string | null;
}

export interface AlertsTable {
  id: string;
  rule_id: string;
  owner_id: string;
  dedupe_key: string;
  product_source: string;
  product_id: string;
  product_version: number;
  detail_json: string;
  fired_at: string;
}

export interface SearchTextTable {
  id: Generated<number>;
  source: string;
  product_id: string;
  version: number;
  portion_id: string;
  body: string;
}

/** The Kysely database type: one entry per table the migrations create. */
export interface Database {
  partners: PartnersTable;
  communities: CommunitiesTable;
  community_members: CommunityMembersTable;
  arrangements: ArrangementsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  login_attempts: LoginAttemptsTable;
  products: ProductsTable;
  product_versions: ProductVersionsTable;
  portions: PortionsTable;
  approvals: ApprovalsTable;
  attachments: AttachmentsTable;
  product_attachments: ProductAttachmentsTable;
  releases: ReleasesTable;
  consents: ConsentsTable;
  recalls: RecallsTable;
  outbox: OutboxTable;
  inbox: InboxTable;
  received_recalls: ReceivedRecallsTable;
  received_products: ReceivedProductsTable;
  consent_requests: ConsentRequestsTable;
  onward_releases: OnwardReleasesTable;
  audit_queue: AuditQueueTable;
  audit_entries: AuditEntriesTable;
  audit_nodes: AuditNodesTable;
  audit_tree_heads: AuditTreeHeadsTable;
  audit_peer_heads: AuditPeerHeadsTable;
  incidents: IncidentsTable;
  incident_steps: IncidentStepsTable;
  stix_objects: StixObjectsTable;
  stix_product_markings: StixProductMarkingsTable;
  stream_events: StreamEventsTable;
  entity_occurrences: EntityOccurrencesTable;
  alert_rules: AlertRulesTable;
  alerts: AlertsTable;
  search_text: SearchTextTable;
}

// Compile-time check that the port's STORE_TABLES and Database name the same tables, so counts() sees all.
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : false;
const tablesMatch: SameKeys<keyof Database, StoreTable> = true;
void tablesMatch;
