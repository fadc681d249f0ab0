package sluice.vectors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

/** Kafka's error table, from {@link Errors#values()}. */
final class ErrorTable {
    static ArrayNode build() {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (Errors e : Errors.values()) {
            ObjectNode o = a.addObject();
            o.put("code", e.code());
            o.put("name", e.name());
            o.put("message", e.message());
            o.put("retriable", e.exception() instanceof RetriableException);
        }
        return a;
    }
}
