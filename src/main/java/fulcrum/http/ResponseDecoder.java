package fulcrum.http;

import static fulcrum.http.Bytes.CR;
import static fulcrum.http.Bytes.LF;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * The backend side's HTTP/1.1 response decoder. It emits a {@link BackendResponse}, then the body
 * as {@code HttpContent} pieces (retained slices of what was read) and a {@code LastHttpContent},
 * as Netty's decoder does, but it reads the head in one piece and parses only what the proxy acts
 * on: the status, the framing and the hop-by-hop fields. Every other field is kept as the bytes
 * the backend sent (see {@link BackendResponse}).
 *
 * <p>Framing follows RFC 9112 6.3 for responses: nothing after a response to HEAD, a 1xx, 204 or
 * 304; a chunked body when chunked is the final transfer coding; a body delimited by the
 * connection's close for any other transfer coding or when there is no Content-Length. The body
 * is read by the {@link BodyReader} shared with requests, under the policy stated in the
 * constructor. A head it cannot read safely (a malformed status line, a field without a colon or
 * with a bad name, framing fields that disagree, a head over the limit) becomes a response with a
 * failed {@link DecoderResult}, and everything after it is discarded: the connection is never
 * reused.
 * Control bytes inside field values and the reason phrase are replaced by SP (RFC 9110 5.5) and
 * obsolete line folding is unfolded (RFC 9112 5.2), because those bytes go to the client as sent.
 *
 * <p>After a 101 it decodes nothing more; removing it hands what follows to the tunnel.
 */
public final class ResponseDecoder extends ByteToMessageDecoder {
    private static final HttpHeadersFactory TRAILERS =
            DefaultHttpHeadersFactory.trailersFactory().withValidation(false);
    private static final int MAX_STATUS_LINE = 8192;
    private static final int MAX_CHUNK_LINE = 8192;

    private enum State {
        HEAD, BODY, UPGRADED, FAILED
    }

    /** Field names the proxy reads or removes; every other field stays bytes. */
    private static final AsciiString[] PARSED = parsed();
    private static final int NAME_START = 0;
    private static final int NAME_END = 1;
    private static final int VALUE_START = 2;
    private static final int VALUE_END = 3;
    /** Where the field's line ends (a folded field's last line); the line starts at its name. */
    private static final int LINE_END = 4;
    /** Index into {@link #PARSED}, or -1. */
    private static final int KNOWN = 5;
    private static final int FIELD = 6;

    private final int maxHeadSize;
    private final int[] teElements = new int[1];
    /** The kept-field spans of the head being parsed; the response gets a copy of the used part. */
    private int[] spans = new int[32];
    private final BodyReader body;
    private State state = State.HEAD;
    /** Bytes after the reader index known not to hold the end of the head or of a line. */
    private int scanned;
    private boolean expectHead;
    private HttpHeaders trailers;
    /** The fields of the head being parsed, {@link #FIELD} ints each; reused. */
    private int[] fields = new int[FIELD * 16];

    /** @param maxHeadSize the most bytes a head's fields may take (the status line has its own limit) */
    public ResponseDecoder(int maxHeadSize) {
        this.maxHeadSize = maxHeadSize;
        // Responses: the backend is ours and some old servers end chunk lines with a bare LF or
        // pad chunk sizes with spaces, so both are read; what cannot be read fails the exchange
        // with 502 (see decode) and the connection is not reused. A bare CR is refused as on the
        // request side: no server sends one, and a chunk line read two ways is where the next
        // response on a kept-alive connection would be misread. No body limit: we stream it.
        this.body = new BodyReader(new BodyReader.Policy(
                BodyReader.LineEnds.CRLF_OR_LF, BodyReader.ChunkExtensions.LENIENT,
                MAX_CHUNK_LINE, maxHeadSize, 0), new TrailerFields());
    }

    /** The next response answers a HEAD request: it has no body whatever its framing fields say. */
    public void expectHead(boolean head) {
        this.expectHead = head;
    }

