package fulcrum.http;

import static fulcrum.http.Wire.FOLLOW_UP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import fulcrum.http.Wire.Decoded;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The desync corpus: src/test/resources/desync/cases.tsv names each case, its expected outcome
 * and class; NAME.http holds its raw bytes. Every case is decoded with a follow-up request
 * appended, once in one buffer and once a byte at a time, and both must agree.
 */
public class DesyncCorpusTest {

    /** One corpus case: its file, the expected outcome ("ok" or a status), class, mode, URI and body. */
    public record Case(String name, String outcome, DesyncClass desyncClass, DesyncMode mode, String uri,
                String body, byte[] bytes) {
        public boolean ok() {
            return outcome.equals("ok");
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** Every case of src/test/resources/desync/cases.tsv. */
    public static List<Case> cases() throws IOException {
        List<Case> cases = new ArrayList<>();
        // The table is UTF-8 (expected URIs may hold any character); the .http files are bytes.
        String table = new String(resource("cases.tsv").getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
        for (String line : table.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            DesyncMode mode = f[3].equals("-") ? DesyncMode.DEFENSIVE : DesyncMode.valueOf(f[3]);
            String body = f[5].equals("\"\"") ? "" : f[5];
            cases.add(new Case(f[0], f[1], DesyncClass.valueOf(f[2]), mode, f[4], body,
                    Wire.unescape(resource(f[0] + ".http"))));
        }
        return cases;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = DesyncCorpusTest.class.getResourceAsStream("/desync/" + name)) {
            assertNotNull(in, "missing corpus file " + name);
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void corpusIsLargeAndCoversBothOutcomes() throws IOException {
        List<Case> cases = cases();
        assertTrue(cases.size() >= 40, "at least 40 cases, got " + cases.size());
        assertTrue(cases.stream().filter(Case::ok).count() >= 20);
        assertTrue(cases.stream().filter(c -> !c.ok()).count() >= 20);
    }

    @TestFactory
    Stream<DynamicTest> wholeBuffer() throws IOException {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name() + " (whole)", () -> {
            EmbeddedChannel ch = Wire.channel(c.mode());
            List<Decoded> decoded = Wire.feedWholeAndFinish(ch, withFollowUp(c));
            check(c, decoded);
        }));
    }

    @TestFactory
    Stream<DynamicTest> byteByByte() throws IOException {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name() + " (byte by byte)", () -> {
            byte[] bytes = withFollowUp(c);
            EmbeddedChannel whole = Wire.channel(c.mode());
            List<Decoded> expected = Wire.feedWholeAndFinish(whole, bytes);

            EmbeddedChannel ch = Wire.channel(c.mode());
            List<Decoded> decoded = Wire.feed(ch, bytes, 1);
            Wire.finish(ch);
            check(c, decoded);
            assertEquals(Wire.signatures(expected), Wire.signatures(decoded),
                    "a byte at a time must decode as one buffer does");
        }));
    }

    // ---- http_desync_guardian's own corpus ----

    /**
     * A case of src/test/resources/desync/guardian.tsv: a request of http_desync_guardian's test
     * corpus, the tier guardian (and so ALB) gives it, and what Fulcrum makes of it.
     *
     * @param framed "ok" when some mode forwards it, else the status every mode answers
     */
    record GuardianCase(String file, String name, DesyncClass guardian, DesyncClass fulcrum, String framed,
                        byte[] bytes) {
        @Override
        public String toString() {
            return file + ": " + name;
        }
    }

    static List<GuardianCase> guardianCases() throws IOException {
        List<GuardianCase> cases = new ArrayList<>();
        for (String line : resource("guardian.tsv").split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            byte[] head = Wire.unescape(f[6]);
            String bodySpec = f[5];
            byte[] body = bodySpec.equals("-") ? new byte[0]
                    : bodySpec.startsWith("x*") ? "x".repeat(Integer.parseInt(bodySpec.substring(2))).getBytes(StandardCharsets.US_ASCII)
                    : Wire.unescape(bodySpec);
            cases.add(new GuardianCase(f[0], f[1], DesyncClass.valueOf(f[2]), DesyncClass.valueOf(f[3]), f[4],
                    Wire.concat(head, body)));
        }
        return cases;
    }

    /** What one mode did with one case: forwarded, forwarded then closed, or rejected. */
    private enum Outcome { FORWARDED, CLOSED_AFTER, REJECTED }

