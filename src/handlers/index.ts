// Every request handler the broker serves. ApiVersions advertises exactly these, with the
// versions each declares; an API not listed here is not advertised and its requests close
// the connection.
//
// Where a handler goes: one file per API, named for the API in kebab-case (produce.ts,
// list-offsets.ts), starting with a header that names the API, its versions and what is not
// done. APIs of the broker's data and admin plane sit here; APIs a coordinator answers go in
// the coordinator's folder: transaction/ (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
// EndTxn, TxnOffsetCommit, WriteTxnMarkers, DescribeTransactions, ListTransactions) and group/ (FindCoordinator, JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
// DeleteGroups, OffsetDelete, ConsumerGroupHeartbeat, ConsumerGroupDescribe).
// Handlers use the services of their RequestContext (src/server/context.ts), never the broker.

import { AclOperation } from "../security/acl.js";
import type { Handler } from "../server/registry.js";
import { alterPartitionReassignments } from "./alter-partition-reassignments.js";
import { apiVersions } from "./api-versions.js";
import { alterClientQuotas, describeClientQuotas } from "./client-quotas.js";
import { requiringCluster, requiringGroup, requiringTransactionalId } from "./common.js";
import { alterConfigs, describeConfigs, incrementalAlterConfigs } from "./configs.js";
import { createPartitions } from "./create-partitions.js";
import { createTopics } from "./create-topics.js";
import { deleteRecords } from "./delete-records.js";
import { deleteTopics } from "./delete-topics.js";
import { describeCluster } from "./describe-cluster.js";
import { describeLogDirs } from "./describe-log-dirs.js";
import { describeProducers } from "./describe-producers.js";
import { describeTopicPartitions } from "./describe-topic-partitions.js";
import { electLeaders } from "./elect-leaders.js";
import { fetch } from "./fetch.js";
import { consumerGroupDescribe } from "./group/consumer-group-describe.js";
import { consumerGroupHeartbeat } from "./group/consumer-group-heartbeat.js";
import { deleteGroups } from "./group/delete-groups.js";
import { describeGroups } from "./group/describe-groups.js";
import { findCoordinator } from "./group/find-coordinator.js";
import { heartbeat } from "./group/heartbeat.js";
import { joinGroup } from "./group/join-group.js";
import { leaveGroup } from "./group/leave-group.js";
import { listGroups } from "./group/list-groups.js";
import { offsetCommit } from "./group/offset-commit.js";
import { offsetDelete } from "./group/offset-delete.js";
import { offsetFetch } from "./group/offset-fetch.js";
import { shareGroupDescribe } from "./group/share-group-describe.js";
import { shareGroupHeartbeat } from "./group/share-group-heartbeat.js";
import { alterShareGroupOffsets, deleteShareGroupOffsets, describeShareGroupOffsets } from "./group/share-group-offsets.js";
import { streamsGroupDescribe } from "./group/streams-group-describe.js";
import { streamsGroupHeartbeat } from "./group/streams-group-heartbeat.js";
import { streamsGroupTopologyDescriptionUpdate } from "./group/streams-group-topology-description-update.js";
import { syncGroup } from "./group/sync-group.js";
import { listConfigResources } from "./list-config-resources.js";
import { listOffsets } from "./list-offsets.js";
import { listPartitionReassignments } from "./list-partition-reassignments.js";
import { metadata } from "./metadata.js";
import { offsetForLeaderEpoch } from "./offset-for-leader-epoch.js";
import { produce } from "./produce.js";
import { createAcls, deleteAcls, describeAcls } from "./security/acls.js";
import { saslAuthenticate, saslHandshake } from "./security/sasl.js";
import { alterUserScramCredentials, describeUserScramCredentials } from "./security/scram-credentials.js";
import { shareAcknowledge } from "./share/share-acknowledge.js";
import { shareFetch } from "./share/share-fetch.js";
import {
  deleteShareGroupState,
  initializeShareGroupState,
  readShareGroupState,
  readShareGroupStateSummary,
  writeShareGroupState,
} from "./share/share-group-state.js";
import { addOffsetsToTxn } from "./transaction/add-offsets-to-txn.js";
import { addPartitionsToTxn } from "./transaction/add-partitions-to-txn.js";
import { describeTransactions } from "./transaction/describe-transactions.js";
import { endTxn } from "./transaction/end-txn.js";
import { initProducerId } from "./transaction/init-producer-id.js";
import { listTransactions } from "./transaction/list-transactions.js";
import { txnOffsetCommit } from "./transaction/txn-offset-commit.js";
import { writeTxnMarkers } from "./transaction/write-txn-markers.js";

export const allHandlers: readonly Handler<never, unknown>[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  findCoordinator,
  requiringGroup(joinGroup, AclOperation.READ),
  requiringGroup(syncGroup, AclOperation.READ),
  requiringGroup(heartbeat, AclOperation.READ),
  requiringGroup(leaveGroup, AclOperation.READ),
  requiringGroup(offsetCommit, AclOperation.READ),
  offsetFetch,
  describeGroups,
  listGroups,
  deleteGroups,
  requiringGroup(offsetDelete, AclOperation.DELETE),
  consumerGroupHeartbeat,
  consumerGroupDescribe,
  shareGroupHeartbeat,
  shareGroupDescribe,
  streamsGroupHeartbeat,
  streamsGroupDescribe,
  streamsGroupTopologyDescriptionUpdate,
  describeShareGroupOffsets,
  alterShareGroupOffsets,
  deleteShareGroupOffsets,
  shareFetch,
  shareAcknowledge,
  requiringCluster(initializeShareGroupState, AclOperation.CLUSTER_ACTION),
  requiringCluster(readShareGroupState, AclOperation.CLUSTER_ACTION),
  requiringCluster(writeShareGroupState, AclOperation.CLUSTER_ACTION),
  requiringCluster(deleteShareGroupState, AclOperation.CLUSTER_ACTION),
  requiringCluster(readShareGroupStateSummary, AclOperation.CLUSTER_ACTION),
  initProducerId,
  addPartitionsToTxn,
  requiringTransactionalId(requiringGroup(addOffsetsToTxn, AclOperation.READ), AclOperation.WRITE),
  requiringTransactionalId(endTxn, AclOperation.WRITE),
  requiringCluster(writeTxnMarkers, AclOperation.CLUSTER_ACTION),
  requiringTransactionalId(requiringGroup(txnOffsetCommit, AclOperation.READ), AclOperation.WRITE),
  describeProducers,
  describeTransactions,
  listTransactions,
  offsetForLeaderEpoch,
  apiVersions,
  describeTopicPartitions,
  requiringCluster(electLeaders, AclOperation.ALTER),
  requiringCluster(alterPartitionReassignments, AclOperation.ALTER),
  requiringCluster(listPartitionReassignments, AclOperation.DESCRIBE),
  createTopics,
  deleteTopics,
  deleteRecords,
  createPartitions,
  describeLogDirs,
  describeCluster,
  describeConfigs,
  alterConfigs,
  requiringCluster(listConfigResources, AclOperation.DESCRIBE_CONFIGS),
  incrementalAlterConfigs,
  saslHandshake,
  saslAuthenticate,
  requiringCluster(describeUserScramCredentials, AclOperation.DESCRIBE),
  requiringCluster(alterUserScramCredentials, AclOperation.ALTER),
  describeAcls,
  createAcls,
  deleteAcls,
  requiringCluster(describeClientQuotas, AclOperation.DESCRIBE_CONFIGS),
  requiringCluster(alterClientQuotas, AclOperation.ALTER_CONFIGS),
] as unknown as Handler<never, unknown>[];
