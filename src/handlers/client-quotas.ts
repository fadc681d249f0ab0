// DescribeClientQuotas (key 48) and AlterClientQuotas (key 49), KIP-546: client quota configs in
// the metadata store (src/security/client-quotas.ts), with Kafka's checks and messages
// (ClientQuotaControlManager, ClientQuotasImage.describe). kafka-configs.sh --entity-type
// users|clients|ips --alter --add-config producer_byte_rate=1024 and --describe use them; the
// QuotaManager (src/security/quota-manager.ts) enforces what they set on every broker.
// Authorization (index.ts): DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster.

import { ErrorCode } from "../protocol/errors.js";
import type { AlterClientQuotasRequest, AlterClientQuotasResponse, AlterClientQuotasResponseEntryData } from "../protocol/generated/alter-client-quotas.js";
import type { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from "../protocol/generated/describe-client-quotas.js";
import { type ClientQuotaChange, changeErrors, entityKey, InvalidFilter, matchingQuotas } from "../security/client-quotas.js";
import { defineHandler } from "../server/registry.js";

export const describeClientQuotas = defineHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse>(
  48,
  { min: 0, max: 1 },
  (context, request) => {
    let matched: ReturnType<typeof matchingQuotas>;
    try {
      matched = matchingQuotas(context.clientQuotas.clientQuotas(), request.components, request.strict);
    } catch (error) {
      if (!(error instanceof InvalidFilter)) throw error;
      const errorCode = error.unsupported ? ErrorCode.UNSUPPORTED_VERSION : ErrorCode.INVALID_REQUEST;
      return { throttleTimeMs: 0, errorCode, errorMessage: error.message, entries: null };
    }
    const entries = matched.map((record) => ({
      entity: record.entity.map((part) => ({ entityType: part.entityType, entityName: part.entityName })),
      values: Object.entries(record.values).map(([key, value]) => ({ key, value })),
    }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, entries: null }),
);

export const alterClientQuotas = defineHandler<AlterClientQuotasRequest, AlterClientQuotasResponse>(
  49,
  { min: 0, max: 1 },
  async (context, request) => {
    const changes: ClientQuotaChange[] = [];
    const errors = new Map<string, string>();
    for (const entry of request.entries) {
      const values: Record<string, number | null> = {};
      const key = entityKey(entry.entity);
      for (const op of entry.ops) {
        if (Object.hasOwn(values, op.key)) {
          errors.set(key, `Duplicate quota key ${op.key} not updating quota for this entity`);
          break;
        }
        values[op.key] = op.remove ? null : op.value;
      }
      changes.push({ entity: entry.entity.map((part) => ({ entityType: part.entityType, entityName: part.entityName })), values });
    }
    for (const [key, message] of changeErrors(changes)) if (!errors.has(key)) errors.set(key, message);
    const valid = changes.filter((change) => !errors.has(entityKey(change.entity)));
    if (!request.validateOnly && valid.length > 0) await context.clientQuotas.alterClientQuotas(valid);
    const entries: AlterClientQuotasResponseEntryData[] = request.entries.map((entry) => {
      const message = errors.get(entityKey(entry.entity)) ?? null;
      return {
        errorCode: message === null ? ErrorCode.NONE : ErrorCode.INVALID_REQUEST,
        errorMessage: message,
        entity: entry.entity.map((part) => ({ entityType: part.entityType, entityName: part.entityName })),
      };
    });
    return { throttleTimeMs: 0, entries };
  },
  (_context, request, errorCode) => ({
    throttleTimeMs: 0,
    entries: request.entries.map((entry) => ({
      errorCode,
      errorMessage: null,
      entity: entry.entity.map((part) => ({ entityType: part.entityType, entityName: part.entityName })),
    })),
  }),
);
