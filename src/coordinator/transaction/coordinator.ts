// The transaction coordinator (Kafka 4.4's TransactionCoordinator, TransactionStateManager and,
// for one node, TransactionMarkerChannelManager): `context.transactions`.
//
// It owns the producer ids (ProducerIdManager) and every transactional id's state, sharded over
// __transaction_state (state-manager.ts), created on the first FindCoordinator for a transaction
// with Kafka's settings (transaction.state.log.num.partitions, compact, segment bytes). The request
// paths are Kafka's, check for check and error for error: InitProducerId (epoch bumps, fencing of an
// ongoing transaction with PrepareEpochFence → abort → CONCURRENT_TRANSACTIONS, producer id
// rotation when the epoch is exhausted), AddPartitionsToTxn (and the verify-only form of KIP-890
// part 1), EndTxn under transaction versions 1 and 2 (KIP-890 part 2: an epoch bump per
// transaction, the new id and epoch returned), DescribeTransactions, ListTransactions.
//
// Markers: this broker leads every partition, so after PrepareCommit/PrepareAbort is written the
// coordinator writes the COMMIT/ABORT control batch into each partition of the transaction itself
// (Partition.appendTxnMarker; a marker into __consumer_offsets also settles the transaction's
// offsets in the group coordinator), then writes CompleteCommit/CompleteAbort. A partition whose
// topic is gone is dropped from the transaction, as Kafka does on UNKNOWN_TOPIC_OR_PARTITION; one
// whose write fails otherwise is retried on a timer until it succeeds. Loading a partition of
// __transaction_state completes the transactions it finds in PrepareCommit/PrepareAbort.
//
// Timers: every transaction.abort.timed.out.transaction.cleanup.interval.ms, Ongoing transactions
// older than their timeout are fenced and aborted; every
// transaction.remove.expired.transaction.cleanup.interval.ms, ids idle for
// transactional.id.expiration.ms in Empty/CompleteCommit/CompleteAbort are deleted (tombstones).

import type { Logger } from "pino";
import type { MetadataCache } from "../../cluster/metadata-cache.js";
import type { Topics } from "../../cluster/topic-manager.js";
import type { BrokerConfig } from "../../config/index.js";
import type { Partition } from "../../log/partition.js";
import type { PartitionManager } from "../../log/partition-manager.js";
import { LogError } from "../../native.js";
import { ErrorCode, KafkaError } from "../../protocol/errors.js";
import type { AddPartitionsToTxnResponse } from "../../protocol/generated/add-partitions-to-txn.js";
import type { InterBrokerClients } from "../../replication/inter-broker.js";
import { CoordinatorTopic } from "../coordinator-topic.js";
import { coordinatorPartition } from "../partitioner.js";
import type { ProducerIdManager } from "./producer-id-manager.js";
import { TRANSACTION_STATE_TOPIC, TxnShard, transactionLogValue } from "./state-manager.js";
import {
  IllegalTxnStateError,
  isEpochExhausted,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  ProducerFencedError,
  parseTpKey,
  type TransactionMetadata,
  TransactionMetadata as TxnMetadata,
  TxnState,
  type TxnStateInfo,
  type TxnTransit,
  tpKey,
  txnStateFromName,
} from "./transaction-metadata.js";

/** The transaction.version this broker finalizes (ApiVersions) and uses for its own aborts. */
export const TRANSACTION_VERSION_LEVEL = 2;

export interface TransactionCoordinatorConfig {
  readonly partitions: number;
  readonly segmentBytes: number;
  readonly loadBufferSize: number;
  readonly maxTimeoutMs: number;
  readonly transactionalIdExpirationMs: number;
  readonly abortTimedOutIntervalMs: number;
  readonly removeExpiredIntervalMs: number;
  readonly twoPhaseCommitEnabled: boolean;
  readonly partitionVerificationEnabled: boolean;
}

