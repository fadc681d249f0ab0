"""A member of a share group (KIP-932) with confluent-kafka's (librdkafka's) ShareConsumer, for
test/interop/python-share.test.ts. Reads one JSON object from stdin:

    {"bootstrap": "host:port", "group": "g", "topic": "t", "mode": "implicit"|"accept"|"release-first",
     "max": N, "idle_ms": 4000, "timeout_ms": 60000}

and prints one JSON line per record delivered -- {"event": "record", "partition", "offset",
"value", "delivery_count"} -- then {"event": "done", "records": N} once `max` records came or none
came for `idle_ms`; an error prints {"event": "error", "error": "..."} and exits 1.

implicit: records are accepted by the next poll; accept: each record accepted explicitly, then
commit_sync(); release-first: a record is released on its first delivery and accepted on a later one.
"""

import json
import sys
import time

from confluent_kafka import AcknowledgeType, ShareConsumer


def main() -> int:
    spec = json.loads(sys.stdin.read())
    mode = spec.get("mode", "implicit")
    explicit = mode != "implicit"
    consumer = ShareConsumer(
        {
            "bootstrap.servers": spec["bootstrap"],
            "group.id": spec["group"],
            "share.acknowledgement.mode": "explicit" if explicit else "implicit",
            **({"debug": spec["debug"]} if spec.get("debug") else {}),
        }
    )
    delivered = 0
    maximum = spec.get("max", 1 << 62)
    idle = spec.get("idle_ms", 4000) / 1000
    deadline = time.monotonic() + spec.get("timeout_ms", 60000) / 1000
    last = None
    try:
        consumer.subscribe([spec["topic"]])
        while delivered < maximum and time.monotonic() < deadline:
            messages = consumer.poll(0.5)
            if len(messages) == 0:
                if last is not None and time.monotonic() - last >= idle:
                    break
                continue
            last = time.monotonic()
            for message in messages:
                if message.error() is not None:
                    print(json.dumps({"event": "error", "error": str(message.error())}), flush=True)
                    continue
                count = message.delivery_count()
                print(
                    json.dumps(
                        {
                            "event": "record",
                            "partition": message.partition(),
                            "offset": message.offset(),
                            "value": message.value().decode("utf-8") if message.value() is not None else None,
                            "delivery_count": count,
                        }
                    ),
                    flush=True,
                )
                delivered += 1
                if mode == "accept":
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                elif mode == "release-first":
                    first = count is None or count <= 1
                    consumer.acknowledge(message, AcknowledgeType.RELEASE if first else AcknowledgeType.ACCEPT)
            if explicit:
                consumer.commit_sync()
    except Exception as error:  # noqa: BLE001 - reported to the test as it is
        print(json.dumps({"event": "error", "error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1
    finally:
        consumer.close()
    print(json.dumps({"event": "done", "records": delivered}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
