// One transactional id's state as the transaction coordinator keeps it: Kafka 4.4's
// TransactionState, TransactionMetadata and TxnTransitMetadata, ported with their rules.
//
// A change is two-phase, as in Kafka: `prepare…` computes the next state (a TxnTransit) and marks
// the transition pending; the transit is written to __transaction_state; once the write succeeded
// `completeTransitionTo` checks it once more and applies it (a failed write clears the pending
// state instead). While a transition is pending, requests that would start another one get
// CONCURRENT_TRANSACTIONS.

/** Kafka's TransactionState: id (stored in TransactionLogValue.transactionStatus), name (admin APIs). */
export const TxnState = {
  Empty: { id: 0, name: "Empty", expirationAllowed: true },
  Ongoing: { id: 1, name: "Ongoing", expirationAllowed: false },
  PrepareCommit: { id: 2, name: "PrepareCommit", expirationAllowed: false },
  PrepareAbort: { id: 3, name: "PrepareAbort", expirationAllowed: false },
  CompleteCommit: { id: 4, name: "CompleteCommit", expirationAllowed: true },
  CompleteAbort: { id: 5, name: "CompleteAbort", expirationAllowed: true },
  Dead: { id: 6, name: "Dead", expirationAllowed: false },
  PrepareEpochFence: { id: 7, name: "PrepareEpochFence", expirationAllowed: false },
} as const;

export type TxnStateInfo = (typeof TxnState)[keyof typeof TxnState];
export type TxnStateName = TxnStateInfo["name"];

const statesById = Object.values(TxnState).sort((a, b) => a.id - b.id);

export function txnStateFromId(id: number): TxnStateInfo {
  const state = statesById[id];
  if (state === undefined) throw new Error(`Unknown transaction state id ${id} from the transaction status message`);
  return state;
}

export function txnStateFromName(name: string): TxnStateInfo | undefined {
  return statesById.find((state) => state.name === name);
}

/** TransactionState.VALID_PREVIOUS_STATES. */
const validPreviousStates: Record<TxnStateName, readonly TxnStateName[]> = {
  Empty: ["Empty", "CompleteCommit", "CompleteAbort"],
  Ongoing: ["Ongoing", "Empty", "CompleteCommit", "CompleteAbort"],
  PrepareCommit: ["Ongoing"],
  PrepareAbort: ["Ongoing", "PrepareEpochFence", "Empty", "CompleteCommit", "CompleteAbort"],
  CompleteCommit: ["PrepareCommit"],
  CompleteAbort: ["PrepareAbort"],
  Dead: ["Empty", "CompleteAbort", "CompleteCommit"],
  PrepareEpochFence: ["Ongoing"],
};

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
const SHORT_MAX = 32767;

/** TransactionMetadata.isEpochExhausted: the epoch cannot be bumped twice more (fence + next). */
export function isEpochExhausted(producerEpoch: number): boolean {
  return producerEpoch >= SHORT_MAX - 1;
}

/** A topic partition in a transaction, as "topic-partition" keys (a Set of strings compares by value). */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function parseTpKey(key: string): { topic: string; partition: number } {
  const cut = key.lastIndexOf("\u0000");
  return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)) };
}

/** TxnTransitMetadata: the state a transition leads to, written to the log before it applies. */
export interface TxnTransit {
  readonly producerId: bigint;
  readonly prevProducerId: bigint;
  readonly nextProducerId: bigint;
  readonly producerEpoch: number;
  readonly lastProducerEpoch: number;
  readonly txnTimeoutMs: number;
  readonly state: TxnStateInfo;
  readonly topicPartitions: ReadonlySet<string>;
  readonly txnStartTimestamp: number;
  readonly txnLastUpdateTimestamp: number;
  /** The client's transaction version (0-2: TransactionVersion feature level). */
  readonly clientTransactionVersion: number;
}

/** An illegal transition: Kafka's IllegalStateException (a bug, never a client's fault). */
export class IllegalTxnStateError extends Error {}

/** PRODUCER_FENCED raised inside a prepare (Kafka throws Errors.PRODUCER_FENCED.exception()). */
export class ProducerFencedError extends Error {}

export class TransactionMetadata {
  producerId: bigint;
  prevProducerId: bigint;
  nextProducerId: bigint;
  producerEpoch: number;
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnStateInfo;
  topicPartitions: Set<string>;
  txnStartTimestamp: number;
  txnLastUpdateTimestamp: number;
  clientTransactionVersion: number;
  pendingState: TxnStateInfo | null = null;
  hasFailedEpochFence = false;

