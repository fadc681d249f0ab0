#!/usr/bin/env python3
"""Consumer-group members and group descriptions for test/interop/groups-python.test.ts.

    python3 groups.py member '{"client": "confluent"|"kafka-python", "bootstrap": "host:port",
                              "group": "g", "topics": ["t"], "config": {...}, "commit": "sync"|"none"}'
    python3 groups.py describe '{"bootstrap": "host:port", "groups": ["g"]}'

member: one consumer in a group (subscribe()), printing one JSON line per event on stdout, flushed:
  {"event": "assign", "partitions": [[topic, p], ...], "memberId": id}   partitions given (on_assign;
                                                  with an incremental protocol only the new ones)
  {"event": "revoke", "partitions": [...], "memberId": id}               partitions taken (on_revoke)
  {"event": "lost", "partitions": [...]}                                 (on_lost)
  {"event": "record", "topic", "partition", "offset", "key", "value"}    each record polled
  {"event": "committed", "offsets": [[topic, p, offset], ...]}           after a synchronous commit
  {"event": "error", "error": text}                                      a consumer error
  {"event": "closed"}                                                    after close(), then exit 0
With "commit": "sync" (the default) every batch of polled records is committed synchronously
(commit() of the current positions) before the next poll, so a rebalance never sees records that
were received but not committed. The member reads commands from stdin, one JSON object a line:
  {"cmd": "stop"}   close() the consumer (leave the group, unless static) and exit
End of stdin is the same as stop. Kafka's configuration names (librdkafka's) go in "config" for
confluent-kafka; kafka-python's keyword arguments (session_timeout_ms, ...) for kafka-python.
"debug": true logs kafka-python's DEBUG log, or librdkafka's "cgrp" debug log, on stderr.

describe: confluent-kafka's AdminClient.describe_consumer_groups, printed as one JSON object:
  {group: {"state", "type", "assignor", "simple", "members": [{"memberId", "clientId",
  "groupInstanceId", "assignment": [[topic, p], ...]}]}}
"""

import json
import queue
import sys
import threading


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def text(data):
    if data is None:
        return None
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return data.hex()


def start_stdin_reader():
    commands = queue.Queue()

    def read():
        for line in sys.stdin:
            line = line.strip()
            if line:
                commands.put(json.loads(line))
        commands.put({"cmd": "stop"})

    threading.Thread(target=read, daemon=True).start()
    return commands


def should_stop(commands):
    try:
        command = commands.get_nowait()
    except queue.Empty:
        return False
    if command.get("cmd") == "stop":
        return True
    emit({"event": "error", "error": "unknown command " + json.dumps(command)})
    return False


def sorted_partitions(partitions):
    return sorted([[tp.topic, tp.partition] for tp in partitions])


# ---------------------------------------------------------------------------------------------
# confluent-kafka (librdkafka)


