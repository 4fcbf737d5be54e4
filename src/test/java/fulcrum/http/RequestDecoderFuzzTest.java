package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import fulcrum.http.Wire.Decoded;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mutates valid requests and checks the decoder never throws, never leaks, and always either
 * frames requests or rejects, the same way however the bytes are split. Bounded in time and
 * iterations; the seed is printed so a failure can be replayed with -Dfuzz.seed (and run longer with -Dfuzz.millis, -Dfuzz.iterations).
 */
class RequestDecoderFuzzTest {
    private static final int MAX_ITERATIONS = Integer.getInteger("fuzz.iterations", 20_000);
    private static final long MAX_NANOS = Long.getLong("fuzz.millis", 3_000) * 1_000_000L;
    private static final byte[] INTERESTING = Wire.ascii("\r\n\t :;,0\0\u000b-+xX/ ");

    private static final String[] SEEDS = {
        "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET http://example.com/x HTTP/1.1\r\n\r\nGET /y HTTP/1.0\r\n\r\n",
        "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
    };

    @Test
    void mutatedRequestsAreFramedOrRejectedNeverCrashOrLeak() {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        System.out.println("RequestDecoderFuzzTest seed " + seed);
        Random random = new Random(seed);
        long deadline = System.nanoTime() + MAX_NANOS;
        int iterations = 0;
        int rejected = 0;
        for (; iterations < MAX_ITERATIONS && System.nanoTime() < deadline; iterations++) {
            byte[] input = mutate(random);
            DesyncMode mode = DesyncMode.values()[random.nextInt(3)];
            RequestLimits limits = random.nextInt(4) == 0
                    ? new RequestLimits(40, 80, 3, 8, 12, mode)
                    : Wire.limits(mode);
            try {
                EmbeddedChannel whole = Wire.channel(limits);
                List<Decoded> expected = Wire.feedWholeAndFinish(whole, input);
                EmbeddedChannel split = Wire.channel(limits);
                List<Decoded> actual = Wire.feedRandomly(split, input, random);
                Wire.finish(split);
                assertEquals(Wire.signatures(expected), Wire.signatures(actual), "split-invariance");
                for (int i = 0; i < expected.size(); i++) {
                    Decoded d = expected.get(i);
                    if (d.rejected != null) {
                        rejected++;
                        assertEquals(expected.size() - 1, i, "a rejection is the last thing emitted");
                    } else if (d.head.closeAfter() && d.complete) {
                        assertEquals(expected.size() - 1, i, "nothing is read after a close-after request");
                    }
                }
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + ", iteration " + iterations + ", mode " + mode
                        + ", input " + Wire.hex(input), e);
            }
        }
        System.out.println("RequestDecoderFuzzTest " + iterations + " iterations, " + rejected + " rejected");
        assertTrue(iterations > 100, "fuzzed too little: " + iterations);
    }

    private static byte[] mutate(Random random) {
        StringBuilder base = new StringBuilder();
        int requests = 1 + random.nextInt(3);
        for (int i = 0; i < requests; i++) {
            base.append(SEEDS[random.nextInt(SEEDS.length)]);
        }
        byte[] bytes = Wire.ascii(base.toString());
        int mutations = random.nextInt(4);
        for (int m = 0; m < mutations; m++) {
            int at = random.nextInt(bytes.length);
            switch (random.nextInt(4)) {
                case 0 -> bytes[at] ^= (byte) (1 << random.nextInt(8));
                case 1 -> bytes = insert(bytes, at, INTERESTING[random.nextInt(INTERESTING.length)]);
                case 2 -> bytes = delete(bytes, at);
                default -> bytes[at] = (byte) random.nextInt(256);
            }
        }
        return bytes;
    }

    private static byte[] insert(byte[] a, int at, byte b) {
        byte[] r = new byte[a.length + 1];
        System.arraycopy(a, 0, r, 0, at);
        r[at] = b;
        System.arraycopy(a, at, r, at + 1, a.length - at);
        return r;
    }

    private static byte[] delete(byte[] a, int at) {
        if (a.length <= 1) {
            return a;
        }
        byte[] r = new byte[a.length - 1];
        System.arraycopy(a, 0, r, 0, at);
        System.arraycopy(a, at + 1, r, at, a.length - at - 1);
        return r;
    }
}