    /**
     * Whether bytes of a response no one asked for are buffered: such a connection cannot be
     * trusted with the next request.
     */
    public boolean holdsBytes() {
        return state != State.HEAD || actualReadableBytes() > 0;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            switch (state) {
                case HEAD -> readHead(in, out);
                case BODY -> {
                    if (body.read(in, out)) {
                        state = State.HEAD;
                    }
                }
                case UPGRADED -> { }
                case FAILED -> in.skipBytes(in.readableBytes());
                default -> throw new IllegalStateException(state.name());
            }
        } catch (BadResponse e) {
            fail(e, in, out);
        } catch (BodyReader.BadBody e) {
            // Every body problem, too large trailers included, is the backend's: 502.
            fail(new BadResponse(e.getMessage()), in, out);
        }
    }

    private void fail(BadResponse e, ByteBuf in, List<Object> out) {
        boolean inHead = state == State.HEAD;
        state = State.FAILED;
        body.reset();
        trailers = null;
        in.skipBytes(in.readableBytes());
        out.add(inHead ? failedHead(e) : failedContent(e));
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (state == State.BODY && body.closed(in, out)) {
            state = State.HEAD;
        }
        // Anything else cut short is told by the channel closing: the proxy knows how far it got.
    }

    // ---- head ----

    private void readHead(ByteBuf in, List<Object> out) {
        if (scanned == 0) {
            // Stray line ends between responses (some servers end a body with an extra CRLF).
            while (in.isReadable() && (in.getByte(in.readerIndex()) == CR || in.getByte(in.readerIndex()) == LF)) {
                in.skipBytes(1);
            }
        }
        int end = headEnd(in);
        if (end < 0) {
            if (in.readableBytes() > MAX_STATUS_LINE + maxHeadSize) {
                throw new BadResponse("response head larger than " + maxHeadSize + " bytes");
            }
            return;
        }
        int length = end - in.readerIndex();
        HeadScratch scratch = length > HeadScratch.MAX ? null : HeadScratch.LOOP.get().take(length);
        byte[] head = scratch != null ? scratch.bytes : new byte[length];
        in.readBytes(head, 0, length);
        BackendResponse res = parseHead(head, length, scratch, out);
        if (scratch != null) {
            scratch.lentTo = res;
        }
    }

    /**
     * The arrays of the head being proxied, one set per event loop, so a response costs no copy
     * of its head: a response is written to its client (on the same loop) before the next one is
     * read, and says so ({@link BackendResponse#doneWithHead}). One that has not (kept, dropped for a
     * retry) keeps the arrays, and the loop makes itself new ones.
     */
    private static final class HeadScratch {
        /** Larger heads get an array of their own rather than a lasting one of their size. */
        private static final int MAX = 4096;
        private static final FastThreadLocal<HeadScratch> LOOP = new FastThreadLocal<>() {
            @Override
            protected HeadScratch initialValue() {
                return new HeadScratch();
            }
        };

        private byte[] bytes = new byte[512];
        private int[] spans = new int[16];
        private BackendResponse lentTo;

        /** These arrays, free for a head of {@code length} bytes. */
        HeadScratch take(int length) {
            if (lentTo != null && !lentTo.headDone()) {
                bytes = new byte[Math.max(length, 512)];
                spans = new int[16];
            } else if (bytes.length < length) {
                bytes = new byte[Math.min(MAX, Math.max(length, 2 * bytes.length))];
            }
            lentTo = null;
            return this;
        }

        int[] spans(int[] from, int count) {
            if (spans.length < count) {
                spans = new int[count];
            }
            System.arraycopy(from, 0, spans, 0, count);
            return spans;
        }
    }

    /** The index just past the blank line ending the head, or -1 while it has not all arrived. */
    private int headEnd(ByteBuf in) {
        int from = in.readerIndex() + scanned;
        int to = in.writerIndex();
        while (true) {
            int lf = in.indexOf(from, to, LF);
            if (lf < 0 || lf + 1 >= to) {
                scanned = (lf < 0 ? to : lf) - in.readerIndex();
                return -1;
            }
            byte next = in.getByte(lf + 1);
            if (next == LF) {
                scanned = 0;
                return lf + 2;
            }
            if (next == CR) {
                if (lf + 2 >= to) {
                    scanned = lf - in.readerIndex();
                    return -1;
                }
                if (in.getByte(lf + 2) == LF) {
                    scanned = 0;
                    return lf + 3;
                }
            }
            from = lf + 1;
        }
    }

    /** Parses the {@code length} bytes of {@code h}; {@code scratch} when {@code h} is its lent array, else null. */
    private BackendResponse parseHead(byte[] h, int length, HeadScratch scratch, List<Object> out) {
        // Parsed fields outlive the head's write (keep-alive is decided at the body's end): a
        // lent array's values are copied.
        boolean lent = scratch != null;
        int lf = indexOf(h, 0, LF);
        int lineEnd = lf > 0 && h[lf - 1] == CR ? lf - 1 : lf;
        if (lineEnd > MAX_STATUS_LINE) {
            throw new BadResponse("status line longer than " + MAX_STATUS_LINE + " bytes");
        }
        if (length - lf > maxHeadSize) {
            throw new BadResponse("response head larger than " + maxHeadSize + " bytes");
        }
        HttpVersion version = version(h, lineEnd);
        int statusStart = 9;
        if (lineEnd < statusStart + 3 || (lineEnd > statusStart + 3 && h[statusStart + 3] != ' ')) {
            throw new BadResponse("malformed status line");
        }
        int code = 0;
        for (int i = statusStart; i < statusStart + 3; i++) {
            if (h[i] < '0' || h[i] > '9') {
                throw new BadResponse("malformed status code");
            }
            code = code * 10 + h[i] - '0';
        }
        if (code < 100 || code > 599) {
            throw new BadResponse("status code " + code + " out of range");
        }
        for (int i = statusStart + 3; i < lineEnd; i++) {
            if (Bytes.isControl(h[i])) {
                h[i] = ' ';
            }
        }
        int count = readFields(h, lf + 1);
        HttpHeaders parsed = new FlatHeaders(4);
        if (spans.length < 2 * count) {
            spans = new int[2 * count];
        }
        int spanCount = 0;
        long contentLength = -1;
        boolean transferEncoding = false;
        int coding = Framing.LAST_IS_OTHER;
        teElements[0] = 0;
        boolean connectionNames = false;
        for (int f = 0; f < count; f++) {
            int at = f * FIELD;
            int known = fields[at + KNOWN];
            if (known < 0) {
                continue;
            }
            AsciiString value = value(h, at, lent);
            AsciiString name = PARSED[known];
            if (name == HttpHeaderNames.CONNECTION) {
                connectionNames |= HopByHop.namesFields(value);
            } else if (name == HttpHeaderNames.CONTENT_LENGTH) {
                long n = Framing.contentLength(value);
                if (n < 0 || (contentLength >= 0 && contentLength != n)) {
                    throw new BadResponse("invalid or conflicting Content-Length");
                }
                if (contentLength >= 0) {
                    continue; // identical duplicates stand as one (RFC 9112 6.3)
                }
                contentLength = n;
                if (Framing.isList(value)) {
                    value = new AsciiString(Long.toString(n));
                }
            } else if (name == HttpHeaderNames.TRANSFER_ENCODING) {
                if (coding != Framing.CHUNKED_NOT_LAST) {
                    coding = Framing.transferEncoding(value, coding == Framing.LAST_IS_CHUNKED, teElements);
                    if (coding == Framing.MALFORMED || coding == Framing.CHUNKED_TWICE) {
                        throw new BadResponse("malformed Transfer-Encoding");
                    }
                }
                transferEncoding = true;
            }
            parsed.add(name, value);
        }
        for (int f = 0; f < count; f++) {
            int at = f * FIELD;
            if (fields[at + KNOWN] >= 0) {
                continue;
            }
            if (connectionNames && namedByConnection(parsed, h, at)) {
                // Parsed only to be stripped (HopByHop), so where it stands among the others is moot.
                parsed.add(new AsciiString(h, fields[at + NAME_START], fields[at + NAME_END] - fields[at + NAME_START],
                                           lent), value(h, at, lent));
            } else {
                spanCount = addSpan(h, spans, spanCount, fields[at + NAME_START], fields[at + LINE_END]);
            }
        }
        if (transferEncoding && version == HttpVersion.HTTP_1_0) {
            throw new BadResponse("Transfer-Encoding in an HTTP/1.0 response"); // RFC 9112 6.1: faulty framing
        }
        int[] kept = scratch != null ? scratch.spans(spans, spanCount) : Arrays.copyOf(spans, spanCount);
        BackendResponse res = new BackendResponse(version, HttpResponseStatus.valueOf(code), parsed, h,
                                                  statusStart, lineEnd, kept, spanCount);
        out.add(res);
        frame(res, code, contentLength, transferEncoding, coding, out);
        return res;
    }

    private static HttpVersion version(byte[] h, int lineEnd) {
        if (lineEnd < 9 || h[0] != 'H' || h[1] != 'T' || h[2] != 'T' || h[3] != 'P' || h[4] != '/'
            || h[5] != '1' || h[6] != '.' || h[7] < '0' || h[7] > '9' || h[8] != ' ') {
            throw new BadResponse("malformed status line");
        }
        return h[7] == '0' ? HttpVersion.HTTP_1_0 : HttpVersion.HTTP_1_1;
    }

    /** Splits the field lines from {@code start} into {@link #fields}; returns how many. */
    private int readFields(byte[] h, int start) {
        int count = 0;
        int i = start;
        while (true) {
            int lf = indexOf(h, i, LF);
            int end = lf > i && h[lf - 1] == CR ? lf - 1 : lf;
            if (end == i) {
                return count;
            }
            if (h[i] == ' ' || h[i] == '\t') {
                // obs-fold: the line continues the field before it; its line break becomes spaces.
                if (count == 0) {
                    throw new BadResponse("folded line without a field");
                }
                int at = (count - 1) * FIELD;
                Arrays.fill(h, fields[at + LINE_END], i, (byte) ' ');
                sanitise(h, i, end);
                fields[at + LINE_END] = end;
                fields[at + VALUE_END] = trimEnd(h, fields[at + VALUE_START], end);
            } else {
                if (fields.length < (count + 1) * FIELD) {
                    fields = Arrays.copyOf(fields, fields.length * 2);
                }
                field(h, count * FIELD, i, end);
                count++;
            }
            i = lf + 1;
        }
    }

    private void field(byte[] h, int at, int start, int end) {
        int colon = start;
        while (colon < end && Bytes.isToken(h[colon])) {
            colon++;
        }
        if (colon == start || colon == end || h[colon] != ':') {
            throw new BadResponse("malformed field line");
        }
        int v = colon + 1;
        while (v < end && Bytes.isOws(h[v])) {
            v++;
        }
        sanitise(h, v, end);
        fields[at + NAME_START] = start;
        fields[at + NAME_END] = colon;
        fields[at + VALUE_START] = v;
        fields[at + VALUE_END] = trimEnd(h, v, end);
        fields[at + LINE_END] = end;
        fields[at + KNOWN] = known(h, start, colon);
    }

    private static int known(byte[] h, int start, int end) {
        for (int k = 0; k < PARSED.length; k++) {
            if (sameName(h, start, end, PARSED[k])) {
                return k;
            }
        }
        return -1;
    }

    /** Whether a Connection field of this head names the field at {@code at}. */
    private boolean namedByConnection(HttpHeaders parsed, byte[] h, int at) {
        Iterator<? extends CharSequence> values = parsed.valueCharSequenceIterator(HttpHeaderNames.CONNECTION);
        while (values.hasNext()) {
            if (HopByHop.names(values.next(), h, fields[at + NAME_START], fields[at + NAME_END])) {
                return true;
            }
        }
        return false;
    }

    /** The field's value: a view of {@code h}, or when {@code own}, a value of its own (shared when common). */
    private AsciiString value(byte[] h, int at, boolean own) {
        int start = fields[at + VALUE_START];
        int length = fields[at + VALUE_END] - start;
        if (!own) {
            return new AsciiString(h, start, length, false);
        }
        AsciiString common = commonValue(h, start, length);
        return common != null ? common : new AsciiString(h, start, length, true);
    }

    /** Values of the parsed fields most responses carry, spelled as servers send them. */
    private static final AsciiString[] COMMON_VALUES = {
        HttpHeaderValues.KEEP_ALIVE, HttpHeaderValues.CLOSE, AsciiString.cached("Keep-Alive"),
        AsciiString.cached("Close"), HttpHeaderValues.UPGRADE, AsciiString.cached("Upgrade"),
        HttpHeaderValues.CHUNKED, AsciiString.cached("timeout=5"), HttpHeaderValues.WEBSOCKET};
    /** Content-Length values below this are made once and shared. */
    private static final int SHARED_LENGTHS = 10_000;
    /** Filled as lengths are seen; a race fills a slot twice with equal values, harmlessly. */
    private static final AsciiString[] LENGTHS = new AsciiString[SHARED_LENGTHS];

    /** The shared value spelled by these bytes exactly, or null. */
    private static AsciiString commonValue(byte[] h, int start, int length) {
        if (length >= 1 && length <= 4 && (h[start] != '0' || length == 1)) {
            int n = 0;
            for (int i = start; i < start + length; i++) {
                if (h[i] < '0' || h[i] > '9') {
                    n = -1;
                    break;
                }
                n = n * 10 + h[i] - '0';
            }
            if (n >= 0) {
                AsciiString v = LENGTHS[n];
                if (v == null) {
                    v = new AsciiString(h, start, length, true);
                    LENGTHS[n] = v;
                }
                return v;
            }
        }
        for (AsciiString v : COMMON_VALUES) {
            if (v.length() == length && Bytes.spells(v, h, start)) {
                return v;
            }
        }
        return null;
    }

    /** Framing fields, then the hop-by-hop table: what the proxy reads or strips. */
    private static AsciiString[] parsed() {
        AsciiString[] p = new AsciiString[2 + HopByHop.FIELDS.length];
        p[0] = HttpHeaderNames.CONTENT_LENGTH;
        p[1] = HttpHeaderNames.TRANSFER_ENCODING;
        System.arraycopy(HopByHop.FIELDS, 0, p, 2, HopByHop.FIELDS.length);
        return p;
    }

    private static int addSpan(byte[] h, int[] spans, int spanCount, int start, int end) {
        if (spanCount > 0) {
            int last = spans[spanCount - 1];
            if (last + 2 == start && h[last] == CR && h[last + 1] == LF) {
                spans[spanCount - 1] = end; // the line right after a CRLF-ended one: one copy
                return spanCount;
            }
        }
        spans[spanCount] = start;
        spans[spanCount + 1] = end;
        return spanCount + 2;
    }

    private void frame(BackendResponse res, int code, long contentLength,
                       boolean transferEncoding, int coding, List<Object> out) {
        if (code == 101) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
            state = State.UPGRADED;
            return;
        }
        if (code < 200) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
            return; // the final response follows, still to the same request
        }
        boolean head = expectHead;
        expectHead = false;
        if (transferEncoding && contentLength >= 0) {
            // Transfer-Encoding overrides Content-Length (RFC 9112 6.3); the client must not see both.
            res.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        if (head || code == 204 || code == 304) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        } else if (transferEncoding && coding == Framing.LAST_IS_CHUNKED) {
            body.chunked();
            state = State.BODY;
        } else if (transferEncoding) {
            body.untilClose();
            state = State.BODY;
        } else if (contentLength == 0) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        } else if (contentLength > 0) {
            body.fixed(contentLength);
            state = State.BODY;
        } else {
            body.untilClose();
            state = State.BODY;
        }
    }

    // ---- trailers ----

    /** Trailer lines are framed by the body reader and parsed as head fields are. */
    private final class TrailerFields implements BodyReader.Trailers {
        @Override
        public void trailerLine(ByteBuf in, int start, int end) {
            byte[] line = new byte[end - start];
            in.getBytes(start, line);
            if (line[0] == ' ' || line[0] == '\t') {
                return; // a folded trailer line: trailers are dropped rather than mended
            }
            field(line, 0, 0, line.length);
            if (trailers == null) {
                trailers = TRAILERS.newHeaders();
            }
            trailers.add(new AsciiString(line, 0, fields[NAME_END], false),
                         new AsciiString(line, fields[VALUE_START], fields[VALUE_END] - fields[VALUE_START], false));
        }

        @Override
        public HttpHeaders trailersEnd() {
            HttpHeaders t = trailers;
            trailers = null;
            return t;
        }
    }

    // ---- helpers ----

    private static int indexOf(byte[] a, int from, byte b) {
        for (int i = from; i < a.length; i++) {
            if (a[i] == b) {
                return i;
            }
        }
        throw new IllegalStateException("head without line end"); // headEnd() found one
    }

    /** Control bytes in a value would reach the client as sent: each becomes SP (RFC 9110 5.5). */
    private static void sanitise(byte[] h, int start, int end) {
        for (int i = start; i < end; i++) {
            if (Bytes.isControl(h[i])) {
                h[i] = ' ';
            }
        }
    }

    private static int trimEnd(byte[] h, int start, int end) {
        while (end > start && Bytes.isOws(h[end - 1])) {
            end--;
        }
        return end;
    }

    private static boolean sameName(byte[] h, int start, int end, AsciiString lowerName) {
        int n = end - start;
        if (n != lowerName.length()) {
            return false;
        }
        byte[] name = lowerName.array();
        int off = lowerName.arrayOffset();
        for (int i = 0; i < n; i++) {
            if ((h[start + i] | 0x20) != name[off + i]) {
                return false;
            }
        }
        return true;
    }

    private static DefaultHttpResponse failedHead(BadResponse e) {
        DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY,
                                                          EmptyHttpHeaders.INSTANCE);
        res.setDecoderResult(DecoderResult.failure(e));
        return res;
    }

    private static LastHttpContent failedContent(BadResponse e) {
        LastHttpContent c = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, EmptyHttpHeaders.INSTANCE);
        c.setDecoderResult(DecoderResult.failure(e));
        return c;
    }

    /** A response the proxy will not pass on; the message says why, for the debug log. */
    private static final class BadResponse extends DecoderException {
        private static final long serialVersionUID = 1L;

        BadResponse(String message) {
            super(message, null);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }
}
