// Producer ids for idempotent and (later) transactional producers: Kafka's ProducerIdManager.
//
// Ids are reserved in blocks of PRODUCER_ID_BLOCK_SIZE from the cluster metadata, which persists
// each reservation before any id of the block is handed out, so an id is never given twice — not
// across restarts either (ids left in a block when the broker stops are skipped, as in Kafka).
// The transaction coordinator (src/coordinator/transaction/) will own this manager; until it
// exists, InitProducerId without a transactional id is its only user.

/** Where blocks come from: the metadata store on one node, the controller in a cluster. */
export interface ProducerIdBlockSource {
  /** Reserves `count` consecutive ids, durably, and returns the first. */
  allocateProducerIds(count: number): Promise<bigint>;
}

/** Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

export class ProducerIdManager {
  readonly #source: ProducerIdBlockSource;
  #next = 0n;
  #left = 0;
  /** The block being reserved; every caller waiting for an id shares it. */
  #reserving: Promise<void> | null = null;

  constructor(source: ProducerIdBlockSource) {
    this.#source = source;
  }

  /** A producer id never handed out before. */
  async generateProducerId(): Promise<bigint> {
    while (this.#left === 0) {
      this.#reserving ??= this.#reserveBlock();
      await this.#reserving;
    }
    this.#left--;
    return this.#next++;
  }

  async #reserveBlock(): Promise<void> {
    try {
      this.#next = await this.#source.allocateProducerIds(PRODUCER_ID_BLOCK_SIZE);
      this.#left = PRODUCER_ID_BLOCK_SIZE;
    } finally {
      this.#reserving = null;
    }
  }
}
