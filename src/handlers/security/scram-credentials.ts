// DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51), KIP-554: SCRAM
// credentials in the metadata store (src/security/credentials.ts), with Kafka's per-user errors
// (ScramControlManager and KafkaApis.handleDescribeUserScramCredentialsRequest). kafka-configs.sh
// --entity-type users --alter --add-config 'SCRAM-SHA-512=[iterations=8192,password=…]' sends the
// salted password (the tool computes it), never the password.

import { ErrorCode } from "../../protocol/errors.js";
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from "../../protocol/generated/alter-user-scram-credentials.js";
import type {
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse,
  DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult,
} from "../../protocol/generated/describe-user-scram-credentials.js";
import type { ScramCredentialChange } from "../../security/credentials.js";
import {
  credentialOf,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISM_CODES,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanism,
  scramMechanismOfCode,
} from "../../security/scram.js";
import { defineHandler } from "../../server/registry.js";

export const describeUserScramCredentials = defineHandler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse>(
  50,
  { min: 0, max: 0 },
  (context, request) => {
    const users = context.credentials.scramUsers();
    const result = (user: string): DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult => {
      const mechanisms = users.get(user);
      if (mechanisms === undefined) {
        return {
          user,
          errorCode: ErrorCode.RESOURCE_NOT_FOUND,
          errorMessage: `Attempt to describe a user credential that does not exist: ${user}`,
          credentialInfos: [],
        };
      }
      const credentialInfos = [...mechanisms]
        .map(([mechanism, iterations]) => ({ mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations }))
        .sort((a, b) => a.mechanism - b.mechanism);
      return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos };
    };
    const asked = request.users === null || request.users.length === 0 ? null : request.users.map((u) => u.name);
    if (asked === null) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results: [...users.keys()].sort().map(result) };
    }
    const seen = new Set<string>();
    const duplicates = new Set(asked.filter((name) => seen.size === seen.add(name).size));
    const results = [...new Set(asked)].map((user) =>
      duplicates.has(user)
        ? {
            user,
            errorCode: ErrorCode.DUPLICATE_RESOURCE,
            errorMessage: "Cannot describe SCRAM credentials for the same user twice in a single request",
            credentialInfos: [],
          }
        : result(user),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
  // As Kafka's DescribeUserScramCredentialsRequest.getErrorResponse: the error for each user asked
  // about too (with no user name).
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage: null,
    results: (request.users ?? []).map(() => ({ user: "", errorCode, errorMessage: null, credentialInfos: [] })),
  }),
);

export const alterUserScramCredentials = defineHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>(
  51,
  { min: 0, max: 0 },
  async (context, request) => {
    const existing = context.credentials.scramUsers();
    const users = [...new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)])];
    // A user may change several mechanisms at once, but one (user, mechanism) only once.
    const pairs = new Set<string>();
    const duplicated = new Set<string>();
    for (const { name, mechanism } of [...request.deletions, ...request.upsertions]) {
      const pair = `${mechanism}:${name}`;
      if (pairs.has(pair)) duplicated.add(name);
      pairs.add(pair);
    }
    const errors = new Map<string, { code: number; message: string }>();
    const changes: ScramCredentialChange[] = [];
    const fail = (user: string, code: number, message: string) => {
      if (!errors.has(user)) errors.set(user, { code, message });
    };
    for (const user of users) {
      if (duplicated.has(user)) fail(user, ErrorCode.DUPLICATE_RESOURCE, "A user credential cannot be altered twice in the same request");
      else if (user === "") fail(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
    }
    for (const deletion of request.deletions) {
      if (errors.has(deletion.name)) continue;
      const mechanism = scramMechanismOfCode(deletion.mechanism);
      if (mechanism === null) fail(deletion.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
      else if (!existing.get(deletion.name)?.has(mechanism))
        fail(deletion.name, ErrorCode.RESOURCE_NOT_FOUND, "Attempt to delete a user credential that does not exist");
      else changes.push({ user: deletion.name, mechanism, credential: null });
    }
    for (const upsertion of request.upsertions) {
      if (errors.has(upsertion.name)) continue;
      const mechanism: ScramMechanism | null = scramMechanismOfCode(upsertion.mechanism);
      if (mechanism === null) fail(upsertion.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
      else if (upsertion.iterations < SCRAM_MIN_ITERATIONS) fail(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Too few iterations");
      else if (upsertion.iterations > SCRAM_MAX_ITERATIONS) fail(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Too many iterations");
      else if (upsertion.salt.length === 0 || upsertion.saltedPassword.length === 0)
        fail(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "Salt and salted password must not be empty");
      else
        changes.push({
          user: upsertion.name,
          mechanism,
          credential: credentialOf(mechanism, Buffer.from(upsertion.salt), Buffer.from(upsertion.saltedPassword), upsertion.iterations),
        });
    }
    const applied = changes.filter((change) => !errors.has(change.user));
    if (applied.length > 0) await context.credentials.alterScramCredentials(applied);
    return {
      throttleTimeMs: 0,
      results: users.map((user) => {
        const error = errors.get(user);
        return { user, errorCode: error?.code ?? ErrorCode.NONE, errorMessage: error?.message ?? null };
      }),
    };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    results: [...new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)])].map((user) => ({
      user,
      errorCode,
      errorMessage: null,
    })),
  }),
);
