"""Round trips over secured listeners for test/interop/python-security.test.ts.

Reads one JSON operation on stdin:
  {"client": "confluent" | "kafka-python", "bootstrap": "...", "topic": "...", "count": N,
   "config": {client settings in the client's own names}}
produces `count` records to partition 0 of the topic, reads them back from the beginning with
assign() (no group), and prints {"produced": n, "values": [...]} or {"error": "..."} as JSON.
"""

import json
import sys
import time


def confluent_round_trip(op):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    errors = []

    def on_error(error):
        # Authentication failures are fatal for the round trip; transient ones are retried.
        if error.code() in (-169, 58) or error.fatal():  # _AUTHENTICATION, SASL_AUTHENTICATION_FAILED
            errors.append(error.str())

    config = dict(op["config"], **{"bootstrap.servers": op["bootstrap"], "error_cb": on_error})
    producer = Producer(dict(config, **{"acks": "all", "message.timeout.ms": 20000}))
    delivered = []

    def report(error, message):
        if error is not None:
            errors.append(error.str())
        else:
            delivered.append(message.offset())

    for i in range(op["count"]):
        producer.produce(op["topic"], value=f"{op['topic']}-{i}".encode(), partition=0, on_delivery=report)
    deadline = time.time() + 30
    while len(delivered) + len(errors) < op["count"] and not errors and time.time() < deadline:
        producer.poll(0.2)
    producer.flush(5)
    if errors:
        return {"error": errors[0]}
    consumer = Consumer(dict(config, **{"group.id": "py-secure", "enable.auto.commit": False}))
    consumer.assign([TopicPartition(op["topic"], 0, 0)])
    values = []
    deadline = time.time() + 30
    try:
        while len(values) < op["count"] and time.time() < deadline and not errors:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            values.append(message.value().decode())
    finally:
        consumer.close()
    if errors:
        return {"error": errors[0]}
    return {"produced": len(delivered), "values": values}


def kafka_python_round_trip(op):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    config = dict(op["config"], bootstrap_servers=op["bootstrap"])
    producer = KafkaProducer(acks="all", **config)
    futures = [producer.send(op["topic"], value=f"{op['topic']}-{i}".encode(), partition=0) for i in range(op["count"])]
    produced = sum(1 for future in futures if future.get(timeout=30) is not None)
    producer.close()
    consumer = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=10000, **config)
    consumer.assign([TopicPartition(op["topic"], 0)])
    consumer.seek_to_beginning()
    values = []
    for message in consumer:
        values.append(message.value.decode())
        if len(values) == op["count"]:
            break
    consumer.close()
    return {"produced": produced, "values": values}


def main():
    op = json.load(sys.stdin)
    try:
        result = confluent_round_trip(op) if op["client"] == "confluent" else kafka_python_round_trip(op)
    except Exception as error:  # reported to the test, which decides what is expected
        result = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