  constructor(
    readonly transactionalId: string,
    init: Omit<TxnTransit, "state" | "topicPartitions"> & { state: TxnStateInfo; topicPartitions: Iterable<string> },
  ) {
    this.producerId = init.producerId;
    this.prevProducerId = init.prevProducerId;
    this.nextProducerId = init.nextProducerId;
    this.producerEpoch = init.producerEpoch;
    this.lastProducerEpoch = init.lastProducerEpoch;
    this.txnTimeoutMs = init.txnTimeoutMs;
    this.state = init.state;
    this.topicPartitions = new Set(init.topicPartitions);
    this.txnStartTimestamp = init.txnStartTimestamp;
    this.txnLastUpdateTimestamp = init.txnLastUpdateTimestamp;
    this.clientTransactionVersion = init.clientTransactionVersion;
  }

  get pendingTransitionInProgress(): boolean {
    return this.pendingState !== null;
  }

  get isProducerEpochExhausted(): boolean {
    return isEpochExhausted(this.producerEpoch);
  }

  /** A 2PC transaction (KIP-939) has no timeout. */
  get isDistributedTwoPhaseCommitTxn(): boolean {
    return this.txnTimeoutMs === 2147483647;
  }

  /** Called as each marker is written (the partition leaves the transaction). */
  removePartition(key: string): void {
    if (this.state !== TxnState.PrepareCommit && this.state !== TxnState.PrepareAbort) {
      throw new IllegalTxnStateError(
        `Transaction metadata's current state is ${this.state.name}, and its pending state is ${this.pendingState?.name ?? "None"} while trying to remove partitions whose txn marker has been sent, this is not expected`,
      );
    }
    this.topicPartitions.delete(key);
  }

