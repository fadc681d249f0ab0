#!/usr/bin/env python3
"""Runs kafka-python and confluent-kafka operations for test/interop/python-clients.test.ts.

    python3 clients.py < request.json > results.json

The request is one JSON object {"bootstrap": "host:port", "ops": [op, ...]}; the answer is a JSON
list with one result per op, in order: {"result": ...} or {"error": "ExceptionClass: message"}.
Keys, values and header values are UTF-8 strings, null, or {"base64": "..."} for raw bytes (the
same form comes back for bytes that are not valid UTF-8).

kafka-python ops ("kp." prefix) and confluent-kafka ops ("ck." prefix):

  produce      {"topic", "config": {...}, "records": [{"key", "value", "headers": [[k, v]],
               "partition", "timestamp"}]} -> [{"partition", "offset", "timestamp"}] in input order
  consume      {"topic", "partitions": [n], "count": n, "config": {...}, "from": "beginning"|n}
               -> records in the order received: {"partition", "offset", "timestamp",
               "timestampType", "key", "value", "headers"}; assign() only, no group, no commits
  createTopics {"topics": [{"name", "partitions", "configs": {...}}]}
  deleteTopics {"topics": [names]}
  listTopics   {} -> sorted names
  describeConfigs {"topic": name, "keys": [..]} -> {key: {"value", "source"}}
  kp.createPartitions {"topic", "count"}
  kp.deleteRecords {"topic", "partition", "offset"} -> low watermark
  kp.listOffsets / ck.listOffsets {"topic", "partition", "spec": "earliest"|"latest"|
               "maxTimestamp"|"timestamp", "timestamp"} -> {"offset", "timestamp"}
  ck.incrementalAlterConfigs {"topic", "ops": [["SET"|"DELETE"|"APPEND"|"SUBTRACT", key, value]]}
  ck.describeCluster {} -> {"clusterId", "controller", "nodes": [{"id", "host", "port"}]}
  ck.describeTopics {"topics": [names]} -> {name: {"partitions": [{"id", "leader", "replicas", "isr"}]}}
"""

import base64
import json
import sys
import time


def to_bytes(data):
    if data is None:
        return None
    if isinstance(data, dict):
        return base64.b64decode(data["base64"])
    return data.encode("utf-8")


def from_bytes(data):
    if data is None:
        return None
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(bytes(data)).decode("ascii")}


def headers_out(headers):
    return [[name, from_bytes(value)] for name, value in (headers or [])]


# ---------------------------------------------------------------------------------------------
# kafka-python


def kp_produce(bootstrap, op):
    from kafka import KafkaProducer

    config = {"bootstrap_servers": bootstrap, **op.get("config", {})}
    producer = KafkaProducer(**config)
    try:
        futures = []
        for record in op["records"]:
            futures.append(
                producer.send(
                    op["topic"],
                    key=to_bytes(record.get("key")),
                    value=to_bytes(record.get("value")),
                    headers=[(name, to_bytes(value)) for name, value in record.get("headers", [])],
                    partition=record.get("partition"),
                    timestamp_ms=record.get("timestamp"),
                )
            )
        producer.flush(timeout=30)
        acks = []
        for future in futures:
            metadata = future.get(timeout=30)
            acks.append({"partition": metadata.partition, "offset": metadata.offset, "timestamp": metadata.timestamp})
        return acks
    finally:
        producer.close(timeout=10)


def kp_consume(bootstrap, op):
    from kafka import KafkaConsumer, TopicPartition

    config = {"bootstrap_servers": bootstrap, "enable_auto_commit": False, "group_id": None, **op.get("config", {})}
    consumer = KafkaConsumer(**config)
    try:
        assigned = [TopicPartition(op["topic"], p) for p in op["partitions"]]
        consumer.assign(assigned)
        start = op.get("from", "beginning")
        if start == "beginning":
            consumer.seek_to_beginning(*assigned)
        else:
            for tp in assigned:
                consumer.seek(tp, int(start))
        records = []
        deadline = time.time() + op.get("timeoutS", 30)
        while len(records) < op["count"] and time.time() < deadline:
            for tp, batch in consumer.poll(timeout_ms=500).items():
                for record in batch:
                    records.append(
                        {
                            "partition": record.partition,
                            "offset": record.offset,
                            "timestamp": record.timestamp,
                            "timestampType": record.timestamp_type,
                            "key": from_bytes(record.key),
                            "value": from_bytes(record.value),
                            "headers": headers_out(record.headers),
                        }
                    )
        return records
    finally:
        consumer.close()


def kp_admin(bootstrap):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap)


