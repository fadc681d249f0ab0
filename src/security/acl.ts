// ACLs with Kafka's StandardAuthorizer semantics (org.apache.kafka.metadata.authorizer):
//
//   binding     resource (type, name, LITERAL or PREFIXED pattern) + entry (principal, host,
//               operation, ALLOW or DENY), Kafka's codes throughout (AclOperation, ResourceType,
//               PatternType, AclPermissionType)
//   matching    a request on (type, name) meets LITERAL bindings of that name or of "*", and PREFIXED
//               bindings whose name starts the resource's; the principal matches the binding's or
//               "User:*", the host the binding's or "*"
//   operations  a binding of ALL matches every operation; DESCRIBE is implied by READ, WRITE, DELETE
//               and ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS (ALLOW only: a DENY of READ does not
//               deny DESCRIBE)
//   decision    super.users: allowed; any matching DENY: denied; else any matching ALLOW: allowed;
//               else, when no binding at all matches the resource, allow.everyone.if.no.acl.found;
//               else denied
// Filters (DescribeAcls, DeleteAcls) match bindings with ANY for any field, MATCH for every pattern
// that would apply to the named resource, and null for any name/principal/host.

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
  TWO_PHASE_COMMIT: 15,
} as const;
export const Permission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

export const CLUSTER_NAME = "kafka-cluster";
export const WILDCARD = "*";
export const WILDCARD_PRINCIPAL = "User:*";

export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

export interface AclFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

/** Where ACLs live (the metadata store: the embedded file or etcd). */
export interface AclStore {
  acls(): readonly AclBinding[];
  /** Adds and removes bindings (persisted, and seen by every broker, before it resolves). */
  alterAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void>;
}

export function aclKey(binding: AclBinding): string {
  return JSON.stringify([
    binding.resourceType,
    binding.resourceName,
    binding.patternType,
    binding.principal,
    binding.host,
    binding.operation,
    binding.permissionType,
  ]);
}

/** Why a binding cannot be created (Kafka's message), or null. */
export function invalidBinding(binding: AclBinding): string | null {
  const types = Object.values(ResourceType) as number[];
  if (!types.includes(binding.resourceType) || binding.resourceType === ResourceType.ANY || binding.resourceType === ResourceType.UNKNOWN)
    return "Invalid resource type";
  if (binding.patternType !== PatternType.LITERAL && binding.patternType !== PatternType.PREFIXED) return "Invalid pattern type";
  if (binding.resourceName === "") return "Resource name should not be empty";
  if (binding.resourceType === ResourceType.CLUSTER && binding.resourceName !== CLUSTER_NAME)
    return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  if (binding.patternType === PatternType.PREFIXED && binding.resourceName === WILDCARD) return "Cannot use the wildcard '*' with a PREFIXED pattern";
  const at = binding.principal.indexOf(":");
  if (at <= 0 || at === binding.principal.length - 1)
    return `Could not parse principal from \`${binding.principal}\` (no colon is present separating the principal type from name)`;
  if (binding.host === "") return "Invalid host";
  if (
    !(Object.values(AclOperation) as number[]).includes(binding.operation) ||
    binding.operation === AclOperation.ANY ||
    binding.operation === AclOperation.UNKNOWN
  )
    return "Invalid operation";
  if (binding.permissionType !== Permission.ALLOW && binding.permissionType !== Permission.DENY) return "Invalid permission type";
  return null;
}

/** Why a filter is unusable (Kafka's message), or null. */
export function invalidFilter(filter: AclFilter): string | null {
  if (filter.resourceType === ResourceType.UNKNOWN) return "Unknown resource type";
  if (filter.patternType === PatternType.UNKNOWN || filter.patternType > PatternType.PREFIXED) return "Unknown pattern type";
  if (filter.operation === AclOperation.UNKNOWN || filter.operation > AclOperation.TWO_PHASE_COMMIT) return "Unknown operation";
  if (filter.permissionType === Permission.UNKNOWN || filter.permissionType > Permission.ALLOW) return "Unknown permission type";
  return null;
}

/** Whether `binding` matches `filter` (Kafka's AclBindingFilter.matches). */
export function filterMatches(filter: AclFilter, binding: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== binding.resourceType) return false;
  if (filter.patternType === PatternType.MATCH) {
    if (filter.resourceName !== null) {
      const name = filter.resourceName;
      const applies =
        (binding.patternType === PatternType.LITERAL && (binding.resourceName === name || binding.resourceName === WILDCARD)) ||
        (binding.patternType === PatternType.PREFIXED && name.startsWith(binding.resourceName));
      if (!applies) return false;
    }
  } else {
    if (filter.patternType !== PatternType.ANY && filter.patternType !== binding.patternType) return false;
    if (filter.resourceName !== null && filter.resourceName !== binding.resourceName) return false;
  }
  if (filter.principal !== null && filter.principal !== binding.principal) return false;
  if (filter.host !== null && filter.host !== binding.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false;
  if (filter.permissionType !== Permission.ANY && filter.permissionType !== binding.permissionType) return false;
  return true;
}