    private static Outcome decodeGuardian(GuardianCase c, DesyncMode mode) {
        byte[] bytes = withFollowUp(c.bytes());
        List<Decoded> whole = Wire.feedWholeAndFinish(Wire.channel(mode), bytes);
        EmbeddedChannel ch = Wire.channel(mode);
        List<Decoded> pieces = Wire.feed(ch, bytes, bytes.length < 65536 ? 1 : 4096);
        Wire.finish(ch);
        assertEquals(Wire.signatures(whole), Wire.signatures(pieces), "a byte at a time must decode as one buffer does");

        Decoded first = whole.get(0);
        boolean forwarded = !c.framed().equals("ok") ? false : !mode.rejects(c.fulcrum());
        if (!forwarded) {
            Decoded last = whole.get(whole.size() - 1);
            assertNotNull(last.rejected, () -> "expected rejection, got " + Wire.signatures(whole));
            assertTrue(whole.size() <= 2, () -> Wire.signatures(whole).toString());
            int status = c.framed().equals("ok") ? 400 : Integer.parseInt(c.framed());
            assertEquals(status, last.rejected.status().code(), last.rejected::reason);
            // The class that made this mode say no is one this mode rejects (or none can frame it).
            assertTrue(mode.rejects(last.rejected.desyncClass()) || !c.framed().equals("ok"), last.rejected::reason);
            return Outcome.REJECTED;
        }
        DecodedRequest head = Wire.request(first);
        assertEquals(c.fulcrum(), head.desyncClass(), head.desyncReason());
        assertTrue(first.complete, "request complete");
        if (head.closeAfter()) {
            assertEquals(1, whole.size(), () -> Wire.signatures(whole).toString());
            return Outcome.CLOSED_AFTER;
        }
        assertFalse(mode.closesAfter(head.desyncClass()), head.desyncReason());
        assertEquals(2, whole.size(), () -> Wire.signatures(whole).toString());
        assertEquals("/follow-up", Wire.request(whole.get(1)).uri());
        return Outcome.FORWARDED;
    }

    @TestFactory
    Stream<DynamicTest> guardianCorpus() throws IOException {
        return guardianCases().stream().flatMap(c -> Stream.of(DesyncMode.values()).map(mode ->
                DynamicTest.dynamicTest(c + " (" + mode + ")", () -> {
                    Outcome o = decodeGuardian(c, mode);
                    if (mode == DesyncMode.DEFENSIVE) {
                        // ALB's defensive mode: compliant and acceptable pass, ambiguous passes
                        // and closes, severe is blocked. Fulcrum is never more lenient than that,
                        // and never stricter on what guardian calls compliant or acceptable.
                        switch (c.guardian()) {
                            case COMPLIANT, ACCEPTABLE -> assertEquals(Outcome.FORWARDED, o);
                            case AMBIGUOUS -> assertTrue(o != Outcome.FORWARDED, o::name);
                            case SEVERE -> assertEquals(Outcome.REJECTED, o);
                        }
                    }
                })));
    }

    /** The tallies for the record (README and the commit say them); guardianCorpus asserts the rules. */
    @Test
    void guardianCorpusTally() throws IOException {
        List<GuardianCase> cases = guardianCases();
        assertTrue(cases.size() >= 150, "guardian corpus cases: " + cases.size());
        Map<String, Integer> tally = new TreeMap<>();
        Map<DesyncClass, Integer> perTier = new EnumMap<>(DesyncClass.class);
        for (GuardianCase c : cases) {
            perTier.merge(c.guardian(), 1, Integer::sum);
            for (DesyncMode mode : DesyncMode.values()) {
                tally.merge(mode + " " + c.guardian().ordinal() + c.guardian() + " " + decodeGuardian(c, mode), 1, Integer::sum);
            }
        }
        System.out.println("guardian corpus " + perTier);
        tally.forEach((k, v) -> System.out.println("  " + k + ": " + v));
        assertEquals(28, perTier.get(DesyncClass.COMPLIANT));
        assertEquals(15, perTier.get(DesyncClass.ACCEPTABLE));
    }

    private static byte[] withFollowUp(byte[] bytes) {
        return Wire.concat(bytes, Wire.ascii(FOLLOW_UP));
    }

    private static byte[] withFollowUp(Case c) {
        return Wire.concat(c.bytes(), Wire.ascii(FOLLOW_UP));
    }

    private static void check(Case c, List<Decoded> decoded) {
        assertFalse(decoded.isEmpty(), "nothing decoded");
        if (!c.ok()) {
            Decoded last = decoded.get(decoded.size() - 1);
            assertNotNull(last.rejected, () -> "expected rejection, got " + Wire.signatures(decoded));
            assertEquals(Integer.parseInt(c.outcome()), last.rejected.status().code(), last.rejected::reason);
            assertEquals(c.desyncClass(), last.rejected.desyncClass(), last.rejected::reason);
            // A rejection may come after the head (a bad chunk is only seen mid-body), never after
            // anything that follows the case's bytes.
            assertTrue(decoded.size() <= 2, () -> Wire.signatures(decoded).toString());
            for (Decoded d : decoded) {
                assertFalse(d.head != null && d.head.uri().equals("/follow-up"), "follow-up decoded");
            }
            return;
        }
        Decoded first = decoded.get(0);
        var head = Wire.request(first);
        assertEquals(c.desyncClass(), head.desyncClass(), head.desyncReason());
        assertTrue(first.complete, "request complete");
        if (!c.uri().equals("-")) {
            assertEquals(c.uri(), head.uri());
        }
        if (!c.body().equals("-")) {
            assertEquals(c.body(), first.bodyText());
        }
        if (head.closeAfter()) {
            // Nothing after a request the connection closes after is read.
            assertEquals(1, decoded.size(), () -> Wire.signatures(decoded).toString());
            return;
        }
        assertEquals(2, decoded.size(), () -> Wire.signatures(decoded).toString());
        var followUp = Wire.request(decoded.get(1));
        assertEquals("/follow-up", followUp.uri());
        assertEquals(DesyncClass.COMPLIANT, followUp.desyncClass());
        assertTrue(decoded.get(1).complete);
        assertEquals("", decoded.get(1).bodyText());
    }
}
