package sluice.vectors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.message.LeaderChangeMessage;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.internals.ByteBufferOutputStream;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Uncompressed v2 record batches built with Kafka 4.4.0's MemoryRecordsBuilder, and what Kafka's own
 * reader (MemoryRecords.batches(), Record) reads back from their bytes.
 */
final class RecordBatchVectors {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    static List<ObjectNode> build(int count) {
        Rand rnd = new Rand(Rand.seedOf("record-batches@" + Main.CURRENT_KAFKA));
        List<ObjectNode> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int kind = i % 10;
            if (kind == 3) {
                bytes.writeBytes(endTxnMarker(rnd));
            } else if (i == 9 || i == 39) {
                bytes.writeBytes(leaderChange(rnd));
            } else if (kind == 7) {
                int n = rnd.between(2, 3);
                long next = rnd.chance(0.5) ? 0 : rnd.int64() & 0x0fffffffffffffffL;
                for (int b = 0; b < n; b++) {
                    byte[] batch = (b == n - 1 && rnd.chance(0.5)) ? endTxnMarker(rnd, next) : dataBatch(rnd, next, false);
                    bytes.writeBytes(batch);
                    next = lastOffset(batch) + 1 + (rnd.chance(0.3) ? rnd.between(1, 1000) : 0);
                }
            } else {
                bytes.writeBytes(dataBatch(rnd, rnd.chance(0.3) ? 0 : -1, kind == 5));
            }
            out.add(describe(bytes.toByteArray()));
        }
        return out;
    }

    private static long baseOffset(Rand rnd) {
        switch (rnd.between(0, 4)) {
            case 0: return 0;
            case 1: return rnd.between(1, 100_000);
            case 2: return (1L << 53) + rnd.between(0, 1 << 20);
            case 3: return Long.MAX_VALUE / 2 + rnd.between(0, 1 << 20);
            default: return rnd.nextLong() & 0x3fffffffffffffffL;
        }
    }

    private static long timestamp(Rand rnd) {
        return 1_600_000_000_000L + (rnd.nextLong() & 0xffffffffffL);
    }

    /** A data batch; base offset chosen at random when {@code base < 0}. */
    private static byte[] dataBatch(Rand rnd, long base, boolean deleteHorizon) {
        long baseOffset = base >= 0 ? base : baseOffset(rnd);
        TimestampType tt = rnd.chance(0.3) ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME;
        long now = timestamp(rnd);
        long logAppendTime = tt == TimestampType.LOG_APPEND_TIME ? now + rnd.between(0, 100_000) : RecordBatch.NO_TIMESTAMP;
        long producerId = RecordBatch.NO_PRODUCER_ID;
        short producerEpoch = RecordBatch.NO_PRODUCER_EPOCH;
        int baseSequence = RecordBatch.NO_SEQUENCE;
        boolean transactional = false;
        int p = rnd.between(0, 2);
        if (p > 0) { // idempotent (1) or transactional (2)
            producerId = rnd.chance(0.3) ? (1L << 53) + rnd.between(0, 1000) : rnd.between(0, 1_000_000);
            producerEpoch = (short) rnd.between(0, Short.MAX_VALUE);
            baseSequence = rnd.chance(0.2) ? Integer.MAX_VALUE - rnd.between(0, 3) : rnd.between(0, 1_000_000);
            transactional = p == 2;
        }
        int leaderEpoch = rnd.chance(0.2) ? RecordBatch.NO_PARTITION_LEADER_EPOCH : rnd.between(0, Integer.MAX_VALUE);
        long horizon = deleteHorizon ? now + rnd.between(1, 86_400_000) : RecordBatch.NO_TIMESTAMP;

        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        MemoryRecordsBuilder b = new MemoryRecordsBuilder(new ByteBufferOutputStream(buf), RecordBatch.MAGIC_VALUE_V2,
            Compression.NONE, tt, baseOffset, logAppendTime, producerId, producerEpoch, baseSequence, transactional,
            false, leaderEpoch, buf.capacity(), horizon);
        int n = rnd.chance(0.1) ? rnd.between(40, 120) : rnd.between(1, 8);
        long offset = baseOffset;
        for (int r = 0; r < n; r++) {
            long ts = rnd.chance(0.03) ? RecordBatch.NO_TIMESTAMP
                : now + (rnd.chance(0.2) ? rnd.between(-1_000_000_000, 1_000_000_000) : rnd.between(-100, 10_000));
            b.appendWithOffset(offset, ts, key(rnd), value(rnd), headers(rnd));
            offset += rnd.chance(0.2) ? rnd.between(2, 300) : 1; // gaps, as after compaction
        }
        return toArray(b.build().buffer());
    }

    private static byte[] endTxnMarker(Rand rnd) {
        return endTxnMarker(rnd, baseOffset(rnd));
    }

    private static byte[] endTxnMarker(Rand rnd, long offset) {
        ControlRecordType type = rnd.bool() ? ControlRecordType.COMMIT : ControlRecordType.ABORT;
        MemoryRecords m = MemoryRecords.withEndTransactionMarker(offset, timestamp(rnd), rnd.between(0, 1000),
            rnd.between(0, 1_000_000), (short) rnd.between(0, 100), new EndTransactionMarker(type, rnd.between(0, 1000)));
        return toArray(m.buffer());
    }

    private static byte[] leaderChange(Rand rnd) {
        LeaderChangeMessage msg = new LeaderChangeMessage().setLeaderId(rnd.between(0, 10));
        for (int k = 0; k < 3; k++) {
            msg.voters().add(new LeaderChangeMessage.Voter().setVoterId(k));
            msg.grantingVoters().add(new LeaderChangeMessage.Voter().setVoterId(k));
        }
        MemoryRecords m = MemoryRecords.withLeaderChangeMessage(baseOffset(rnd), timestamp(rnd), rnd.between(0, 1000),
            ByteBuffer.allocate(256), msg);
        return toArray(m.buffer());
    }

    private static byte[] key(Rand rnd) {
        int c = rnd.between(0, 9);
        if (c < 2) return null;
        if (c == 2) return new byte[0];
        if (c < 6) return rnd.string().getBytes(StandardCharsets.UTF_8);
        return rnd.bytes(rnd.chance(0.1) ? 300 : 40);
    }

    private static byte[] value(Rand rnd) {
        int c = rnd.between(0, 19);
        if (c < 3) return null;
        if (c < 5) return new byte[0];
        if (c < 9) return rnd.string().getBytes(StandardCharsets.UTF_8);
        return rnd.bytes(rnd.chance(0.1) ? 1000 : 100);
    }

    private static Header[] headers(Rand rnd) {
        Header[] h = new Header[rnd.between(0, 3)];
        for (int k = 0; k < h.length; k++) {
            String key = rnd.chance(0.5) ? "h" + k : rnd.string();
            byte[] value = rnd.chance(0.25) ? null : rnd.chance(0.5) ? rnd.string().getBytes(StandardCharsets.UTF_8) : rnd.bytes(30);
            h[k] = new RecordHeader(key, value);
        }
        return h;
    }

    private static long lastOffset(byte[] batch) {
        MutableRecordBatch b = MemoryRecords.readableRecords(ByteBuffer.wrap(batch)).batches().iterator().next();
        return b.lastOffset();
    }

    private static byte[] toArray(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    /** The line for a byte string of one or more batches, read through Kafka's record API. */
    private static ObjectNode describe(byte[] bytes) {
        ObjectNode line = F.objectNode();
        line.put("hex", MessageVectors.hex(bytes));
        ArrayNode batches = line.putArray("batches");
        Base64.Encoder b64 = Base64.getEncoder();
        int pos = 0;
        for (MutableRecordBatch batch : MemoryRecords.readableRecords(ByteBuffer.wrap(bytes)).batches()) {
            batch.ensureValid();
            DefaultRecordBatch d = (DefaultRecordBatch) batch;
            ObjectNode o = batches.addObject();
            o.put("baseOffset", Long.toString(d.baseOffset()));
            o.put("batchLength", d.sizeInBytes() - 12); // the length field counts the bytes after itself
            o.put("partitionLeaderEpoch", d.partitionLeaderEpoch());
            o.put("magic", d.magic());
            o.put("crc", d.checksum());
            o.put("attributes", ByteBuffer.wrap(bytes).getShort(pos + 21));
            o.put("compression", d.compressionType().name);
            o.put("timestampType", d.timestampType() == TimestampType.LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime");
            o.put("isTransactional", d.isTransactional());
            o.put("isControl", d.isControlBatch());
            o.put("hasDeleteHorizon", d.deleteHorizonMs().isPresent());
            o.put("lastOffsetDelta", (int) (d.lastOffset() - d.baseOffset()));
            o.put("baseTimestamp", Long.toString(d.baseTimestamp()));
            o.put("maxTimestamp", Long.toString(d.maxTimestamp()));
            o.put("producerId", Long.toString(d.producerId()));
            o.put("producerEpoch", d.producerEpoch());
            o.put("baseSequence", d.baseSequence());
            o.put("recordCount", d.countOrNull());
            ArrayNode recs = o.putArray("records");
            for (Record r : d) {
                ObjectNode ro = recs.addObject();
                ro.put("offset", Long.toString(r.offset()));
                ro.put("timestamp", Long.toString(r.timestamp()));
                ro.put("key", r.hasKey() ? b64.encodeToString(toArray(r.key())) : null);
                ro.put("value", r.hasValue() ? b64.encodeToString(toArray(r.value())) : null);
                ArrayNode hs = ro.putArray("headers");
                for (Header h : r.headers()) {
                    ObjectNode ho = hs.addObject();
                    ho.put("key", h.key());
                    ho.put("value", h.value() == null ? null : b64.encodeToString(h.value()));
                }
            }
            pos += d.sizeInBytes();
        }
        if (pos != bytes.length) throw new IllegalStateException("batches cover " + pos + " of " + bytes.length + " bytes");
        return line;
    }
}