def confluent_member(spec):
    from confluent_kafka import Consumer, KafkaError

    config = {
        "bootstrap.servers": spec["bootstrap"],
        "group.id": spec["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": lambda error: emit({"event": "error", "error": str(error)}),
        **spec.get("config", {}),
    }
    if spec.get("debug"):
        config.setdefault("debug", "cgrp")  # librdkafka's consumer-group log, on stderr
    consumer = Consumer(config)

    def member_id():
        try:
            return consumer.memberid()
        except Exception:  # noqa: BLE001 - not in a group yet
            return None

    def on_assign(_consumer, partitions):
        emit({"event": "assign", "partitions": sorted_partitions(partitions), "memberId": member_id()})

    def on_revoke(_consumer, partitions):
        emit({"event": "revoke", "partitions": sorted_partitions(partitions), "memberId": member_id()})

    def on_lost(_consumer, partitions):
        emit({"event": "lost", "partitions": sorted_partitions(partitions)})

    consumer.subscribe(spec["topics"], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    commands = start_stdin_reader()
    commit = spec.get("commit", "sync") == "sync"
    while not should_stop(commands):
        messages = consumer.consume(num_messages=100, timeout=0.1)
        received = False
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    emit({"event": "error", "error": str(error)})
                continue
            received = True
            emit(
                {
                    "event": "record",
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "key": text(message.key()),
                    "value": text(message.value()),
                }
            )
        if commit and received:
            try:
                offsets = consumer.commit(asynchronous=False)
                emit({"event": "committed", "offsets": sorted([[tp.topic, tp.partition, tp.offset] for tp in offsets or []])})
            except Exception as error:  # noqa: BLE001 - reported, the test decides
                emit({"event": "error", "error": "commit: " + str(error)})
    consumer.close()
    emit({"event": "closed"})


# ---------------------------------------------------------------------------------------------
# kafka-python


def kafka_python_member(spec):
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    config = {
        "bootstrap_servers": spec["bootstrap"],
        "group_id": spec["group"],
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        **spec.get("config", {}),
    }
    consumer = KafkaConsumer(**config)

    def member_id():
        coordinator = getattr(consumer, "_coordinator", None)
        generation = getattr(coordinator, "_generation", None)
        return getattr(generation, "member_id", None)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned):
            emit({"event": "assign", "partitions": sorted_partitions(assigned), "memberId": member_id()})

        def on_partitions_revoked(self, revoked):
            emit({"event": "revoke", "partitions": sorted_partitions(revoked), "memberId": member_id()})

    # kafka-python 3.0.12 can lose a rejoin: when it first joins before it has the topics' metadata
    # (assigning nothing), it rejoins once the metadata arrives; if a poll() times out while that
    # JoinGroup/SyncGroup is in flight, the completed join is never picked up (need_rejoin() is
    # False again, so _on_join_complete never runs and heartbeats stay disabled until the session
    # times out). Loading the metadata first avoids the rejoin; a longer poll narrows the window.
    for topic in spec["topics"]:
        consumer.partitions_for_topic(topic)
    consumer.subscribe(topics=spec["topics"], listener=Listener())
    commands = start_stdin_reader()
    commit = spec.get("commit", "sync") == "sync"
    while not should_stop(commands):
        batches = consumer.poll(timeout_ms=500)
        received = False
        for tp, records in sorted(batches.items(), key=lambda item: (item[0].topic, item[0].partition)):
            for record in records:
                received = True
                emit(
                    {
                        "event": "record",
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "offset": record.offset,
                        "key": text(record.key),
                        "value": text(record.value),
                    }
                )
        if commit and received:
            try:
                consumer.commit()
                offsets = [[tp.topic, tp.partition, consumer.committed(tp)] for tp in consumer.assignment()]
                emit({"event": "committed", "offsets": sorted(offsets)})
            except Exception as error:  # noqa: BLE001 - reported, the test decides
                emit({"event": "error", "error": "commit: " + type(error).__name__ + ": " + str(error)})
    consumer.close()
    emit({"event": "closed"})


# ---------------------------------------------------------------------------------------------
# describe


def enum_name(value):
    return getattr(value, "name", None) if value is not None else None


def describe(spec):
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": spec["bootstrap"]})
    out = {}
    for group, future in admin.describe_consumer_groups(spec["groups"], request_timeout=20).items():
        try:
            description = future.result()
        except Exception as error:  # noqa: BLE001 - reported per group
            out[group] = {"error": str(error)}
            continue
        out[group] = {
            "state": enum_name(description.state),
            "type": enum_name(getattr(description, "type", None)),
            "assignor": description.partition_assignor,
            "simple": description.is_simple_consumer_group,
            "members": sorted(
                (
                    {
                        "memberId": member.member_id,
                        "clientId": member.client_id,
                        "groupInstanceId": member.group_instance_id,
                        "assignment": sorted_partitions(member.assignment.topic_partitions if member.assignment else []),
                    }
                    for member in description.members
                ),
                key=lambda member: member["memberId"],
            ),
        }
    emit(out)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("member", "describe"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    spec = json.loads(sys.argv[2])
    if spec.get("debug"):
        # kafka-python's own log (requests, responses, coordinator state) on stderr.
        import logging

        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(asctime)s %(threadName)s %(name)s %(message)s")
        # It logs need_rejoin on every poll.
        logging.getLogger("kafka.coordinator.consumer").setLevel(logging.INFO)
    if sys.argv[1] == "describe":
        describe(spec)
    elif spec.get("client", "confluent") == "confluent":
        confluent_member(spec)
    elif spec["client"] == "kafka-python":
        kafka_python_member(spec)
    else:
        sys.stderr.write("unknown client " + spec["client"] + "\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