def kp_create_topics(bootstrap, op):
    from kafka.admin import NewTopic

    admin = kp_admin(bootstrap)
    try:
        topics = [
            NewTopic(t["name"], t.get("partitions", -1), t.get("replicationFactor", -1), topic_configs=t.get("configs", {}))
            for t in op["topics"]
        ]
        response = admin.create_topics(topics, raise_errors=False)
        return {t["name"]: t["error_code"] for t in response["topics"]}
    finally:
        admin.close()


def kp_delete_topics(bootstrap, op):
    admin = kp_admin(bootstrap)
    try:
        response = admin.delete_topics(op["topics"], raise_errors=False)
        return {t["name"]: t["error_code"] for t in response["topics"]}
    finally:
        admin.close()


def kp_list_topics(bootstrap, op):
    admin = kp_admin(bootstrap)
    try:
        return sorted(admin.list_topics())
    finally:
        admin.close()


def kp_describe_configs(bootstrap, op):
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = kp_admin(bootstrap)
    try:
        keys = op.get("keys")
        resource = ConfigResource(ConfigResourceType.TOPIC, op["topic"], configs=dict.fromkeys(keys) if keys else None)
        response = admin.describe_configs([resource], config_filter="all")
        configs = response["topic"][op["topic"]]
        return {key: {"value": entry["value"], "source": str(entry["config_source"])} for key, entry in configs.items()}
    finally:
        admin.close()


def kp_create_partitions(bootstrap, op):
    admin = kp_admin(bootstrap)
    try:
        response = admin.create_partitions({op["topic"]: op["count"]}, raise_errors=False)
        return {r.name: r.error_code for r in response.results}
    finally:
        admin.close()


def kp_delete_records(bootstrap, op):
    from kafka import TopicPartition

    admin = kp_admin(bootstrap)
    try:
        tp = TopicPartition(op["topic"], op["partition"])
        result = admin.delete_records({tp: op["offset"]})
        return result[tp]["low_watermark"]
    finally:
        admin.close()


def kp_list_offsets(bootstrap, op):
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec

    admin = kp_admin(bootstrap)
    try:
        tp = TopicPartition(op["topic"], op["partition"])
        spec = {
            "earliest": OffsetSpec.EARLIEST,
            "latest": OffsetSpec.LATEST,
            "maxTimestamp": OffsetSpec.MAX_TIMESTAMP,
        }.get(op["spec"])
        if op["spec"] == "timestamp":
            spec = op["timestamp"]
        result = admin.list_partition_offsets({tp: spec})[tp]
        return {"offset": result.offset, "timestamp": result.timestamp}
    finally:
        admin.close()


# ---------------------------------------------------------------------------------------------
# confluent-kafka


def ck_produce(bootstrap, op):
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, **op.get("config", {})})
    reports = [None] * len(op["records"])

    def delivered(index):
        def report(error, message):
            if error is not None:
                reports[index] = {"error": str(error)}
            else:
                timestamp_type, timestamp = message.timestamp()
                reports[index] = {
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "timestamp": timestamp,
                    "timestampType": timestamp_type,
                }

        return report

    for index, record in enumerate(op["records"]):
        kwargs = {
            "key": to_bytes(record.get("key")),
            "value": to_bytes(record.get("value")),
            "headers": [(name, to_bytes(value)) for name, value in record.get("headers", [])],
            "on_delivery": delivered(index),
        }
        if record.get("partition") is not None:
            kwargs["partition"] = record["partition"]
        if record.get("timestamp") is not None:
            kwargs["timestamp"] = record["timestamp"]
        while True:
            try:
                producer.produce(op["topic"], **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining:
        raise RuntimeError(f"{remaining} messages not delivered within 30 s")
    errors = [report for report in reports if report is None or "error" in report]
    if errors:
        raise RuntimeError(f"delivery failed: {errors[0]}")
    return reports


def ck_consume(bootstrap, op):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    # assign() needs no group, but the client insists on a group.id; nothing is committed.
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": "sluice-interop-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        **op.get("config", {}),
    }
    consumer = Consumer(config)
    try:
        start = op.get("from", "beginning")
        offset = OFFSET_BEGINNING if start == "beginning" else int(start)
        consumer.assign([TopicPartition(op["topic"], p, offset) for p in op["partitions"]])
        records = []
        deadline = time.time() + op.get("timeoutS", 30)
        while len(records) < op["count"] and time.time() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(str(message.error()))
            timestamp_type, timestamp = message.timestamp()
            records.append(
                {
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "timestamp": timestamp,
                    "timestampType": timestamp_type,
                    "key": from_bytes(message.key()),
                    "value": from_bytes(message.value()),
                    "headers": headers_out(message.headers()),
                }
            )
        return records
    finally:
        consumer.close()


ck_admins = {}


def ck_admin(bootstrap):
    # One client for the whole run: a client destroyed before its futures settle fails them.
    from confluent_kafka.admin import AdminClient

    if bootstrap not in ck_admins:
        ck_admins[bootstrap] = AdminClient({"bootstrap.servers": bootstrap})
    return ck_admins[bootstrap]


