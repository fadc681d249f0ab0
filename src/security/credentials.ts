// SCRAM credentials in the metadata store (Kafka keeps them as UserScramCredentialRecords in its
// metadata log): per user and mechanism the salt, iterations, StoredKey and ServerKey, written by
// AlterUserScramCredentials and read by every broker's SCRAM authenticator. The embedded store
// (src/cluster/metadata.ts) holds them on a single node, etcd (`scram/<mechanism>/<user>`) in a
// cluster; both implement ScramCredentialStore.

import type { ScramCredentialLookup } from "./sasl.js";
import type { ScramCredential, ScramMechanism } from "./scram.js";

/** A credential as stored (JSON: base64 bytes). */
export interface StoredScramCredential {
  readonly salt: string;
  readonly storedKey: string;
  readonly serverKey: string;
  readonly iterations: number;
}

export interface ScramCredentialChange {
  readonly user: string;
  readonly mechanism: ScramMechanism;
  /** The new credential, or null to delete it. */
  readonly credential: ScramCredential | null;
}

export interface ScramCredentialStore extends ScramCredentialLookup {
  /** Every user with credentials: mechanism → iterations. */
  scramUsers(): ReadonlyMap<string, ReadonlyMap<ScramMechanism, number>>;
  /** Applies the changes (persisted, and seen by every broker, before it resolves). */
  alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void>;
}

export function storedCredential(credential: ScramCredential): StoredScramCredential {
  return {
    salt: credential.salt.toString("base64"),
    storedKey: credential.storedKey.toString("base64"),
    serverKey: credential.serverKey.toString("base64"),
    iterations: credential.iterations,
  };
}

export function credentialOfStored(stored: StoredScramCredential): ScramCredential {
  return {
    salt: Buffer.from(stored.salt, "base64"),
    storedKey: Buffer.from(stored.storedKey, "base64"),
    serverKey: Buffer.from(stored.serverKey, "base64"),
    iterations: stored.iterations,
  };
}

/** The in-memory table both stores keep: user → mechanism → credential. */
export class ScramCredentialTable {
  readonly #byUser = new Map<string, Map<ScramMechanism, ScramCredential>>();

  get(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#byUser.get(user)?.get(mechanism);
  }

  set(user: string, mechanism: ScramMechanism, credential: ScramCredential | null): void {
    let mechanisms = this.#byUser.get(user);
    if (credential === null) {
      mechanisms?.delete(mechanism);
      if (mechanisms?.size === 0) this.#byUser.delete(user);
      return;
    }
    if (mechanisms === undefined) {
      mechanisms = new Map();
      this.#byUser.set(user, mechanisms);
    }
    mechanisms.set(mechanism, credential);
  }

  users(): Map<string, Map<ScramMechanism, number>> {
    const users = new Map<string, Map<ScramMechanism, number>>();
    for (const [user, mechanisms] of this.#byUser) {
      users.set(user, new Map([...mechanisms].map(([mechanism, credential]) => [mechanism, credential.iterations])));
    }
    return users;
  }
}
