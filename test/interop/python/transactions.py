#!/usr/bin/env python3
"""confluent-kafka (librdkafka) transactions for test/interop/transactions-clients.test.ts.

    python3 transactions.py produce < request.json
    python3 transactions.py consume < request.json

produce: {"bootstrap", "transactionalId", "topic", "config": {...}, "group": optional group id,
          "transactions": [{"partition", "values": [...], "end": "commit"|"abort",
                            "offsets": [[topic, partition, offset], ...] (optional)}]}
  init_transactions(), then per transaction begin_transaction(), produce() each value (key =
  value) to the partition, flush(), send_offsets_to_transaction() of the offsets for "group" (its
  consumer_group_metadata() from a consumer that never subscribes) if given, then
  commit_transaction() or abort_transaction(). Prints {"transactions": [{"offsets": [offset of each
  value]}]} or {"error": "KafkaException: ...", "transactions": [...so far]}.

consume: {"bootstrap", "topic", "partitions": [n, ...], "config": {...}}
  assign() from the beginning (no group commits) with enable.partition.eof, reads until every
  partition reported its end (for isolation.level=read_committed, librdkafka's default, the last
  stable offset). Prints {"records": [{"partition", "offset", "key", "value"}]} in the order read.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def produce(request):
    config = {"bootstrap.servers": request["bootstrap"], "transactional.id": request["transactionalId"]}
    config.update(request.get("config", {}))
    producer = Producer(config)
    results = []
    group_metadata = None
    if request.get("group"):
        reader = Consumer({"bootstrap.servers": request["bootstrap"], "group.id": request["group"], "enable.auto.commit": False})
        group_metadata = reader.consumer_group_metadata()
    try:
        producer.init_transactions(60)
        for transaction in request["transactions"]:
            producer.begin_transaction()
            offsets = [None] * len(transaction["values"])
            errors = []

            def delivered(index):
                def callback(error, message):
                    if error is not None:
                        errors.append(str(error))
                    else:
                        offsets[index] = message.offset()

                return callback

            for index, value in enumerate(transaction["values"]):
                producer.produce(request["topic"], key=value, value=value, partition=transaction["partition"], on_delivery=delivered(index))
            producer.flush(60)
            if errors:
                raise KafkaException(errors[0])
            if transaction.get("offsets"):
                positions = [TopicPartition(topic, partition, offset) for topic, partition, offset in transaction["offsets"]]
                producer.send_offsets_to_transaction(positions, group_metadata, 60)
            if transaction["end"] == "commit":
                producer.commit_transaction(60)
            else:
                producer.abort_transaction(60)
            results.append({"offsets": offsets})
    except KafkaException as error:
        return {"error": "KafkaException: " + str(error.args[0]), "transactions": results}
    return {"transactions": results}


def consume(request):
    config = {
        "bootstrap.servers": request["bootstrap"],
        "group.id": "transactions-py-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    config.update(request.get("config", {}))
    consumer = Consumer(config)
    consumer.assign([TopicPartition(request["topic"], p, -2) for p in request["partitions"]])
    remaining = set(request["partitions"])
    records = []
    deadline = time.time() + 60
    while remaining and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                remaining.discard(message.partition())
                continue
            raise KafkaException(message.error())
        records.append(
            {
                "partition": message.partition(),
                "offset": message.offset(),
                "key": message.key().decode("utf-8") if message.key() is not None else None,
                "value": message.value().decode("utf-8") if message.value() is not None else None,
            }
        )
    consumer.close()
    if remaining:
        return {"error": "partitions %s did not reach their end in 60 s" % sorted(remaining), "records": records}
    return {"records": records}


if __name__ == "__main__":
    request = json.load(sys.stdin)
    answer = produce(request) if sys.argv[1] == "produce" else consume(request)
    print(json.dumps(answer))
