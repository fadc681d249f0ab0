// Kafka's StandardAuthorizer semantics (src/security/acl.ts) without a network: literal, prefixed
// and wildcard resources, wildcard principals and hosts, DENY over ALLOW, implied DESCRIBE and
// DESCRIBE_CONFIGS (ALLOW only), super users, allow.everyone.if.no.acl.found, filters.

import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/index.js";
import {
  type AclBinding,
  type AclStore,
  Authorizer,
  filterMatches,
  invalidBinding,
  AclOperation as Op,
  PatternType,
  Permission,
  ResourceType,
} from "../../src/security/acl.js";
import { principalMapper } from "../../src/security/ssl.js";

const bind = (over: Partial<AclBinding>): AclBinding => ({
  resourceType: ResourceType.TOPIC,
  resourceName: "orders",
  patternType: PatternType.LITERAL,
  principal: "User:alice",
  host: "*",
  operation: Op.READ,
  permissionType: Permission.ALLOW,
  ...over,
});

function authorizer(acls: AclBinding[], settings: { superUsers?: string[]; allowEveryone?: boolean } = {}) {
  const store: AclStore = { acls: () => acls, alterAcls: async () => {} };
  return new Authorizer(store, { superUsers: new Set(settings.superUsers ?? []), allowEveryoneIfNoAclFound: settings.allowEveryone ?? false });
}

describe("the StandardAuthorizer's decisions", () => {
  it("allows what a matching ALLOW grants, and nothing else", () => {
    const a = authorizer([bind({})]);
    expect(a.authorize("User:alice", "10.0.0.1", Op.READ, ResourceType.TOPIC, "orders")).toBe(true);
    expect(a.authorize("User:alice", "10.0.0.1", Op.WRITE, ResourceType.TOPIC, "orders")).toBe(false);
    expect(a.authorize("User:bob", "10.0.0.1", Op.READ, ResourceType.TOPIC, "orders")).toBe(false);
    expect(a.authorize("User:alice", "10.0.0.1", Op.READ, ResourceType.TOPIC, "orders2")).toBe(false);
    expect(a.authorize("User:alice", "10.0.0.1", Op.READ, ResourceType.GROUP, "orders")).toBe(false);
  });

  it("DENY wins over ALLOW, by principal, wildcard principal or host", () => {
    const a = authorizer([bind({ operation: Op.ALL }), bind({ principal: "User:*", operation: Op.WRITE, permissionType: Permission.DENY, host: "10.0.0.9" })]);
    expect(a.authorize("User:alice", "10.0.0.1", Op.WRITE, ResourceType.TOPIC, "orders")).toBe(true);
    expect(a.authorize("User:alice", "10.0.0.9", Op.WRITE, ResourceType.TOPIC, "orders")).toBe(false);
    expect(a.authorize("User:alice", "10.0.0.9", Op.READ, ResourceType.TOPIC, "orders")).toBe(true);
  });

  it("prefixed and wildcard resources", () => {
    const a = authorizer([
      bind({ resourceName: "sales-", patternType: PatternType.PREFIXED, operation: Op.WRITE }),
      bind({ resourceName: "*", principal: "User:bob", operation: Op.READ }),
      bind({ resourceName: "sales-secret", permissionType: Permission.DENY, operation: Op.ALL, principal: "User:*" }),
    ]);
    expect(a.authorize("User:alice", "h", Op.WRITE, ResourceType.TOPIC, "sales-eu")).toBe(true);
    expect(a.authorize("User:alice", "h", Op.WRITE, ResourceType.TOPIC, "sale")).toBe(false);
    expect(a.authorize("User:bob", "h", Op.READ, ResourceType.TOPIC, "anything")).toBe(true);
    expect(a.authorize("User:alice", "h", Op.WRITE, ResourceType.TOPIC, "sales-secret")).toBe(false);
    expect(a.authorize("User:bob", "h", Op.READ, ResourceType.TOPIC, "sales-secret")).toBe(false);
  });

  it("READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS; a DENY implies nothing", () => {
    for (const operation of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
      expect(authorizer([bind({ operation })]).authorize("User:alice", "h", Op.DESCRIBE, ResourceType.TOPIC, "orders"), String(operation)).toBe(true);
    }
    expect(authorizer([bind({ operation: Op.CREATE })]).authorize("User:alice", "h", Op.DESCRIBE, ResourceType.TOPIC, "orders")).toBe(false);
    expect(authorizer([bind({ operation: Op.ALTER_CONFIGS })]).authorize("User:alice", "h", Op.DESCRIBE_CONFIGS, ResourceType.TOPIC, "orders")).toBe(true);
    const denyRead = authorizer([bind({ operation: Op.DESCRIBE }), bind({ operation: Op.READ, permissionType: Permission.DENY })]);
    expect(denyRead.authorize("User:alice", "h", Op.DESCRIBE, ResourceType.TOPIC, "orders")).toBe(true);
    expect(denyRead.authorize("User:alice", "h", Op.READ, ResourceType.TOPIC, "orders")).toBe(false);
  });

  it("super users pass everything; allow.everyone.if.no.acl.found applies only to resources without ACLs", () => {
    const acls = [bind({})];
    expect(authorizer(acls, { superUsers: ["User:root"] }).authorize("User:root", "h", Op.DELETE, ResourceType.CLUSTER, "kafka-cluster")).toBe(true);
    const open = authorizer(acls, { allowEveryone: true });
    expect(open.authorize("User:bob", "h", Op.WRITE, ResourceType.TOPIC, "other")).toBe(true);
    expect(open.authorize("User:bob", "h", Op.WRITE, ResourceType.TOPIC, "orders")).toBe(false);
    expect(authorizer(acls).authorize("User:bob", "h", Op.WRITE, ResourceType.TOPIC, "other")).toBe(false);
  });

  it("authorizeAny (idempotent producers): an ALLOW on some topic not covered by a DENY", () => {
    expect(authorizer([bind({ operation: Op.WRITE })]).authorizeAny("User:alice", "h", Op.WRITE, ResourceType.TOPIC)).toBe(true);
    expect(
      authorizer([bind({ operation: Op.WRITE }), bind({ operation: Op.WRITE, permissionType: Permission.DENY })]).authorizeAny(
        "User:alice",
        "h",
        Op.WRITE,
        ResourceType.TOPIC,
      ),
    ).toBe(false);
    expect(authorizer([]).authorizeAny("User:alice", "h", Op.WRITE, ResourceType.TOPIC)).toBe(false);
    // Kafka asks about a topic named "hardcode" first: allow.everyone.if.no.acl.found lets it pass.
    expect(authorizer([], { allowEveryone: true }).authorizeAny("User:alice", "h", Op.WRITE, ResourceType.TOPIC)).toBe(true);
    expect(
      authorizer([bind({ resourceName: "hardcode", principal: "User:bob" })], { allowEveryone: true }).authorizeAny(
        "User:alice",
        "h",
        Op.WRITE,
        ResourceType.TOPIC,
      ),
    ).toBe(false);
    // Only the operation itself or ALL counts, not the ones implying it.
    expect(authorizer([bind({ operation: Op.WRITE })]).authorizeAny("User:alice", "h", Op.DESCRIBE, ResourceType.TOPIC)).toBe(false);
    expect(authorizer([bind({ operation: Op.ALL })]).authorizeAny("User:alice", "h", Op.WRITE, ResourceType.TOPIC)).toBe(true);
  });
});