  #current(state: TxnStateInfo): { -readonly [K in keyof TxnTransit]: TxnTransit[K] } {
    return {
      producerId: this.producerId,
      prevProducerId: this.producerId,
      nextProducerId: this.nextProducerId,
      producerEpoch: this.producerEpoch,
      lastProducerEpoch: this.lastProducerEpoch,
      txnTimeoutMs: this.txnTimeoutMs,
      state,
      topicPartitions: this.topicPartitions,
      txnStartTimestamp: this.txnStartTimestamp,
      txnLastUpdateTimestamp: this.txnLastUpdateTimestamp,
      clientTransactionVersion: this.clientTransactionVersion,
    };
  }

  prepareNoTransit(): TxnTransit {
    return { ...this.#current(this.state), prevProducerId: this.prevProducerId, topicPartitions: new Set(this.topicPartitions) };
  }

  prepareFenceProducerEpoch(): TxnTransit {
    const data = this.#current(TxnState.PrepareEpochFence);
    data.producerEpoch = this.hasFailedEpochFence || this.producerEpoch === SHORT_MAX ? this.producerEpoch : this.producerEpoch + 1;
    return this.#prepareTransitionTo(data);
  }

  prepareIncrementProducerEpoch(newTxnTimeoutMs: number, expectedProducerEpoch: number | null, updateTimestamp: number): TxnTransit {
    if (this.isProducerEpochExhausted) throw new IllegalTxnStateError(`Cannot allocate any more producer epochs for producerId ${this.producerId}`);
    const data = this.#current(TxnState.Empty);
    const bumped = this.producerEpoch + 1;
    if (expectedProducerEpoch === null) {
      data.producerEpoch = bumped;
      data.lastProducerEpoch = NO_PRODUCER_EPOCH;
    } else if (this.producerEpoch === NO_PRODUCER_EPOCH || expectedProducerEpoch === this.producerEpoch) {
      data.producerEpoch = bumped;
      data.lastProducerEpoch = this.producerEpoch;
    } else if (expectedProducerEpoch === this.lastProducerEpoch) {
      // A retry of an InitProducerId whose response was lost: the bump already happened.
    } else {
      throw new ProducerFencedError(
        `Expected producer epoch ${expectedProducerEpoch} does not match current producer epoch ${this.producerEpoch} or previous producer epoch ${this.lastProducerEpoch}`,
      );
    }
    data.txnTimeoutMs = newTxnTimeoutMs;
    data.topicPartitions = new Set();
    data.txnStartTimestamp = -1;
    data.txnLastUpdateTimestamp = updateTimestamp;
    return this.#prepareTransitionTo(data);
  }

  prepareProducerIdRotation(newProducerId: bigint, newTxnTimeoutMs: number, updateTimestamp: number, recordLastEpoch: boolean): TxnTransit {
    if (this.state === TxnState.Ongoing || this.state === TxnState.PrepareAbort || this.state === TxnState.PrepareCommit) {
      throw new IllegalTxnStateError("Cannot rotate producer ids while a transaction is still pending");
    }
    const data = this.#current(TxnState.Empty);
    data.producerId = newProducerId;
    data.producerEpoch = 0;
    data.lastProducerEpoch = recordLastEpoch ? this.producerEpoch : NO_PRODUCER_EPOCH;
    data.txnTimeoutMs = newTxnTimeoutMs;
    data.topicPartitions = new Set();
    data.txnStartTimestamp = -1;
    data.txnLastUpdateTimestamp = updateTimestamp;
    return this.#prepareTransitionTo(data);
  }

  prepareAddPartitions(added: Iterable<string>, updateTimestamp: number, clientTransactionVersion: number): TxnTransit {
    const starting = this.state === TxnState.Empty || this.state === TxnState.CompleteAbort || this.state === TxnState.CompleteCommit;
    const data = this.#current(TxnState.Ongoing);
    data.topicPartitions = new Set([...this.topicPartitions, ...added]);
    data.txnStartTimestamp = starting ? updateTimestamp : this.txnStartTimestamp;
    data.txnLastUpdateTimestamp = updateTimestamp;
    data.clientTransactionVersion = clientTransactionVersion;
    return this.#prepareTransitionTo(data);
  }

  prepareAbortOrCommit(
    newState: typeof TxnState.PrepareCommit | typeof TxnState.PrepareAbort,
    clientTransactionVersion: number,
    nextProducerId: bigint,
    updateTimestamp: number,
    noPartitionAdded: boolean,
  ): TxnTransit {
    const data = this.#current(newState);
    if (clientTransactionVersion >= 2) {
      // TV2 (KIP-890 part 2): every transaction ends with an epoch bump.
      if (!(this.producerEpoch === SHORT_MAX && newState === TxnState.PrepareAbort)) data.producerEpoch = this.producerEpoch + 1;
      data.lastProducerEpoch = this.producerEpoch;
    }
    data.txnStartTimestamp = noPartitionAdded ? updateTimestamp : this.txnStartTimestamp;
    data.nextProducerId = nextProducerId;
    data.txnLastUpdateTimestamp = updateTimestamp;
    data.clientTransactionVersion = clientTransactionVersion;
    return this.#prepareTransitionTo(data);
  }

  prepareComplete(updateTimestamp: number): TxnTransit {
    this.hasFailedEpochFence = false;
    const data = this.#current(this.state === TxnState.PrepareCommit ? TxnState.CompleteCommit : TxnState.CompleteAbort);
    if (this.clientTransactionVersion >= 2 && this.nextProducerId !== NO_PRODUCER_ID) {
      data.producerId = this.nextProducerId;
      data.producerEpoch = 0;
    }
    data.nextProducerId = NO_PRODUCER_ID;
    data.topicPartitions = new Set();
    data.txnLastUpdateTimestamp = updateTimestamp;
    return this.#prepareTransitionTo(data);
  }

  prepareDead(): TxnTransit {
    const data = this.#current(TxnState.Dead);
    data.topicPartitions = new Set();
    return this.#prepareTransitionTo(data);
  }

  #prepareTransitionTo(data: TxnTransit): TxnTransit {
    if (this.pendingState !== null) {
      throw new IllegalTxnStateError(`Preparing transaction state transition to ${this.state.name} while it already a pending state ${this.pendingState.name}`);
    }
    if (data.producerId < 0n) throw new IllegalTxnStateError(`Illegal new producer id ${data.producerId}`);
    if (data.state !== TxnState.Dead && data.producerEpoch < 0) throw new IllegalTxnStateError(`Illegal new producer epoch ${data.producerEpoch}`);
    if (!validPreviousStates[data.state.name].includes(this.state.name)) {
      throw new IllegalTxnStateError(
        `Preparing transaction state transition to ${data.state.name} failed since the target state ${data.state.name} is not a valid previous state of the current state ${this.state.name}`,
      );
    }
    this.pendingState = data.state;
    // prevProducerId of the transit is the current producer id (Kafka's TxnTransitMetadata constructor).
    return { ...data, prevProducerId: this.producerId };
  }

  /** Applies a transit whose write succeeded, after checking it as Kafka does. */
  completeTransitionTo(transit: TxnTransit): void {
    const toState = this.pendingState;
    if (toState === null) {
      throw new IllegalTxnStateError(`TransactionalId ${this.transactionalId} completing transaction state transition while it does not have a pending state`);
    }
    if (toState !== transit.state) this.#fail(transit);
    switch (toState) {
      case TxnState.Empty:
        if (
          !(this.producerEpoch === transit.producerEpoch || this.#validProducerEpochBump(transit)) ||
          transit.topicPartitions.size !== 0 ||
          transit.txnStartTimestamp !== -1
        )
          this.#fail(transit);
        break;
      case TxnState.Ongoing:
        if (
          !this.#validProducerEpoch(transit) ||
          ![...this.topicPartitions].every((tp) => transit.topicPartitions.has(tp)) ||
          this.txnTimeoutMs !== transit.txnTimeoutMs
        )
          this.#fail(transit);
        break;
      case TxnState.PrepareAbort:
      case TxnState.PrepareCommit: {
        const allowedEmptyAbort =
          toState === TxnState.PrepareAbort &&
          transit.clientTransactionVersion >= 2 &&
          (this.state === TxnState.Empty || this.state === TxnState.CompleteCommit || this.state === TxnState.CompleteAbort);
        const validTimestamp = this.txnStartTimestamp === transit.txnStartTimestamp || allowedEmptyAbort;
        if (
          !this.#validProducerEpoch(transit) ||
          !sameSet(this.topicPartitions, transit.topicPartitions) ||
          this.txnTimeoutMs !== transit.txnTimeoutMs ||
          !validTimestamp
        )
          this.#fail(transit);
        break;
      }
      case TxnState.CompleteAbort:
      case TxnState.CompleteCommit:
        if (!this.#validProducerEpoch(transit) || this.txnTimeoutMs !== transit.txnTimeoutMs || transit.txnStartTimestamp === -1) this.#fail(transit);
        break;
      case TxnState.PrepareEpochFence:
        this.#fail(transit);
        break;
      case TxnState.Dead:
        throw new IllegalTxnStateError(
          `TransactionalId ${this.transactionalId} is trying to complete a transition to Dead. This means that the transactionalId was being expired, and the only acceptable completion of this operation is to remove the transaction metadata from the cache, not to persist the Dead in the log.`,
        );
    }
    this.producerId = transit.producerId;
    this.prevProducerId = transit.prevProducerId;
    this.nextProducerId = transit.nextProducerId;
    this.producerEpoch = transit.producerEpoch;
    this.lastProducerEpoch = transit.lastProducerEpoch;
    this.txnTimeoutMs = transit.txnTimeoutMs;
    this.topicPartitions = new Set(transit.topicPartitions);
    this.txnStartTimestamp = transit.txnStartTimestamp;
    this.txnLastUpdateTimestamp = transit.txnLastUpdateTimestamp;
    this.clientTransactionVersion = transit.clientTransactionVersion;
    this.pendingState = null;
    this.state = toState;
  }

  #validProducerEpoch(transit: TxnTransit): boolean {
    const v2 = transit.clientTransactionVersion >= 2;
    if (v2 && (transit.state === TxnState.CompleteCommit || transit.state === TxnState.CompleteAbort) && transit.producerEpoch === 0) {
      return transit.lastProducerEpoch === this.lastProducerEpoch && transit.prevProducerId === this.producerId;
    }
    if (v2 && (transit.state === TxnState.PrepareCommit || transit.state === TxnState.PrepareAbort)) {
      return transit.lastProducerEpoch === this.producerEpoch && transit.producerId === this.producerId;
    }
    return transit.producerEpoch === this.producerEpoch && transit.producerId === this.producerId;
  }

  #validProducerEpochBump(transit: TxnTransit): boolean {
    return transit.producerEpoch === ((this.producerEpoch + 1) << 16) >> 16 || (transit.producerEpoch === 0 && transit.producerId !== this.producerId);
  }

  #fail(transit: TxnTransit): never {
    throw new IllegalTxnStateError(
      `TransactionalId ${this.transactionalId} failed transition to state ${transit.state.name} (producerId=${transit.producerId}, epoch=${transit.producerEpoch}) due to unexpected metadata`,
    );
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}