export function transactionCoordinatorConfig(config: BrokerConfig): TransactionCoordinatorConfig {
  const int = (name: string) => Number(config.get(name));
  return {
    partitions: int("transaction.state.log.num.partitions"),
    segmentBytes: int("transaction.state.log.segment.bytes"),
    loadBufferSize: int("transaction.state.log.load.buffer.size"),
    maxTimeoutMs: int("transaction.max.timeout.ms"),
    transactionalIdExpirationMs: int("transactional.id.expiration.ms"),
    abortTimedOutIntervalMs: int("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
    removeExpiredIntervalMs: int("transaction.remove.expired.transaction.cleanup.interval.ms"),
    twoPhaseCommitEnabled: config.get("transaction.two.phase.commit.enable") === true,
    partitionVerificationEnabled: config.get("transaction.partition.verification.enable") !== false,
  };
}

/** What a marker write into a partition tells the coordinator. */
/** AddPartitionsToTxnManager's response mapping, then ReplicaManager's, for a produce's verification. */
function appendVerificationError(error: number, operation: TransactionSupportedOperation): number {
  if (error === ErrorCode.PRODUCER_FENCED) error = ErrorCode.INVALID_PRODUCER_EPOCH;
  else if (error === ErrorCode.TRANSACTION_ABORTABLE && operation === "defaultError") error = ErrorCode.INVALID_TXN_STATE;
  if (
    error === ErrorCode.NETWORK_EXCEPTION ||
    error === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
    error === ErrorCode.COORDINATOR_NOT_AVAILABLE ||
    error === ErrorCode.NOT_COORDINATOR ||
    (error === ErrorCode.CONCURRENT_TRANSACTIONS && operation !== "addPartition")
  ) {
    return ErrorCode.NOT_ENOUGH_REPLICAS;
  }
  return error;
}

const ADD_PARTITIONS_TO_TXN = 24;

export interface MarkerWriter {
  /**
   * Writes the marker into `topic`-`partition`: NONE, UNKNOWN_TOPIC_OR_PARTITION when the
   * partition is gone (dropped from the transaction), or another error to retry later.
   */
  writeMarker(
    topic: string,
    partition: number,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    transactionVersion: number,
  ): number | Promise<number>;
}

export interface TransactionCoordinatorServices {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly metadata: MetadataCache;
  readonly partitions: PartitionManager;
  readonly topics: Topics;
  readonly producerIds: ProducerIdManager;
  /** Markers for the coordinator's own transactions, wherever their partitions' leaders are. */
  readonly markers: MarkerWriter;
  /** Markers into this broker's own partitions (WriteTxnMarkers from others). */
  readonly localMarkers: MarkerWriter;
  /** Connections to the other brokers of a cluster (AddPartitionsToTxn to a coordinator elsewhere); none on a single node. */
  readonly clients?: InterBrokerClients;
}

export interface InitProducerIdResult {
  readonly errorCode: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
}

export interface EndTxnResult {
  readonly errorCode: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
}

export interface DescribedTransaction {
  readonly errorCode: number;
  readonly transactionalId: string;
  readonly transactionState: string;
  readonly transactionTimeoutMs: number;
  readonly transactionStartTimeMs: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly topics: { topic: string; partitions: number[] }[];
}

export interface ListedTransaction {
  readonly transactionalId: string;
  readonly producerId: bigint;
  readonly transactionState: string;
}

/** A verification or implicit add from a produce or TxnOffsetCommit (AddPartitionsToTxnManager.TransactionSupportedOperation). */
export type TransactionSupportedOperation = "defaultError" | "genericErrorSupported" | "addPartition";

const NEED_PRODUCER_ID = Symbol("need a producer id");

/** A transaction whose markers are being written (Kafka's PendingCompleteTxn). */
interface PendingCompleteTxn {
  readonly transactionalId: string;
  readonly coordinatorEpoch: number;
  readonly metadata: TransactionMetadata;
  readonly complete: TxnTransit;
  readonly commit: boolean;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly transactionVersion: number;
}

const MARKER_RETRY_MS = 100;

export class TransactionCoordinator {
  readonly config: TransactionCoordinatorConfig;
  readonly producerIds: ProducerIdManager;
  readonly #services: TransactionCoordinatorServices;
  readonly #logger: Logger;
  readonly #shards = new Map<number, TxnShard>();
  readonly #loads: Promise<void>[] = [];
  /** Transactions whose markers are not all written yet, by transactional id. */
  readonly #pendingMarkers = new Map<string, PendingCompleteTxn>();
  #markerRetry: NodeJS.Timeout | null = null;
  readonly #topic: CoordinatorTopic;
  #timers: NodeJS.Timeout[] = [];
  #active = false;

  constructor(services: TransactionCoordinatorServices) {
    this.#services = services;
    this.config = transactionCoordinatorConfig(services.config);
    this.producerIds = services.producerIds;
    this.#logger = services.logger.child({ component: "transaction-coordinator" });
    this.#topic = new CoordinatorTopic({ ...services, logger: this.#logger }, TRANSACTION_STATE_TOPIC);
  }

  /** Hosts and loads the shards of an existing __transaction_state; starts the timers. */
  start(): void {
    this.#active = true;
    if (this.#services.metadata.topic(TRANSACTION_STATE_TOPIC) !== undefined) this.#hostShards(true);
    const abort = setInterval(() => this.abortTimedOutTransactions(Date.now()), this.config.abortTimedOutIntervalMs);
    const expire = setInterval(() => this.removeExpiredTransactionalIds(Date.now()), this.config.removeExpiredIntervalMs);
    abort.unref();
    expire.unref();
    this.#timers = [abort, expire];
  }

  /** Resolves once every shard being loaded has loaded or failed (tests, start-up). */
  async loaded(): Promise<void> {
    await Promise.all(this.#loads);
  }

  close(): void {
    this.#active = false;
    for (const timer of this.#timers) clearInterval(timer);
    if (this.#markerRetry !== null) clearTimeout(this.#markerRetry);
    for (const shard of this.#shards.values()) shard.state = "closed";
  }

  /** The __transaction_state partition of a transactional id. */
  partitionFor(transactionalId: string): number {
    const topic = this.#services.metadata.topic(TRANSACTION_STATE_TOPIC);
    return coordinatorPartition(transactionalId, topic?.partitions.length ?? this.config.partitions);
  }

  /** Makes sure __transaction_state exists (created with Kafka's settings on first use) and its shards are hosted. */
  ensureTransactionTopic(): Promise<void> {
    const { config } = this.#services;
    const cluster = config.metadataStore !== null;
    return this.#topic.ensure(
      this.config.partitions,
      {
        "cleanup.policy": "compact",
        "compression.type": "uncompressed",
        "segment.bytes": String(this.config.segmentBytes),
        // One node holds one replica: its ISR can never be larger.
        "min.insync.replicas": cluster ? String(config.get("transaction.state.log.min.isr") ?? 2) : "1",
        "unclean.leader.election.enable": "false",
      },
      { replicationFactor: Number(config.get("transaction.state.log.replication.factor") ?? 3) },
      () => this.#hostShards(false),
    );
  }

  #hostShards(load: boolean): void {
    for (const partition of this.#topic.unhostedLeaders(this.#shards)) this.#hostShard(partition, load);
  }

  /**
   * A partition of __transaction_state changed role here: its leader coordinates its transactional
   * ids (the shard loads, and completes transactions found preparing), anyone else drops the shard
   * (producers get NOT_COORDINATOR and look again).
   */
  onPartitionRole(partition: Partition, role: "leader" | "follower" | "stopped"): void {
    if (partition.topic !== TRANSACTION_STATE_TOPIC || !this.#active) return;
    const shard = this.#shards.get(partition.index);
    if (shard !== undefined) {
      this.#shards.delete(partition.index);
      shard.state = "closed";
      this.#logger.info({ partition: `${TRANSACTION_STATE_TOPIC}-${partition.index}` }, "unloaded transaction coordinator partition");
    }
    if (role === "leader") this.#hostShard(partition, partition.log.logEndOffset > partition.logStartOffset);
  }

  #hostShard(partition: Partition, load: boolean): void {
    const index = partition.index;
    const shard = new TxnShard(index, partition, this.#logger);
    this.#shards.set(index, shard);
    if (!load) {
      shard.state = "active";
      return;
    }
    const started = Date.now();
    this.#loads.push(
      shard.load(this.config.loadBufferSize).then(
        () => {
          if (!this.#active || this.#shards.get(index) !== shard) return;
          this.#onLoaded(shard);
          this.#logger[shard.loadedRecords > 0 ? "info" : "debug"](
            {
              partition: `${TRANSACTION_STATE_TOPIC}-${index}`,
              records: shard.loadedRecords,
              transactions: shard.transactions.size,
              loadMs: Date.now() - started,
            },
            "loaded transaction coordinator partition",
          );
        },
        (error) => {
          shard.state = "failed";
          this.#logger.error({ err: error, partition: `${TRANSACTION_STATE_TOPIC}-${index}` }, "failed to load transaction coordinator partition");
        },
      ),
    );
  }

  /** loadTransactionsForTxnTopicPartition's tail: transactions found preparing are completed. */
  #onLoaded(shard: TxnShard): void {
    for (const metadata of shard.transactions.values()) {
      if (metadata.state !== TxnState.PrepareCommit && metadata.state !== TxnState.PrepareAbort) continue;
      const commit = metadata.state === TxnState.PrepareCommit;
      this.#logger.info({ transactionalId: metadata.transactionalId, state: metadata.state.name }, "completing a transaction found preparing at load");
      this.#addTxnMarkersToSend(shard.coordinatorEpoch, commit, metadata, metadata.prepareComplete(Date.now()));
    }
  }

  // ------------------------------------------------------------------------------------------
  // The state (TransactionStateManager)

  /** The shard of a transactional id, or the error a request for it gets now. */
  /**
   * Once what the id's shard wrote so far is committed (replicated to its __transaction_state
   * partition's ISR, as Kafka's appendTransactionToLog waits for acks=all): NONE, at once on a single
   * node; NOT_COORDINATOR if leadership moved or the ISR did not catch up within the request timeout
   * (the client looks for the coordinator again and retries). A transactional id without transactional
   * id (null) has nothing to wait for.
   */
  whenDurable(transactionalId: string | null, timeoutMs: number): number | Promise<number> {
    if (transactionalId === null) return ErrorCode.NONE;
    const shard = this.#shardFor(transactionalId);
    if (typeof shard === "number") return ErrorCode.NONE;
    const committed = shard.partition.whenCommitted(timeoutMs);
    const mapped = (error: number) => (error === ErrorCode.NONE ? error : ErrorCode.NOT_COORDINATOR);
    return typeof committed === "number" ? mapped(committed) : committed.then(mapped);
  }

  #shardFor(transactionalId: string): TxnShard | number {
    if (!this.#active) return ErrorCode.NOT_COORDINATOR;
    const topic = this.#services.metadata.topic(TRANSACTION_STATE_TOPIC);
    if (topic === undefined) return ErrorCode.NOT_COORDINATOR;
    const shard = this.#shards.get(coordinatorPartition(transactionalId, topic.partitions.length));
    if (shard === undefined) return ErrorCode.NOT_COORDINATOR;
    return shard.state === "active" ? shard : shard.availability;
  }

  /** getTransactionState: the error, null when the id is unknown, or its shard and metadata. */
  #transactionState(transactionalId: string): number | { shard: TxnShard; metadata: TransactionMetadata } | null {
    const shard = this.#shardFor(transactionalId);
    if (typeof shard === "number") return shard;
    const metadata = shard.transactions.get(transactionalId);
    return metadata === undefined ? null : { shard, metadata };
  }

  /**
   * appendTransactionToLog: writes `transit`, then applies it (completeTransitionTo) when the
   * coordinator epoch has not changed. A failed write clears the pending state unless
   * `retryOnError` says the caller retries it.
   */
  #appendTransactionToLog(
    transactionalId: string,
    coordinatorEpoch: number,
    transit: TxnTransit,
    retryOnError: (error: number) => boolean = () => false,
  ): number {
    const found = this.#transactionState(transactionalId);
    if (typeof found === "number") return found;
    if (found === null) return ErrorCode.NOT_COORDINATOR;
    const { shard, metadata } = found;
    if (shard.coordinatorEpoch !== coordinatorEpoch) return ErrorCode.NOT_COORDINATOR;
    const nowMs = Date.now();
    const error = shard.write([{ transactionalId, value: transactionLogValue(transit), version: TRANSACTION_VERSION_LEVEL >= 1 ? 1 : 0 }], nowMs);
    if (error !== ErrorCode.NONE) {
      if (!retryOnError(error)) metadata.pendingState = null;
      this.#logger.info({ transactionalId, state: transit.state.name, error }, "appending a transaction state transition failed");
      return error;
    }
    if (shard.transactions.get(transactionalId) !== metadata || shard.coordinatorEpoch !== coordinatorEpoch) return ErrorCode.NOT_COORDINATOR;
    metadata.completeTransitionTo(transit);
    return ErrorCode.NONE;
  }

  validateTransactionTimeoutMs(enableTwoPC: boolean, timeoutMs: number): boolean {
    return enableTwoPC || (timeoutMs <= this.config.maxTimeoutMs && timeoutMs > 0);
  }

  // ------------------------------------------------------------------------------------------
  // InitProducerId

  async initProducerId(
    transactionalId: string | null,
    transactionTimeoutMs: number,
    enableTwoPC: boolean,
    keepPreparedTxn: boolean,
    expected: { producerId: bigint; producerEpoch: number } | null,
  ): Promise<InitProducerIdResult> {
    if (transactionalId === null) {
      try {
        return { errorCode: ErrorCode.NONE, producerId: await this.producerIds.generateProducerId(), producerEpoch: 0 };
      } catch (error) {
        return initError(error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR);
      }
    }
    if (transactionalId === "") return initError(ErrorCode.INVALID_REQUEST);
    if (enableTwoPC && !this.config.twoPhaseCommitEnabled) return initError(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (keepPreparedTxn) return initError(ErrorCode.UNSUPPORTED_VERSION);
    if (!this.validateTransactionTimeoutMs(enableTwoPC, transactionTimeoutMs)) return initError(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const timeoutMs = enableTwoPC ? 2147483647 : transactionTimeoutMs;
    // A new id may be needed (a new transactional id, or a rotation); ids come from blocks that may
    // have to be reserved first, so the decision is retried with one in hand.
    let spareId: bigint | null = null;
    for (;;) {
      const result = this.#initProducerIdWith(transactionalId, timeoutMs, expected, spareId);
      if (result !== NEED_PRODUCER_ID) return result;
      try {
        spareId = await this.producerIds.generateProducerId();
      } catch (error) {
        return initError(error instanceof KafkaError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR);
      }
    }
  }

  #initProducerIdWith(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number } | null,
    spareId: bigint | null,
  ): InitProducerIdResult | typeof NEED_PRODUCER_ID {
    let found = this.#transactionState(transactionalId);
    if (typeof found === "number") return initError(found);
    if (found === null) {
      if (spareId === null) return NEED_PRODUCER_ID;
      const shard = this.#shardFor(transactionalId) as TxnShard;
      const created = new TxnMetadata(transactionalId, {
        producerId: spareId,
        prevProducerId: NO_PRODUCER_ID,
        nextProducerId: NO_PRODUCER_ID,
        producerEpoch: NO_PRODUCER_EPOCH,
        lastProducerEpoch: NO_PRODUCER_EPOCH,
        txnTimeoutMs: timeoutMs,
        state: TxnState.Empty,
        topicPartitions: [],
        txnStartTimestamp: -1,
        txnLastUpdateTimestamp: Date.now(),
        clientTransactionVersion: 0,
      });
      shard.transactions.set(transactionalId, created);
      spareId = null;
      found = { shard, metadata: created };
    }
    const { shard, metadata } = found;
    const coordinatorEpoch = shard.coordinatorEpoch;
    // prepareInitProducerIdTransit
    let transit: TxnTransit;
    if (metadata.pendingTransitionInProgress) return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (expected !== null && !isValidProducerId(expected, metadata)) return initError(ErrorCode.PRODUCER_FENCED);
    switch (metadata.state) {
      case TxnState.PrepareAbort:
      case TxnState.PrepareCommit:
        return initError(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.CompleteAbort:
      case TxnState.CompleteCommit:
      case TxnState.Empty:
        try {
          if (metadata.isProducerEpochExhausted && (expected === null || expected.producerEpoch === metadata.producerEpoch)) {
            if (spareId === null) return NEED_PRODUCER_ID;
            transit = metadata.prepareProducerIdRotation(spareId, timeoutMs, Date.now(), expected !== null);
          } else {
            transit = metadata.prepareIncrementProducerEpoch(timeoutMs, expected?.producerEpoch ?? null, Date.now());
          }
        } catch (error) {
          if (error instanceof ProducerFencedError) return initError(ErrorCode.PRODUCER_FENCED);
          throw error;
        }
        break;
      case TxnState.Ongoing:
        // Fence the producer and abort its transaction; the client retries and gets a fresh bump.
        transit = metadata.prepareFenceProducerEpoch();
        break;
      default:
        throw new IllegalTxnStateError(
          `Found transactionalId ${transactionalId} with state ${metadata.state.name}. This is illegal as we should never have transitioned to this state.`,
        );
    }
    if (transit.state === TxnState.PrepareEpochFence) {
      const ended = this.#endTransaction(transactionalId, transit.producerId, transit.producerEpoch, false, false, TRANSACTION_VERSION_LEVEL);
      return initError(ended.errorCode !== ErrorCode.NONE ? ended.errorCode : ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const error = this.#appendTransactionToLog(transactionalId, coordinatorEpoch, transit);
    if (error !== ErrorCode.NONE) return initError(error);
    this.#logger.debug({ transactionalId, producerId: transit.producerId.toString(), producerEpoch: transit.producerEpoch }, "initialized transactional id");
    return { errorCode: ErrorCode.NONE, producerId: transit.producerId, producerEpoch: transit.producerEpoch };
  }

  // ------------------------------------------------------------------------------------------
  // AddPartitionsToTxn, AddOffsetsToTxn

  /** handleAddPartitionsToTransaction: one error for every partition. */
  addPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: readonly { topic: string; partition: number }[],
    clientTransactionVersion: number,
  ): number {
    if (transactionalId === "") return ErrorCode.INVALID_REQUEST;
    const found = this.#transactionState(transactionalId);
    if (typeof found === "number") return found;
    if (found === null) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    const { shard, metadata } = found;
    if (metadata.pendingTransitionInProgress) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (metadata.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (metadata.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (metadata.state === TxnState.PrepareCommit || metadata.state === TxnState.PrepareAbort) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const keys = partitions.map(({ topic, partition }) => tpKey(topic, partition));
    if (metadata.state === TxnState.Ongoing && keys.every((key) => metadata.topicPartitions.has(key))) return ErrorCode.NONE;
    const transit = metadata.prepareAddPartitions(keys, Date.now(), clientTransactionVersion);
    return this.#appendTransactionToLog(transactionalId, shard.coordinatorEpoch, transit);
  }

  /** handleVerifyPartitionsInTransaction: an error per partition (NONE: in the transaction). */
  verifyPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, partitions: readonly { topic: string; partition: number }[]): number[] {
    const all = (error: number) => partitions.map(() => error);
    if (transactionalId === "") return all(ErrorCode.INVALID_REQUEST);
    const found = this.#transactionState(transactionalId);
    if (typeof found === "number") return all(found);
    if (found === null) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const { metadata } = found;
    if (metadata.producerId !== producerId) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (metadata.producerEpoch !== producerEpoch) return all(ErrorCode.PRODUCER_FENCED);
    if (metadata.state === TxnState.PrepareCommit || metadata.state === TxnState.PrepareAbort) return all(ErrorCode.CONCURRENT_TRANSACTIONS);
    return partitions.map(({ topic, partition }) => (metadata.topicPartitions.has(tpKey(topic, partition)) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE));
  }

  /**
   * The broker's own verification before appending transactional records or offsets (ReplicaManager
   * with AddPartitionsToTxnManager, which here calls the coordinator in the process): an error per
   * partition as the produce or TxnOffsetCommit answers it. `addPartition` (produce v12+, TxnOffsetCommit
   * v5+: transaction version 2) adds the partitions to the transaction instead of only checking.
   */
  verifyOrAddForAppend(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: readonly { topic: string; partition: number }[],
    operation: TransactionSupportedOperation,
  ): number[] | Promise<number[]> {
    const remote = this.#remoteCoordinatorOf(transactionalId);
    if (remote !== null) {
      return this.#remoteVerifyOrAdd(remote, transactionalId, producerId, producerEpoch, partitions, operation).then((errors) =>
        errors.map((error) => appendVerificationError(error, operation)),
      );
    }
    let errors: number[];
    if (operation === "addPartition") {
      const error = this.addPartitions(transactionalId, producerId, producerEpoch, partitions, 2);
      errors = partitions.map(() => error);
    } else {
      errors = this.verifyPartitions(transactionalId, producerId, producerEpoch, partitions);
    }
    return errors.map((error) => appendVerificationError(error, operation));
  }

  /**
   * The broker coordinating `transactionalId` when it is another one (a cluster), -1 when its
   * partition has no leader; null when this broker coordinates it (or there is no cluster).
   */
  #remoteCoordinatorOf(transactionalId: string): number | null {
    if (this.#services.clients === undefined) return null;
    const { metadata } = this.#services;
    const topic = metadata.topic(TRANSACTION_STATE_TOPIC);
    if (topic === undefined) return null;
    const leader = topic.partitions[this.partitionFor(transactionalId)]?.leaderId ?? -1;
    return leader === metadata.nodeId ? null : leader;
  }

  /** AddPartitionsToTxn v5 to the coordinator on broker `nodeId` (Kafka's AddPartitionsToTxnManager); the coordinator's errors per partition. */
  async #remoteVerifyOrAdd(
    nodeId: number,
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: readonly { topic: string; partition: number }[],
    operation: TransactionSupportedOperation,
  ): Promise<number[]> {
    const clients = this.#services.clients;
    if (nodeId < 0 || clients === undefined) return partitions.map(() => ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const topics = new Map<string, number[]>();
    for (const { topic, partition } of partitions) topics.set(topic, [...(topics.get(topic) ?? []), partition]);
    try {
      const response = await clients.request<AddPartitionsToTxnResponse>(nodeId, ADD_PARTITIONS_TO_TXN, {
        transactions: [
          {
            transactionalId,
            producerId,
            producerEpoch,
            verifyOnly: operation !== "addPartition",
            topics: [...topics].map(([name, indexes]) => ({ name, partitions: indexes })),
          },
        ],
      });
      if (response.errorCode !== ErrorCode.NONE) return partitions.map(() => response.errorCode);
      const results = response.resultsByTransaction[0]?.topicResults ?? [];
      return partitions.map(
        ({ topic, partition }) =>
          results.find((t) => t.name === topic)?.resultsByPartition.find((p) => p.partitionIndex === partition)?.partitionErrorCode ??
          ErrorCode.UNKNOWN_SERVER_ERROR,
      );
    } catch {
      return partitions.map(() => ErrorCode.NETWORK_EXCEPTION);
    }
  }

  /**
   * Whether `partition` is in the ongoing transaction of `transactionalId` with this producer id
   * and epoch, checked synchronously right before an append that a verification allowed (the
   * role of Kafka's VerificationGuard: a transaction that ended meanwhile refuses the append).
   */
  isInOngoingTransaction(transactionalId: string, producerId: bigint, producerEpoch: number, topic: string, partition: number): boolean {
    const found = this.#transactionState(transactionalId);
    if (found === null || typeof found === "number") return false;
    const { metadata } = found;
    return (
      metadata.state === TxnState.Ongoing &&
      metadata.producerId === producerId &&
      metadata.producerEpoch === producerEpoch &&
      metadata.topicPartitions.has(tpKey(topic, partition))
    );
  }

  // ------------------------------------------------------------------------------------------
  // EndTxn

  /** handleEndTransaction: commit or abort. */
  endTransaction(transactionalId: string, producerId: bigint, producerEpoch: number, commit: boolean, clientTransactionVersion: number): EndTxnResult {
    return this.#endTransaction(transactionalId, producerId, producerEpoch, commit, true, clientTransactionVersion);
  }

  #endTransaction(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
    isFromClient: boolean,
    clientTransactionVersion: number,
  ): EndTxnResult {
    if (transactionalId === "") return endError(ErrorCode.INVALID_REQUEST);
    const found = this.#transactionState(transactionalId);
    if (typeof found === "number") return endError(found);
    if (found === null) return endError(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const { shard, metadata } = found;
    const coordinatorEpoch = shard.coordinatorEpoch;
    const prepared =
      clientTransactionVersion >= 2
        ? this.#prepareEndV2(metadata, producerId, producerEpoch, commit, isFromClient, clientTransactionVersion)
        : this.#prepareEndV1(metadata, producerId, producerEpoch, commit, isFromClient);
    if (typeof prepared === "number") return endError(prepared);
    if (!("transit" in prepared)) return prepared;
    const { transit, isEpochFence } = prepared;
    const error = this.#appendTransactionToLog(transactionalId, coordinatorEpoch, transit);
    if (error !== ErrorCode.NONE) {
      if (isEpochFence) {
        const current = this.#transactionState(transactionalId);
        if (current !== null && typeof current !== "number" && current.shard.coordinatorEpoch === coordinatorEpoch) current.metadata.hasFailedEpochFence = true;
      }
      return endError(error);
    }
    // sendTxnMarkersCallback: check the state again, prepare the completion, write the markers.
    const current = this.#transactionState(transactionalId);
    if (current === null)
      throw new IllegalTxnStateError(`The coordinator still owns the transaction partition for ${transactionalId}, but there is no metadata in the cache`);
    if (typeof current === "number") return endError(current);
    if (current.shard.coordinatorEpoch !== coordinatorEpoch) return endError(ErrorCode.NOT_COORDINATOR);
    const txn = current.metadata;
    if (txn.producerId !== producerId) return endError(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const epochOk =
      clientTransactionVersion >= 2 ? txn.producerEpoch === producerEpoch || txn.producerEpoch === producerEpoch + 1 : txn.producerEpoch === producerEpoch;
    if (!epochOk) return endError(ErrorCode.PRODUCER_FENCED);
    if (txn.pendingTransitionInProgress) return endError(ErrorCode.CONCURRENT_TRANSACTIONS);
    const expectedState = commit ? TxnState.PrepareCommit : TxnState.PrepareAbort;
    if (txn.state !== expectedState) return endError(this.#invalidStateTransition(transactionalId, txn.state, commit));
    const markerProducerId = txn.producerId;
    const markerProducerEpoch = txn.producerEpoch;
    const complete = txn.prepareComplete(Date.now());
    this.#addTxnMarkersToSend(coordinatorEpoch, commit, txn, complete);
    return clientTransactionVersion >= 2
      ? { errorCode: ErrorCode.NONE, producerId: markerProducerId, producerEpoch: markerProducerEpoch }
      : { errorCode: ErrorCode.NONE, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH };
  }

  #invalidStateTransition(transactionalId: string, state: TxnStateInfo, commit: boolean): number {
    this.#logger.warn({ transactionalId, state: state.name, result: commit ? "COMMIT" : "ABORT" }, "transaction marker result does not fit the state");
    return ErrorCode.INVALID_TXN_STATE;
  }

  /** endTransactionWithTV1's checks and transition. */
  #prepareEndV1(
    metadata: TransactionMetadata,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
    isFromClient: boolean,
  ): number | EndTxnResult | { transit: TxnTransit; isEpochFence: boolean } {
    if (metadata.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if ((isFromClient && producerEpoch !== metadata.producerEpoch) || producerEpoch < metadata.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (metadata.pendingTransitionInProgress && metadata.pendingState !== TxnState.PrepareEpochFence) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const id = metadata.transactionalId;
    switch (metadata.state) {
      case TxnState.Ongoing: {
        let isEpochFence = false;
        if (!commit && metadata.pendingState === TxnState.PrepareEpochFence) {
          isEpochFence = true;
          metadata.pendingState = null;
          metadata.producerEpoch = producerEpoch;
          metadata.lastProducerEpoch = NO_PRODUCER_EPOCH;
        }
        return {
          transit: metadata.prepareAbortOrCommit(commit ? TxnState.PrepareCommit : TxnState.PrepareAbort, 0, NO_PRODUCER_ID, Date.now(), false),
          isEpochFence,
        };
      }
      case TxnState.CompleteCommit:
        return commit ? endError(ErrorCode.NONE) : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.CompleteAbort:
        return !commit ? endError(ErrorCode.NONE) : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.PrepareCommit:
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.PrepareAbort:
        return !commit ? ErrorCode.CONCURRENT_TRANSACTIONS : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.Empty:
        return this.#invalidStateTransition(id, metadata.state, commit);
      default:
        throw new IllegalTxnStateError(
          `Found transactionalId ${id} with state ${metadata.state.name}. This is illegal as we should never have transitioned to this state.`,
        );
    }
  }

  /** endTransaction's checks and transition under transaction version 2 (see Kafka's table). */
  #prepareEndV2(
    metadata: TransactionMetadata,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
    isFromClient: boolean,
    clientTransactionVersion: number,
  ): number | EndTxnResult | { transit: TxnTransit; isEpochFence: boolean } {
    const id = metadata.transactionalId;
    const currentProducerId = metadata.producerId;
    const currentProducerEpoch = metadata.producerEpoch;
    const isEpochFence = metadata.pendingState === TxnState.PrepareEpochFence;
    const retryOnOverflow = !isEpochFence && metadata.prevProducerId === producerId && producerEpoch === 32767 - 1 && metadata.producerEpoch === 0;
    const retryOnEpochBump = !isEpochFence && metadata.producerEpoch === producerEpoch + 1;
    let isValidEpoch: boolean;
    if (!isEpochFence) {
      switch (metadata.state) {
        case TxnState.PrepareCommit:
        case TxnState.PrepareAbort:
          isValidEpoch = retryOnEpochBump;
          break;
        case TxnState.CompleteCommit:
        case TxnState.CompleteAbort:
          isValidEpoch = retryOnEpochBump || retryOnOverflow || producerEpoch === metadata.producerEpoch;
          break;
        default:
          isValidEpoch = producerEpoch === metadata.producerEpoch;
      }
    } else {
      isValidEpoch = (!isFromClient || producerEpoch === metadata.producerEpoch) && producerEpoch >= metadata.producerEpoch;
    }
    const isRetry = retryOnEpochBump || retryOnOverflow;
    const complete = (
      next: typeof TxnState.PrepareCommit | typeof TxnState.PrepareAbort,
      noPartitionAdded: boolean,
    ): number | { transit: TxnTransit; isEpochFence: boolean } => {
      // A new producer id once the epoch is exhausted (handed out at completion).
      let nextProducerId = NO_PRODUCER_ID;
      if (!isEpochFence && metadata.isProducerEpochExhausted) {
        const spare = this.#spareProducerId;
        if (spare === null) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
        nextProducerId = spare;
        this.#spareProducerId = null;
        this.#refillSpareProducerId();
      }
      // Kafka 4.4: the fence's pending state makes way for PrepareAbort; under TV2 the epoch is not
      // set to the fenced one first, so the abort bumps it once (TV1 sets it, see #prepareEndV1).
      if (next === TxnState.PrepareAbort && isEpochFence) metadata.pendingState = null;
      return { transit: metadata.prepareAbortOrCommit(next, clientTransactionVersion, nextProducerId, Date.now(), noPartitionAdded), isEpochFence };
    };
    if (metadata.producerId !== producerId && !retryOnOverflow) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (!isValidEpoch) return ErrorCode.PRODUCER_FENCED;
    if (metadata.pendingTransitionInProgress && metadata.pendingState !== TxnState.PrepareEpochFence) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const ok: EndTxnResult = { errorCode: ErrorCode.NONE, producerId: currentProducerId, producerEpoch: currentProducerEpoch };
    switch (metadata.state) {
      case TxnState.Ongoing:
        return complete(commit ? TxnState.PrepareCommit : TxnState.PrepareAbort, false);
      case TxnState.CompleteCommit:
        if (commit) return isRetry ? ok : this.#invalidStateTransition(id, metadata.state, commit);
        return isRetry ? this.#invalidStateTransition(id, metadata.state, commit) : complete(TxnState.PrepareAbort, true);
      case TxnState.CompleteAbort:
        if (!commit) return isRetry ? ok : complete(TxnState.PrepareAbort, true);
        return this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.PrepareCommit:
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.PrepareAbort:
        return !commit ? ErrorCode.CONCURRENT_TRANSACTIONS : this.#invalidStateTransition(id, metadata.state, commit);
      case TxnState.Empty:
        return !commit ? complete(TxnState.PrepareAbort, true) : this.#invalidStateTransition(id, metadata.state, commit);
      default:
        throw new IllegalTxnStateError(
          `Found transactionalId ${id} with state ${metadata.state.name}. This is illegal as we should never have transitioned to this state.`,
        );
    }
  }

  /** A producer id kept ready for an epoch overflow under TV2 (EndTxn cannot wait for a block). */
  #spareProducerId: bigint | null = null;
  #refilling = false;

  #refillSpareProducerId(): void {
    if (this.#spareProducerId !== null || this.#refilling) return;
    this.#refilling = true;
    this.producerIds.generateProducerId().then(
      (id) => {
        this.#spareProducerId = id;
        this.#refilling = false;
      },
      (error) => {
        this.#refilling = false;
        this.#logger.warn({ err: error }, "could not reserve a spare producer id");
      },
    );
  }

  /** Reserves the spare producer id (start-up). */
  async prepare(): Promise<void> {
    this.#spareProducerId ??= await this.producerIds.generateProducerId();
  }

  // ------------------------------------------------------------------------------------------
  // Markers (TransactionMarkerChannelManager, written locally)

  #addTxnMarkersToSend(coordinatorEpoch: number, commit: boolean, metadata: TransactionMetadata, complete: TxnTransit): void {
    const pending: PendingCompleteTxn = {
      transactionalId: metadata.transactionalId,
      coordinatorEpoch,
      metadata,
      complete,
      commit,
      producerId: metadata.producerId,
      producerEpoch: metadata.producerEpoch,
      transactionVersion: metadata.clientTransactionVersion,
    };
    this.#pendingMarkers.set(metadata.transactionalId, pending);
    this.#writeMarkers(pending);
  }

  /**
   * Writes the markers still owed (to this broker's partitions directly, to other leaders with
   * WriteTxnMarkers); completes the transaction once every partition has one.
   */
  #writeMarkers(pending: PendingCompleteTxn): void {
    const { metadata } = pending;
    const settle = (key: string, error: number) => {
      if (error === ErrorCode.NONE || error === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        metadata.removePartition(key);
      } else {
        const { topic, partition } = parseTpKey(key);
        this.#logger.warn({ transactionalId: pending.transactionalId, partition: `${topic}-${partition}`, error }, "transaction marker not written; retrying");
      }
    };
    const remote: Promise<void>[] = [];
    for (const key of [...metadata.topicPartitions]) {
      const { topic, partition } = parseTpKey(key);
      let written: number | Promise<number>;
      try {
        written = this.#services.markers.writeMarker(
          topic,
          partition,
          pending.producerId,
          pending.producerEpoch,
          pending.coordinatorEpoch,
          pending.commit,
          pending.transactionVersion,
        );
      } catch (cause) {
        this.#logger.error({ err: cause, transactionalId: pending.transactionalId, partition: `${topic}-${partition}` }, "writing a transaction marker failed");
        written = cause instanceof LogError ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.UNKNOWN_SERVER_ERROR;
      }
      if (typeof written === "number") settle(key, written);
      else remote.push(written.then((error) => settle(key, error)));
    }
    // Local markers are written already; with markers sent to other leaders, completion waits for their answers.
    if (remote.length === 0) this.#markersWritten(pending);
    else Promise.all(remote).then(() => this.#markersWritten(pending));
  }

  #markersWritten(pending: PendingCompleteTxn): void {
    const { metadata } = pending;
    if (this.#pendingMarkers.get(pending.transactionalId) !== pending) return;
    if (metadata.topicPartitions.size > 0) {
      this.#scheduleMarkerRetry();
      return;
    }
    // writeTxnCompletion: CompleteCommit / CompleteAbort, retried while the log is unavailable.
    const error = this.#appendTransactionToLog(
      pending.transactionalId,
      pending.coordinatorEpoch,
      pending.complete,
      (e) => e === ErrorCode.COORDINATOR_NOT_AVAILABLE,
    );
    if (error === ErrorCode.COORDINATOR_NOT_AVAILABLE) {
      this.#scheduleMarkerRetry();
      return;
    }
    this.#pendingMarkers.delete(pending.transactionalId);
    if (error !== ErrorCode.NONE) this.#logger.warn({ transactionalId: pending.transactionalId, error }, "completing the transaction in the log failed");
  }

  #scheduleMarkerRetry(): void {
    if (this.#markerRetry !== null || !this.#active) return;
    this.#markerRetry = setTimeout(() => {
      this.#markerRetry = null;
      for (const pending of [...this.#pendingMarkers.values()]) {
        const current = this.#transactionState(pending.transactionalId);
        if (current === null || typeof current === "number" || current.metadata !== pending.metadata) {
          this.#pendingMarkers.delete(pending.transactionalId);
          continue;
        }
        this.#writeMarkers(pending);
      }
    }, MARKER_RETRY_MS);
    this.#markerRetry.unref();
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  /** abortTimedOutTransactions: fences and aborts Ongoing transactions past their timeout. */
  abortTimedOutTransactions(nowMs: number): void {
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      for (const metadata of [...shard.transactions.values()]) {
        if (metadata.pendingTransitionInProgress || metadata.state !== TxnState.Ongoing || metadata.isDistributedTwoPhaseCommitTxn) continue;
        if (metadata.txnStartTimestamp + metadata.txnTimeoutMs >= nowMs) continue;
        const transit = metadata.prepareFenceProducerEpoch();
        const ended = this.#endTransaction(metadata.transactionalId, transit.producerId, transit.producerEpoch, false, false, TRANSACTION_VERSION_LEVEL);
        if (ended.errorCode === ErrorCode.NONE)
          this.#logger.info({ transactionalId: metadata.transactionalId }, "Completed rollback of ongoing transaction due to timeout");
        else this.#logger.warn({ transactionalId: metadata.transactionalId, error: ended.errorCode }, "rollback of a timed-out transaction failed");
      }
    }
  }

  /** removeExpiredTransactionalIds: tombstones for ids idle past transactional.id.expiration.ms. */
  removeExpiredTransactionalIds(nowMs: number): number {
    let removed = 0;
    for (const shard of this.#shards.values()) {
      if (shard.state !== "active") continue;
      const expired: { metadata: TransactionMetadata; transit: TxnTransit }[] = [];
      for (const metadata of shard.transactions.values()) {
        if (metadata.pendingState !== null || !metadata.state.expirationAllowed) continue;
        if (metadata.txnLastUpdateTimestamp > nowMs - this.config.transactionalIdExpirationMs) continue;
        expired.push({ metadata, transit: metadata.prepareDead() });
      }
      if (expired.length === 0) continue;
      const error = shard.write(
        expired.map(({ metadata }) => ({ transactionalId: metadata.transactionalId, value: null, version: -1 })),
        nowMs,
      );
      for (const { metadata } of expired) {
        if (error === ErrorCode.NONE && shard.transactions.get(metadata.transactionalId) === metadata && metadata.pendingState === TxnState.Dead) {
          shard.transactions.delete(metadata.transactionalId);
          removed++;
        } else {
          metadata.pendingState = null;
        }
      }
    }
    return removed;
  }

  // ------------------------------------------------------------------------------------------
  // Admin

  describe(transactionalId: string): DescribedTransaction {
    const base = {
      transactionalId,
      transactionState: "",
      transactionTimeoutMs: 0,
      transactionStartTimeMs: -1n,
      producerId: -1n,
      producerEpoch: -1,
      topics: [],
    };
    if (!this.#active) return { ...base, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    if (transactionalId === "") return { ...base, errorCode: ErrorCode.INVALID_REQUEST };
    const found = this.#transactionState(transactionalId);
    if (typeof found === "number") return { ...base, errorCode: found };
    if (found === null || found.metadata.state === TxnState.Dead) return { ...base, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
    const { metadata } = found;
    const topics = new Map<string, number[]>();
    for (const key of metadata.topicPartitions) {
      const { topic, partition } = parseTpKey(key);
      const list = topics.get(topic) ?? [];
      list.push(partition);
      topics.set(topic, list);
    }
    return {
      errorCode: ErrorCode.NONE,
      transactionalId,
      transactionState: metadata.state.name,
      transactionTimeoutMs: metadata.txnTimeoutMs,
      transactionStartTimeMs: BigInt(metadata.txnStartTimestamp),
      producerId: metadata.producerId,
      producerEpoch: metadata.producerEpoch,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
  }

  /** listTransactionStates with Kafka's filters (unknown state names are reported back). */
  list(
    producerIds: readonly bigint[],
    stateNames: readonly string[],
    durationFilterMs: bigint,
    transactionalIdPattern: string | null,
  ): { errorCode: number; unknownStateFilters: string[]; transactionStates: ListedTransaction[] } {
    if (!this.#active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, unknownStateFilters: [], transactionStates: [] };
    if ([...this.#shards.values()].some((shard) => shard.state === "loading")) {
      return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, unknownStateFilters: [], transactionStates: [] };
    }
    const unknownStateFilters: string[] = [];
    const states = new Set<TxnStateInfo>();
    for (const name of stateNames) {
      const state = txnStateFromName(name);
      if (state === undefined) unknownStateFilters.push(name);
      else states.add(state);
    }
    let pattern: RegExp | null = null;
    if (transactionalIdPattern !== null && transactionalIdPattern !== "") {
      try {
        pattern = new RegExp(`^(?:${transactionalIdPattern})$`, "u");
      } catch (error) {
        throw new KafkaError(
          "INVALID_REGULAR_EXPRESSION",
          `Transaction ID pattern \`${transactionalIdPattern}\` is not a valid regular expression: ${(error as Error).message}.`,
        );
      }
    }
    const now = Date.now();
    const idFilter = new Set(producerIds);
    const transactionStates: ListedTransaction[] = [];
    for (const shard of this.#shards.values()) {
      for (const metadata of shard.transactions.values()) {
        if (metadata.state === TxnState.Dead) continue;
        if (idFilter.size > 0 && !idFilter.has(metadata.producerId)) continue;
        if (stateNames.length > 0 && !states.has(metadata.state)) continue;
        if (durationFilterMs >= 0n && BigInt(now - metadata.txnStartTimestamp) <= durationFilterMs) continue;
        if (pattern !== null && !pattern.test(metadata.transactionalId)) continue;
        transactionStates.push({ transactionalId: metadata.transactionalId, producerId: metadata.producerId, transactionState: metadata.state.name });
      }
    }
    return { errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates };
  }

  /** WriteTxnMarkers: a marker from another coordinator or an admin (kafka-transactions.sh abort), for one partition. */
  writeMarker(
    topic: string,
    partition: number,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    commit: boolean,
    transactionVersion: number,
  ): number | Promise<number> {
    try {
      return this.#services.localMarkers.writeMarker(topic, partition, producerId, producerEpoch, coordinatorEpoch, commit, transactionVersion);
    } catch (error) {
      this.#logger.error({ err: error, partition: `${topic}-${partition}` }, "writing a transaction marker failed");
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
  }

  /** The coordinator's availability for a transactional id (FindCoordinator after the topic exists). */
  availability(transactionalId: string): number {
    const shard = this.#shardFor(transactionalId);
    return typeof shard === "number" ? shard : ErrorCode.NONE;
  }
}

function initError(errorCode: number): InitProducerIdResult {
  return { errorCode, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH };
}

function endError(errorCode: number): EndTxnResult {
  return { errorCode, producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH };
}

/** prepareInitProducerIdTransit's isValidProducerId. */
function isValidProducerId(expected: { producerId: bigint; producerEpoch: number }, metadata: TransactionMetadata): boolean {
  return (
    metadata.producerEpoch === NO_PRODUCER_EPOCH ||
    expected.producerId === metadata.producerId ||
    (expected.producerId === metadata.prevProducerId && isEpochExhausted(expected.producerEpoch))
  );
}
