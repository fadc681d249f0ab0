package sluice.vectors;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Random values with a bias towards edge cases. Deterministic for a given seed. */
final class Rand {
    final SplittableRandom r;

    Rand(long seed) { this.r = new SplittableRandom(seed); }

    static long seedOf(String s) {
        // FNV-1a 64: stable across JVMs and Kafka versions
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        return h;
    }

    boolean chance(double p) { return r.nextDouble() < p; }
    int between(int lo, int hiInclusive) { return (int) (lo + r.nextLong((long) hiInclusive - lo + 1)); }
    boolean bool() { return r.nextBoolean(); }
    long nextLong() { return r.nextLong(); }

    byte int8() {
        switch (r.nextInt(6)) {
            case 0: return 0;
            case 1: return -1;
            case 2: return r.nextBoolean() ? Byte.MIN_VALUE : Byte.MAX_VALUE;
            default: return (byte) r.nextInt(256);
        }
    }

    short int16() {
        switch (r.nextInt(7)) {
            case 0: return 0;
            case 1: return -1;
            case 2: return r.nextBoolean() ? Short.MIN_VALUE : Short.MAX_VALUE;
            case 3: return (short) r.nextInt(128);
            default: return (short) r.nextInt(65536);
        }
    }

    int uint16() {
        switch (r.nextInt(5)) {
            case 0: return 0;
            case 1: return 65535;
            case 2: return r.nextInt(256);
            default: return r.nextInt(65536);
        }
    }

    int int32() {
        switch (r.nextInt(8)) {
            case 0: return 0;
            case 1: return -1;
            case 2: return r.nextBoolean() ? Integer.MIN_VALUE : Integer.MAX_VALUE;
            case 3: return r.nextInt(1000);
            case 4: return -r.nextInt(1000);
            default: return r.nextInt();
        }
    }

    long uint32() {
        switch (r.nextInt(5)) {
            case 0: return 0L;
            case 1: return 0xffffffffL;
            case 2: return r.nextInt(1000);
            default: return r.nextInt() & 0xffffffffL;
        }
    }

    long int64() {
        switch (r.nextInt(11)) {
            case 0: return 0L;
            case 1: return -1L;
            case 2: return r.nextBoolean() ? Long.MIN_VALUE : Long.MAX_VALUE;
            case 3: return (1L << 53) + r.nextInt(1 << 20) + 1;          // just beyond JS safe integers
            case 4: return -(1L << 53) - r.nextInt(1 << 20) - 1;
            case 5: return r.nextInt(100000);
            case 6: return -r.nextInt(100000) - 1;
            case 7: return 1_700_000_000_000L + r.nextInt(1_000_000_000);  // timestamp-like
            default: return r.nextLong();
        }
    }

    double float64() {
        switch (r.nextInt(9)) {
            case 0: return 0.0;
            case 1: return -0.0;
            case 2: return r.nextInt(1_000_000);
            case 3: return r.nextDouble();
            case 4: return (r.nextDouble() - 0.5) * 1e12;
            case 5: return r.nextBoolean() ? Double.MAX_VALUE : Double.MIN_VALUE;
            case 6: return r.nextBoolean() ? 1e300 * r.nextDouble() : -1e-300 * r.nextDouble();
            case 7: return 0.1 * r.nextInt(100);
            default: return Double.longBitsToDouble(r.nextLong() & 0x7fefffffffffffffL) * (r.nextBoolean() ? 1 : -1);
        }
    }

    byte[] bytes(int maxLen) {
        byte[] b = new byte[r.nextInt(maxLen + 1)];
        for (int i = 0; i < b.length; i++) b[i] = (byte) r.nextInt(256);
        return b;
    }

    /** Random length for a string / bytes value: mostly short, sometimes past the 1-byte varint range. */
    int length() {
        int c = r.nextInt(100);
        if (c < 10) return 0;
        if (c < 75) return between(1, 12);
        if (c < 94) return between(13, 60);
        return between(100, 300);
    }

    private static final String ASCII_SPECIAL = "\"\\/\n\t\r\b\f\u0000\u001f\u007f ";

    /** A random valid Unicode string (no unpaired surrogates), mixing 1-, 2-, 3- and 4-byte UTF-8. */
    String string() { return string(-1); }

    /** As {@link #string()}, at most {@code maxLen} code points when {@code maxLen >= 0}. */
    String string(int maxLen) {
        int n = maxLen >= 0 ? r.nextInt(maxLen + 1) : length();
        StringBuilder sb = new StringBuilder();
        int mode = r.nextInt(5); // 0: pure ascii identifier-like, else mixed
        for (int i = 0; i < n; i++) {
            int cp;
            int k = mode == 0 ? 0 : r.nextInt(10);
            switch (k) {
                case 0: case 1: case 2: case 3: cp = 'a' + r.nextInt(26); if (r.nextInt(5) == 0) cp = '0' + r.nextInt(10); break;
                case 4: cp = 0x20 + r.nextInt(0x5f); break;                                   // printable ASCII
                case 5: cp = ASCII_SPECIAL.charAt(r.nextInt(ASCII_SPECIAL.length())); break; // JSON escapes, NUL, DEL
                case 6: cp = 0x80 + r.nextInt(0x800 - 0x80); break;                         // 2-byte
                case 7: cp = r.nextBoolean() ? 0x4e00 + r.nextInt(0x5000) : 0xe000 + r.nextInt(0x1ffe); break; // 3-byte (CJK, PUA..U+FFFD)
                case 8: cp = 0x1f300 + r.nextInt(0x300); break;                            // emoji, 4-byte
                default: cp = 0x10000 + r.nextInt(0x10ffff - 0x10000 + 1); break;             // any supplementary
            }
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }
}