def ck_results(futures):
    out = {}
    for name, future in futures.items():
        try:
            future.result(timeout=30)
            out[str(name)] = None
        except Exception as error:  # noqa: BLE001 - reported to the test as text
            out[str(name)] = describe(error)
    return out


def ck_create_topics(bootstrap, op):
    from confluent_kafka.admin import NewTopic

    topics = [NewTopic(t["name"], t.get("partitions", -1), t.get("replicationFactor", -1), config=t.get("configs", {})) for t in op["topics"]]
    return ck_results(ck_admin(bootstrap).create_topics(topics, operation_timeout=30))


def ck_delete_topics(bootstrap, op):
    return ck_results(ck_admin(bootstrap).delete_topics(op["topics"], operation_timeout=30))


def ck_list_topics(bootstrap, op):
    return sorted(ck_admin(bootstrap).list_topics(timeout=30).topics.keys())


def ck_describe_cluster(bootstrap, op):
    cluster = ck_admin(bootstrap).describe_cluster().result(timeout=30)
    return {
        "clusterId": cluster.cluster_id,
        "controller": cluster.controller.id if cluster.controller else None,
        "nodes": sorted(({"id": n.id, "host": n.host, "port": n.port} for n in cluster.nodes), key=lambda n: n["id"]),
    }


def ck_describe_topics(bootstrap, op):
    from confluent_kafka import TopicCollection

    out = {}
    for name, future in ck_admin(bootstrap).describe_topics(TopicCollection(op["topics"])).items():
        try:
            description = future.result(timeout=30)
            out[name] = {
                "partitions": [
                    {
                        "id": p.id,
                        "leader": p.leader.id if p.leader else None,
                        "replicas": [n.id for n in p.replicas],
                        "isr": [n.id for n in p.isr],
                    }
                    for p in description.partitions
                ],
            }
        except Exception as error:  # noqa: BLE001
            out[name] = {"error": describe(error)}
    return out


def ck_describe_configs(bootstrap, op):
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, op["topic"])
    [future] = ck_admin(bootstrap).describe_configs([resource]).values()
    entries = future.result(timeout=30)
    keys = op.get("keys")
    return {
        key: {"value": entry.value, "source": ConfigSource(entry.source).name}
        for key, entry in sorted(entries.items())
        if not keys or key in keys
    }


def ck_incremental_alter_configs(bootstrap, op):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    entries = [
        ConfigEntry(key, value, incremental_operation=getattr(AlterConfigOpType, kind)) for kind, key, value in op["ops"]
    ]
    resource = ConfigResource(ResourceType.TOPIC, op["topic"], incremental_configs=entries)
    [future] = ck_admin(bootstrap).incremental_alter_configs([resource]).values()
    future.result(timeout=30)
    return None


def ck_list_offsets(bootstrap, op):
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    tp = TopicPartition(op["topic"], op["partition"])
    spec = {
        "earliest": OffsetSpec.earliest,
        "latest": OffsetSpec.latest,
        "maxTimestamp": OffsetSpec.max_timestamp,
        "timestamp": lambda: OffsetSpec.for_timestamp(op["timestamp"]),
    }[op["spec"]]()
    [future] = ck_admin(bootstrap).list_offsets({tp: spec}).values()
    info = future.result(timeout=30)
    return {"offset": info.offset, "timestamp": info.timestamp}


OPS = {
    "kp.produce": kp_produce,
    "kp.consume": kp_consume,
    "kp.createTopics": kp_create_topics,
    "kp.deleteTopics": kp_delete_topics,
    "kp.listTopics": kp_list_topics,
    "kp.describeConfigs": kp_describe_configs,
    "kp.createPartitions": kp_create_partitions,
    "kp.deleteRecords": kp_delete_records,
    "kp.listOffsets": kp_list_offsets,
    "ck.produce": ck_produce,
    "ck.consume": ck_consume,
    "ck.createTopics": ck_create_topics,
    "ck.deleteTopics": ck_delete_topics,
    "ck.listTopics": ck_list_topics,
    "ck.describeCluster": ck_describe_cluster,
    "ck.describeTopics": ck_describe_topics,
    "ck.describeConfigs": ck_describe_configs,
    "ck.incrementalAlterConfigs": ck_incremental_alter_configs,
    "ck.listOffsets": ck_list_offsets,
}


def describe(error):
    return f"{type(error).__name__}: {error}"


def main():
    request = json.load(sys.stdin)
    results = []
    for op in request["ops"]:
        try:
            results.append({"result": OPS[op["op"]](request["bootstrap"], op)})
        except Exception as error:  # noqa: BLE001 - reported to the test as text
            results.append({"error": describe(error)})
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