const IMPLIES_DESCRIBE = new Set<number>([AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE]);
const IMPLIES_DESCRIBE_CONFIGS = new Set<number>([AclOperation.ALTER_CONFIGS, AclOperation.DESCRIBE_CONFIGS]);

function operationMatches(aclOperation: number, permission: number, requested: number): boolean {
  if (aclOperation === AclOperation.ALL || aclOperation === requested) return true;
  if (permission !== Permission.ALLOW) return false;
  if (requested === AclOperation.DESCRIBE) return IMPLIES_DESCRIBE.has(aclOperation);
  if (requested === AclOperation.DESCRIBE_CONFIGS) return IMPLIES_DESCRIBE_CONFIGS.has(aclOperation);
  return false;
}

function resourceMatches(binding: AclBinding, resourceType: number, name: string): boolean {
  if (binding.resourceType !== resourceType) return false;
  if (binding.patternType === PatternType.LITERAL) return binding.resourceName === name || binding.resourceName === WILDCARD;
  return binding.patternType === PatternType.PREFIXED && name.startsWith(binding.resourceName);
}

export interface AuthorizerSettings {
  readonly superUsers: ReadonlySet<string>;
  readonly allowEveryoneIfNoAclFound: boolean;
}

/** Kafka's StandardAuthorizer over the bindings of an AclStore. */
export class Authorizer {
  readonly #store: AclStore;
  readonly #settings: AuthorizerSettings;

  constructor(store: AclStore, settings: AuthorizerSettings) {
    this.#store = store;
    this.#settings = settings;
  }

  authorize(principal: string, host: string, operation: number, resourceType: number, name: string): boolean {
    if (this.#settings.superUsers.has(principal)) return true;
    let anyForResource = false;
    let allowed = false;
    for (const binding of this.#store.acls()) {
      if (!resourceMatches(binding, resourceType, name)) continue;
      anyForResource = true;
      if (binding.principal !== principal && binding.principal !== WILDCARD_PRINCIPAL) continue;
      if (binding.host !== host && binding.host !== WILDCARD) continue;
      if (!operationMatches(binding.operation, binding.permissionType, operation)) continue;
      if (binding.permissionType === Permission.DENY) return false;
      if (binding.permissionType === Permission.ALLOW) allowed = true;
    }
    if (allowed) return true;
    return !anyForResource && this.#settings.allowEveryoneIfNoAclFound;
  }

  /**
   * Whether `principal` may do `operation` on some resource of `resourceType` (Kafka's
   * Authorizer.authorizeByResourceType, used for idempotent producers without IDEMPOTENT_WRITE):
   * first `operation` on a resource named "hardcode" (so super users, and
   * allow.everyone.if.no.acl.found where no binding applies, pass), then true if an ALLOW of the
   * operation itself or ALL (implied operations do not count) applies to some name no DENY covers.
   */
  authorizeAny(principal: string, host: string, operation: number, resourceType: number): boolean {
    if (this.authorize(principal, host, operation, resourceType, "hardcode")) return true;
    const relevant = this.#store
      .acls()
      .filter(
        (b) =>
          b.resourceType === resourceType &&
          (b.principal === principal || b.principal === WILDCARD_PRINCIPAL) &&
          (b.host === host || b.host === WILDCARD) &&
          (b.operation === operation || b.operation === AclOperation.ALL),
      );
    if (relevant.some((b) => b.permissionType === Permission.DENY && b.patternType === PatternType.LITERAL && b.resourceName === WILDCARD)) return false;
    const denied = relevant.filter((b) => b.permissionType === Permission.DENY);
    return relevant.some(
      (allow) =>
        allow.permissionType === Permission.ALLOW &&
        ((allow.patternType === PatternType.LITERAL && allow.resourceName === WILDCARD) ||
          !denied.some(
            (deny) =>
              (deny.patternType === PatternType.LITERAL && allow.patternType === PatternType.LITERAL && deny.resourceName === allow.resourceName) ||
              (deny.patternType === PatternType.PREFIXED && allow.resourceName.startsWith(deny.resourceName)),
          )),
    );
  }
}

export const STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/** The authorizer `authorizer.class.name` asks for over `store`, or null when none (every request allowed). */
export function authorizerOf(config: { text(name: string): string | null }, store: AclStore): Authorizer | null {
  const className = (config.text("authorizer.class.name") ?? "").trim();
  if (className === "") return null;
  if (className !== STANDARD_AUTHORIZER) {
    throw new AuthorizerConfigError(`authorizer.class.name: Sluice implements ${STANDARD_AUTHORIZER} only (got ${className})`);
  }
  const superUsers = new Set(
    (config.text("super.users") ?? "")
      .split(";")
      .map((user) => user.trim())
      .filter((user) => user !== ""),
  );
  const allowEveryoneIfNoAclFound = (config.text("allow.everyone.if.no.acl.found") ?? "false").trim().toLowerCase() === "true";
  return new Authorizer(store, { superUsers, allowEveryoneIfNoAclFound });
}

export class AuthorizerConfigError extends Error {}
