// Client quota entities and their configs as Kafka keeps them (ClientQuotaControlManager,
// ClientQuotasImage): an entity is a set of (type, name) with type user, client-id or ip and a
// null name meaning the type's default; user and client-id combine, ip stands alone. Values are
// doubles: producer_byte_rate / consumer_byte_rate (bytes per second, whole numbers),
// request_percentage (percent of one request thread), controller_mutation_rate (partitions
// created or deleted per second) for user / client-id entities; connection_creation_rate
// (connections per second, whole) for ip entities.
//
// The store (MetadataStore on a single node, etcd `quotas/<entity>` in a cluster) keeps one
// record per entity; validation and DescribeClientQuotas matching live here so both stores and
// the handlers share them.

import { isIP } from "node:net";

export const USER = "user";
export const CLIENT_ID = "client-id";
export const IP = "ip";

export const PRODUCER_BYTE_RATE = "producer_byte_rate";
export const CONSUMER_BYTE_RATE = "consumer_byte_rate";
export const REQUEST_PERCENTAGE = "request_percentage";
export const CONTROLLER_MUTATION_RATE = "controller_mutation_rate";
export const CONNECTION_CREATION_RATE = "connection_creation_rate";

/** The keys of user and client-id entities and whether each must be a whole number (Kafka's LONG). */
const CLIENT_KEYS: ReadonlyMap<string, boolean> = new Map([
  [PRODUCER_BYTE_RATE, true],
  [CONSUMER_BYTE_RATE, true],
  [REQUEST_PERCENTAGE, false],
  [CONTROLLER_MUTATION_RATE, false],
]);
const IP_KEYS: ReadonlyMap<string, boolean> = new Map([[CONNECTION_CREATION_RATE, true]]);

/** One component of an entity; a null name is the type's default. */
export interface EntityPart {
  readonly entityType: string;
  readonly entityName: string | null;
}

/** An entity with its configured values. */
export interface ClientQuotaRecord {
  /** Sorted by type. */
  readonly entity: readonly EntityPart[];
  readonly values: Readonly<Record<string, number>>;
}

/** One entity's change: a null value removes the key. */
export interface ClientQuotaChange {
  readonly entity: readonly EntityPart[];
  readonly values: Readonly<Record<string, number | null>>;
}

/** Where client quotas are kept (MetadataStore, ClusterManager over etcd). */
export interface ClientQuotaStore {
  clientQuotas(): readonly ClientQuotaRecord[];
  /** Applies the changes (each entity's record replaced by its merged values; an entity left empty is removed). */
  alterClientQuotas(changes: readonly ClientQuotaChange[]): Promise<void>;
  /** `listener` runs after every change of the quotas, whoever made it. */
  onClientQuotasChanged(listener: () => void): void;
}

/** The entity in a canonical order (user, client-id, ip). */
export function sortedEntity(entity: readonly EntityPart[]): EntityPart[] {
  const order = (type: string) => (type === USER ? 0 : type === CLIENT_ID ? 1 : 2);
  return [...entity].sort((a, b) => order(a.entityType) - order(b.entityType));
}

/** A stable key of an entity, for maps and store keys ("user=alice,client-id=<default>"). */
export function entityKey(entity: readonly EntityPart[]): string {
  return sortedEntity(entity)
    .map((part) => `${part.entityType}=${part.entityName === null ? "<default>" : encodeURIComponent(part.entityName)}`)
    .join(",");
}

/** The entity of a key made by entityKey. */
export function entityOfKey(key: string): EntityPart[] {
  return key.split(",").map((part) => {
    const at = part.indexOf("=");
    const name = part.slice(at + 1);
    return { entityType: part.slice(0, at), entityName: name === "<default>" ? null : decodeURIComponent(name) };
  });
}

/** Kafka's rendering of an entity in messages: "ClientQuotaEntity(entries={user=alice})". */
function describeEntity(entity: readonly EntityPart[]): string {
  return `ClientQuotaEntity(entries={${entity.map((part) => `${part.entityType}=${part.entityName}`).join(", ")}})`;
}

/** Why an entity (or one of its values) is refused, as Kafka words it; null when acceptable. */
export function entityError(entity: readonly EntityPart[]): string | null {
  if (entity.length === 0) return "Invalid empty client quota entity";
  const seen = new Set<string>();
  for (const { entityType, entityName } of entity) {
    if (seen.has(entityType)) return `Invalid empty client quota entity, duplicate entity entry ${entityType}`;
    seen.add(entityType);
    if (entityType !== USER && entityType !== CLIENT_ID && entityType !== IP) return `Unhandled client quota entity type: ${entityType}`;
    if (entityName !== null && entityName === "") return `Empty ${entityType} not supported`;
  }
  if (seen.has(IP) && seen.size > 1) return "Invalid empty client quota entity";
  const ip = entity.find((part) => part.entityType === IP);
  if (ip !== undefined && ip.entityName !== null && isIP(ip.entityName) === 0) return `${ip.entityName} is not a valid IP or resolvable host.`;
  return null;
}

