// What a handler gets: the request (header, version, the connection it came on, who sent it —
// a principal placeholder until authentication exists) and the broker's services by name,
// never the broker itself (Redpanda's request_context: metadata_cache(), partition_manager(),
// groups(), fetch_sessions(), authorized()).
//
//   service        type                 file                                          owns
//   config         BrokerConfig         src/config/broker.ts                          server.properties, Kafka's defaults
//   logger         Logger               (pino)                                        the broker's log
//   metadata       MetadataCache        src/cluster/metadata-cache.ts                 brokers, topics, partitions (leader, ISR) of the cluster
//   partitions     PartitionManager     src/log/partition-manager.ts                  hosted partitions: lookup + epoch check, long polls
//   topics         Topics               src/cluster/topic-manager.ts, cluster-manager.ts  create / delete / add partitions / set configs
//   fetchSessions  FetchSessionCache    src/server/fetch-session.ts                   KIP-227 incremental fetch sessions
//   groups         GroupCoordinator     src/coordinator/group/coordinator.ts          consumer groups and committed offsets (__consumer_offsets)
//   transactions   TransactionCoordinator src/coordinator/transaction/coordinator.ts  transactions (__transaction_state), producer ids
//   connections    ConnectionControl    src/server/dispatch.ts                        closing a client connection
//   handlers       HandlerRegistry      src/server/registry.ts                        the APIs served (ApiVersions)
//   metrics        BrokerMetrics        src/server/metrics.ts                         BrokerTopicMetrics / RequestMetrics counters
//   elections      LeaderElections      src/cluster/elections.ts, controller.ts       ElectLeaders (preferred / unclean)
//   brokerConfigs  BrokerConfigStore    src/cluster/broker-configs.ts                 dynamic broker configs (replication throttles)
//   reassignments  Reassignments        src/cluster/reassignments.ts, cluster-manager.ts  partition reassignments (KIP-455)
//   credentials    ScramCredentialStore src/security/credentials.ts, metadata.ts, cluster-manager.ts  SCRAM credentials
//   sasl           SASL listeners       src/security/sasl.ts                          each SASL listener's mechanisms and PLAIN users
//   sslPrincipal   (subject) => name    src/security/ssl.ts                           ssl.principal.mapping.rules
//   acls           AclStore             src/security/acl.ts, metadata.ts, cluster-manager.ts  ACL bindings
//   authorizer     Authorizer | null    src/security/acl.ts                           StandardAuthorizer (null: authorizer.class.name unset)
//   quotas         QuotaManager         src/security/quota-manager.ts                    client quotas: byte rates, request time, mutations
//   clientQuotas   ClientQuotaStore     src/security/client-quotas.ts, metadata.ts, cluster-manager.ts  client quota configs
//
// The principal is the connection's: User:ANONYMOUS on PLAINTEXT, User:<name> once SASL
// authenticated it, User:<mapped certificate subject> on SSL with a client certificate.

import type { Logger } from "pino";
import type { BrokerConfigStore } from "../cluster/broker-configs.js";
import type { LeaderElections } from "../cluster/elections.js";
import type { MetadataCache } from "../cluster/metadata-cache.js";
import type { Reassignments } from "../cluster/reassignments.js";
import type { Topics } from "../cluster/topic-manager.js";
import type { GroupConfigStore } from "../config/group-config.js";
import type { BrokerConfig } from "../config/index.js";
import type { GroupCoordinator } from "../coordinator/group/coordinator.js";
import type { ShareCoordinator } from "../coordinator/share/coordinator.js";
import type { TransactionCoordinator } from "../coordinator/transaction/coordinator.js";
import type { PartitionManager } from "../log/partition-manager.js";
import type { RequestHeader } from "../protocol/generated/headers.js";
import type { AclStore, Authorizer } from "../security/acl.js";
import type { ClientQuotaStore } from "../security/client-quotas.js";
import type { ScramCredentialStore } from "../security/credentials.js";
import type { QuotaManager } from "../security/quota-manager.js";
import type { SaslListener, SaslSession } from "../security/sasl.js";
import type { ShareManager } from "../share/share-manager.js";
import type { FetchSessionCache } from "./fetch-session.js";
import type { BrokerMetrics } from "./metrics.js";
import type { HandlerRegistry } from "./registry.js";

/** One client connection, as the JS side sees it (the socket itself lives in the reactor). */
export class Connection {
  /** Set by ApiVersions v3+ (KIP-511). */
  clientSoftwareName = "unknown";
  clientSoftwareVersion = "unknown";
  /** Requests received and not yet answered. */
  inFlight = 0;
  /** The SASL state of a connection on a SASL_* listener (src/security/sasl.ts), else null. */
  sasl: SaslSession | null = null;
  /** On an SSL listener: User:<mapped client certificate subject>, or null (User:ANONYMOUS). */
  tlsPrincipal: string | null = null;
  closed = false;

  constructor(
    readonly id: number,
    readonly listener: string,
    readonly peerHost: string,
    readonly peerPort: number,
    /** Came in on an SSL listener (TLS terminated by the reactor). */
    readonly tls: boolean = false,
    /** The TLS client certificate's subject as Java's X500Principal.getName() (RFC 2253); null without one. Kafka's mTLS principal is User:<this> before ssl.principal.mapping.rules. */
    readonly peerSubject: string | null = null,
  ) {}

  toString(): string {
    return `${this.peerHost}:${this.peerPort}#${this.id}`;
  }
}

