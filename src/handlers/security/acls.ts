// CreateAcls (key 30), DescribeAcls (29) and DeleteAcls (31), as Kafka's AclApis: without an
// authorizer every one answers SECURITY_DISABLED ("No Authorizer is configured."); DescribeAcls
// needs DESCRIBE on the cluster, CreateAcls and DeleteAcls ALTER (CLUSTER_AUTHORIZATION_FAILED).
// Bindings are validated one by one (INVALID_REQUEST with Kafka's message for a bad one, the
// others still created); filters too. Bindings persist in the metadata store (src/security/acl.ts).

import { ErrorCode } from "../../protocol/errors.js";
import type { CreateAclsRequest, CreateAclsResponse } from "../../protocol/generated/create-acls.js";
import type { DeleteAclsRequest, DeleteAclsResponse, DeleteAclsResponseDeleteAclsFilterResult } from "../../protocol/generated/delete-acls.js";
import type { DescribeAclsRequest, DescribeAclsResponse } from "../../protocol/generated/describe-acls.js";
import {
  type AclBinding,
  type AclFilter,
  AclOperation,
  aclKey,
  CLUSTER_NAME,
  filterMatches,
  invalidBinding,
  invalidFilter,
  ResourceType,
} from "../../security/acl.js";
import type { RequestContext } from "../../server/context.js";
import { defineHandler } from "../../server/registry.js";

const NO_AUTHORIZER = "No Authorizer is configured.";

function clusterAuthorized(context: RequestContext, operation: number): boolean {
  return context.authorized(operation, ResourceType.CLUSTER, CLUSTER_NAME);
}

export const describeAcls = defineHandler<DescribeAclsRequest, DescribeAclsResponse>(
  29,
  { min: 1, max: 3 },
  (context, request) => {
    const fail = (errorCode: number, errorMessage: string | null): DescribeAclsResponse => ({ throttleTimeMs: 0, errorCode, errorMessage, resources: [] });
    if (context.authorizer === null) return fail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAuthorized(context, AclOperation.DESCRIBE)) return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, null);
    const filter: AclFilter = {
      resourceType: request.resourceTypeFilter,
      resourceName: request.resourceNameFilter,
      patternType: request.patternTypeFilter,
      principal: request.principalFilter,
      host: request.hostFilter,
      operation: request.operation,
      permissionType: request.permissionType,
    };
    const invalid = invalidFilter(filter);
    if (invalid !== null) return fail(ErrorCode.INVALID_REQUEST, invalid);
    const resources = new Map<string, DescribeAclsResponse["resources"][number]>();
    for (const binding of context.acls.acls()) {
      if (!filterMatches(filter, binding)) continue;
      const key = JSON.stringify([binding.resourceType, binding.resourceName, binding.patternType]);
      let resource = resources.get(key);
      if (resource === undefined) {
        resource = { resourceType: binding.resourceType, resourceName: binding.resourceName, patternType: binding.patternType, acls: [] };
        resources.set(key, resource);
      }
      resource.acls.push({ principal: binding.principal, host: binding.host, operation: binding.operation, permissionType: binding.permissionType });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...resources.values()] };
  },
  (_context, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, resources: [] }),
);

export const createAcls = defineHandler<CreateAclsRequest, CreateAclsResponse>(
  30,
  { min: 1, max: 3 },
  async (context, request) => {
    const all = (errorCode: number, errorMessage: string | null): CreateAclsResponse => ({
      throttleTimeMs: 0,
      results: request.creations.map(() => ({ errorCode, errorMessage })),
    });
    if (context.authorizer === null) return all(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAuthorized(context, AclOperation.ALTER)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, null);
    const results: CreateAclsResponse["results"] = [];
    const valid: AclBinding[] = [];
    for (const creation of request.creations) {
      const binding: AclBinding = {
        resourceType: creation.resourceType,
        resourceName: creation.resourceName,
        patternType: creation.resourcePatternType,
        principal: creation.principal,
        host: creation.host,
        operation: creation.operation,
        permissionType: creation.permissionType,
      };
      const invalid = invalidBinding(binding);
      results.push(invalid === null ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid });
      if (invalid === null) valid.push(binding);
    }
    if (valid.length > 0) await context.acls.alterAcls(valid, []);
    return { throttleTimeMs: 0, results };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, results: request.creations.map(() => ({ errorCode, errorMessage: null })) }),
);

export const deleteAcls = defineHandler<DeleteAclsRequest, DeleteAclsResponse>(
  31,
  { min: 1, max: 3 },
  async (context, request) => {
    const all = (errorCode: number, errorMessage: string | null): DeleteAclsResponse => ({
      throttleTimeMs: 0,
      filterResults: request.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
    });
    if (context.authorizer === null) return all(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAuthorized(context, AclOperation.ALTER)) return all(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, null);
    const existing = context.acls.acls();
    const removed = new Map<string, AclBinding>();
    const filterResults: DeleteAclsResponseDeleteAclsFilterResult[] = request.filters.map((raw) => {
      const filter: AclFilter = {
        resourceType: raw.resourceTypeFilter,
        resourceName: raw.resourceNameFilter,
        patternType: raw.patternTypeFilter,
        principal: raw.principalFilter,
        host: raw.hostFilter,
        operation: raw.operation,
        permissionType: raw.permissionType,
      };
      const invalid = invalidFilter(filter);
      if (invalid !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, matchingAcls: [] };
      const matching = existing.filter((binding) => filterMatches(filter, binding));
      for (const binding of matching) removed.set(aclKey(binding), binding);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        matchingAcls: matching.map((binding) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: binding.resourceType,
          resourceName: binding.resourceName,
          patternType: binding.patternType,
          principal: binding.principal,
          host: binding.host,
          operation: binding.operation,
          permissionType: binding.permissionType,
        })),
      };
    });
    if (removed.size > 0) await context.acls.alterAcls([], [...removed.values()]);
    return { throttleTimeMs: 0, filterResults };
  },
  (_context, request, errorCode) => ({ throttleTimeMs: 0, filterResults: request.filters.map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })) }),
);