/** Why `key = value` is refused for the entity; null when acceptable. */
export function valueError(entity: readonly EntityPart[], key: string, value: number): string | null {
  const keys = entity.some((part) => part.entityType === IP) ? IP_KEYS : CLIENT_KEYS;
  const whole = keys.get(key);
  if (whole === undefined) return `Invalid configuration key ${key}`;
  if (!Number.isFinite(value)) return `Configuration ${key} must be a ${whole ? "Long" : "Double"} value`;
  if (whole && Math.abs(Math.round(value) - value) > 1e-6) return `Configuration ${key} must be a Long value`;
  if (value <= 0) return `Configuration ${key} must be a positive value`;
  return null;
}

/** Why an entity is described as matched by the DescribeClientQuotas filter; throws InvalidFilter. */
export class InvalidFilter extends Error {
  constructor(
    message: string,
    /** UNSUPPORTED_VERSION for an unknown entity type, else INVALID_REQUEST. */
    readonly unsupported = false,
  ) {
    super(message);
  }
}

export const MATCH_EXACT = 0;
export const MATCH_DEFAULT = 1;
export const MATCH_SPECIFIED = 2;

export interface FilterComponent {
  readonly entityType: string;
  readonly matchType: number;
  readonly match: string | null;
}

/** The records DescribeClientQuotas answers for `components` (Kafka's ClientQuotasImage.describe). */
export function matchingQuotas(records: readonly ClientQuotaRecord[], components: readonly FilterComponent[], strict: boolean): ClientQuotaRecord[] {
  const exact = new Map<string, string | null>();
  const specified = new Set<string>();
  for (const { entityType, matchType, match } of components) {
    if (entityType === "") throw new InvalidFilter("Invalid empty entity type.");
    if (exact.has(entityType) || specified.has(entityType)) throw new InvalidFilter(`Entity type ${entityType} cannot appear more than once in the filter.`);
    if (entityType !== IP && entityType !== USER && entityType !== CLIENT_ID) throw new InvalidFilter(`Unsupported entity type ${entityType}`, true);
    if (matchType === MATCH_EXACT) {
      if (match === null) throw new InvalidFilter("Request specified MATCH_TYPE_EXACT, but set match string to null.");
      exact.set(entityType, match);
    } else if (matchType === MATCH_DEFAULT) {
      if (match !== null) throw new InvalidFilter("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.");
      exact.set(entityType, null);
    } else if (matchType === MATCH_SPECIFIED) {
      if (match !== null) throw new InvalidFilter("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.");
      specified.add(entityType);
    } else {
      throw new InvalidFilter(`Unknown match type ${matchType}`);
    }
  }
  const has = (type: string) => exact.has(type) || specified.has(type);
  if (has(IP) && (has(USER) || has(CLIENT_ID))) {
    throw new InvalidFilter("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.");
  }
  if (exact.size === 0 && specified.size === 0) return strict ? [] : [...records];
  return records.filter((record) => {
    const parts = new Map(record.entity.map((part) => [part.entityType, part.entityName]));
    for (const [type, name] of exact) if (!parts.has(type) || parts.get(type) !== name) return false;
    for (const type of specified) if (!parts.has(type)) return false;
    return !strict || parts.size === exact.size + specified.size;
  });
}

/** The change's errors per entity key (Kafka's checks, in its order); entities absent are valid. */
export function changeErrors(changes: readonly ClientQuotaChange[]): Map<string, string> {
  const errors = new Map<string, string>();
  const seen = new Set<string>();
  for (const change of changes) {
    const key = entityKey(change.entity);
    if (seen.has(key)) {
      errors.set(key, `Ignoring duplicate entity ${describeEntity(change.entity)}`);
      continue;
    }
    seen.add(key);
    const invalid = entityError(change.entity);
    if (invalid !== null) {
      errors.set(key, invalid);
      continue;
    }
    for (const [name, value] of Object.entries(change.values)) {
      if (value === null) continue;
      const refused = valueError(change.entity, name, value);
      if (refused !== null) {
        errors.set(key, refused);
        break;
      }
    }
  }
  return errors;
}

/** `record` with `change` applied; null when no value is left. */
export function applied(record: ClientQuotaRecord | undefined, change: ClientQuotaChange): ClientQuotaRecord | null {
  const values: Record<string, number> = { ...(record?.values ?? {}) };
  for (const [key, value] of Object.entries(change.values)) {
    if (value === null) delete values[key];
    else values[key] = value;
  }
  return Object.keys(values).length === 0 ? null : { entity: sortedEntity(change.entity), values };
}