describe("bindings and filters", () => {
  it("refuses what CreateAcls refuses, with Kafka's messages", () => {
    expect(invalidBinding(bind({}))).toBeNull();
    expect(invalidBinding(bind({ resourceType: ResourceType.ANY }))).toBe("Invalid resource type");
    expect(invalidBinding(bind({ patternType: PatternType.MATCH }))).toBe("Invalid pattern type");
    expect(invalidBinding(bind({ resourceType: ResourceType.CLUSTER, resourceName: "x" }))).toBe(
      "The only valid name for the CLUSTER resource is kafka-cluster",
    );
    expect(invalidBinding(bind({ principal: "alice" }))).toContain("Could not parse principal");
    expect(invalidBinding(bind({ operation: Op.ANY }))).toBe("Invalid operation");
    expect(invalidBinding(bind({ permissionType: Permission.ANY }))).toBe("Invalid permission type");
  });

  it("MATCH finds every binding that applies to a name; ANY and null match everything", () => {
    const literal = bind({});
    const prefixed = bind({ resourceName: "ord", patternType: PatternType.PREFIXED });
    const wildcard = bind({ resourceName: "*" });
    const other = bind({ resourceName: "payments" });
    const filter = {
      resourceType: ResourceType.TOPIC,
      resourceName: "orders",
      patternType: PatternType.MATCH,
      principal: null,
      host: null,
      operation: Op.ANY,
      permissionType: Permission.ANY,
    };
    expect([literal, prefixed, wildcard, other].filter((b) => filterMatches(filter, b))).toEqual([literal, prefixed, wildcard]);
    const any = { ...filter, resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY };
    expect([literal, prefixed, wildcard, other].every((b) => filterMatches(any, b))).toBe(true);
    expect(filterMatches({ ...any, patternType: PatternType.LITERAL }, prefixed)).toBe(false);
  });
});

describe("ssl.principal.mapping.rules (Kafka's SslPrincipalMapper)", () => {
  it("maps distinguished names as Kafka's documentation example does", () => {
    const map = principalMapper(
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
    );
    expect(map("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")).toBe("serviceuser");
    expect(map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown")).toBe("adminuser@admin");
    expect(map("CN=Kafka1.Example.com")).toBe("kafka1.example.com");
    expect(map("OU=only")).toBe("OU=only");
  });

  it("DEFAULT keeps the DN, upper-casing works, a DN no rule applies to is refused, a bad rule is a config error", () => {
    expect(principalMapper(null)("CN=a,O=b")).toBe("CN=a,O=b");
    expect(principalMapper("RULE:^CN=([^,]*).*$/$1/U")("CN=alice,O=x")).toBe("ALICE");
    expect(() => principalMapper("RULE:^CN=admin$/admin/")("CN=bob")).toThrow("No rules apply to CN=bob");
    expect(() => principalMapper("DEFAULT,nonsense")).toThrow(ConfigError);
  });
});