/** Control over client connections (the reactor's sockets). */
export interface ConnectionControl {
  /** Closes `connection` now, dropping its unwritten responses; `reason` goes to the log. */
  close(connection: Connection, reason: string): void;
  /** Closes `connection` after `delayMs` (its answers written meanwhile): a failed authentication. */
  closeAfter(connection: Connection, delayMs: number, reason: string): void;
}

/** The broker's services a request may use; see the table in the file comment. */
export interface BrokerServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly topics: Topics;
  readonly fetchSessions: FetchSessionCache;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  /** Share partitions and share sessions (KIP-932). */
  readonly shares: ShareManager;
  /** The share coordinator: share-partition state in __share_group_state. */
  readonly shareStates: ShareCoordinator;
  readonly connections: ConnectionControl;
  readonly handlers: HandlerRegistry;
  readonly metrics: BrokerMetrics;
  readonly elections: LeaderElections;
  readonly reassignments: Reassignments;
  readonly brokerConfigs: BrokerConfigStore;
  readonly credentials: ScramCredentialStore;
  /** The SASL settings of each SASL_* listener, by listener name. */
  readonly sasl: ReadonlyMap<string, SaslListener>;
  /** ssl.principal.mapping.rules: a client certificate's subject → the principal's name (throws when no rule applies). */
  readonly sslPrincipal: (subject: string) => string;
  readonly acls: AclStore;
  /** Null when no authorizer is configured: every request is allowed, as in Kafka. */
  readonly authorizer: Authorizer | null;
  readonly quotas: QuotaManager;
  readonly clientQuotas: ClientQuotaStore;
  /** Group configs (GROUP resources of DescribeConfigs / IncrementalAlterConfigs). */
  readonly groupConfigs: GroupConfigStore;
}

/** Kafka's KafkaPrincipal of an unauthenticated PLAINTEXT connection. */
export const ANONYMOUS = "User:ANONYMOUS";

/** One request and the services to answer it with. */
export class RequestContext implements BrokerServices {
  /** Set by throttle(): the response carries it and the connection is muted that long (KIP-219). */
  throttleTimeMs = 0;
  /** The request's size in bytes (its frame), recorded against producer_byte_rate for Produce. */
  requestBytes = 0;
  /** Nanoseconds the handler ran on the JS thread (measured only while a request_percentage quota exists). */
  handlerNanos = 0;
  /** Not held to request_percentage (a follower's fetch, as in Kafka). */
  requestQuotaExempt = false;

  constructor(
    readonly services: BrokerServices,
    readonly connection: Connection,
    readonly header: RequestHeader,
    readonly apiVersion: number,
    readonly principal: string,
    /** Date.now() when the frame was handed to JS. */
    readonly receivedAtMs: number,
  ) {}

  get config(): BrokerConfig {
    return this.services.config;
  }

  get logger(): Logger {
    return this.services.logger;
  }

  get metadata(): MetadataCache {
    return this.services.metadata;
  }

  get partitions(): PartitionManager {
    return this.services.partitions;
  }

  get topics(): Topics {
    return this.services.topics;
  }

  get fetchSessions(): FetchSessionCache {
    return this.services.fetchSessions;
  }

  get groups(): GroupCoordinator {
    return this.services.groups;
  }

  get transactions(): TransactionCoordinator {
    return this.services.transactions;
  }

  get shares(): ShareManager {
    return this.services.shares;
  }

  get groupConfigs(): GroupConfigStore {
    return this.services.groupConfigs;
  }

  get shareStates(): ShareCoordinator {
    return this.services.shareStates;
  }

  get connections(): ConnectionControl {
    return this.services.connections;
  }

  get handlers(): HandlerRegistry {
    return this.services.handlers;
  }

  get metrics(): BrokerMetrics {
    return this.services.metrics;
  }

  get elections(): LeaderElections {
    return this.services.elections;
  }

  get reassignments(): Reassignments {
    return this.services.reassignments;
  }

  get brokerConfigs(): BrokerConfigStore {
    return this.services.brokerConfigs;
  }

  get credentials(): ScramCredentialStore {
    return this.services.credentials;
  }

  get sasl(): ReadonlyMap<string, SaslListener> {
    return this.services.sasl;
  }

  get sslPrincipal(): (subject: string) => string {
    return this.services.sslPrincipal;
  }

  get acls(): AclStore {
    return this.services.acls;
  }

  get authorizer(): Authorizer | null {
    return this.services.authorizer;
  }

  /** Whether this request's principal may do `operation` on a resource (always, without an authorizer). */
  authorized(operation: number, resourceType: number, name: string): boolean {
    const authorizer = this.services.authorizer;
    return authorizer === null || authorizer.authorize(this.principal, this.connection.peerHost, operation, resourceType, name);
  }

  /** Whether the principal may do `operation` on some resource of `resourceType` (Kafka's authorizeByResourceType). */
  authorizedAny(operation: number, resourceType: number): boolean {
    const authorizer = this.services.authorizer;
    return authorizer === null || authorizer.authorizeAny(this.principal, this.connection.peerHost, operation, resourceType);
  }

  get quotas(): QuotaManager {
    return this.services.quotas;
  }

  get clientQuotas(): ClientQuotaStore {
    return this.services.clientQuotas;
  }

  /** The request went over a quota: its response carries `ms` (the longest asked) and the connection is muted that long. */
  throttle(ms: number): void {
    if (ms > this.throttleTimeMs) this.throttleTimeMs = ms;
  }

  /** The request header's client id (quotas: QuotaClient). */
  get clientId(): string | null {
    return this.header.clientId;
  }

  /** This broker's node id. */
  get nodeId(): number {
    return this.services.metadata.nodeId;
  }
}
