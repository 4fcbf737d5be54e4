package fulcrum.http;

import static fulcrum.http.Bytes.CR;
import static fulcrum.http.Bytes.LF;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
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
 * connection's close for any other transfer coding or when there is no Content-Length. A head it
 * cannot read safely (a malformed status line, a field without a colon or with a bad name,
 * framing fields that disagree, a head over the limit) becomes a response with a failed
 * {@link DecoderResult}, and everything after it is discarded: the connection is never reused.
 * Control bytes inside field values and the reason phrase are replaced by SP (RFC 9110 5.5) and
 * obsolete line folding is unfolded (RFC 9112 5.2), because those bytes go to the client as sent.
 *
 * <p>After a 101 it decodes nothing more; removing it hands what follows to the tunnel.
 */
public final class ResponseDecoder extends ByteToMessageDecoder {
    private static final HttpHeadersFactory HEADERS =
            DefaultHttpHeadersFactory.headersFactory().withValidation(false);
    private static final HttpHeadersFactory TRAILERS =
            DefaultHttpHeadersFactory.trailersFactory().withValidation(false);
    private static final int MAX_STATUS_LINE = 8192;
    private static final int MAX_CHUNK_LINE = 8192;

    private enum State {
        HEAD, FIXED_BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILERS, CLOSE_DELIMITED, UPGRADED, FAILED
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
    private State state = State.HEAD;
    /** Bytes after the reader index known not to hold the end of the head or of a line. */
    private int scanned;
    private boolean expectHead;
    private long remaining;
    private int trailerBytes;
    private HttpHeaders trailers;
    /** The fields of the head being parsed, {@link #FIELD} ints each; reused. */
    private int[] fields = new int[FIELD * 16];

    /** @param maxHeadSize the most bytes a head's fields may take (the status line has its own limit) */
    public ResponseDecoder(int maxHeadSize) {
        this.maxHeadSize = maxHeadSize;
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
                case FIXED_BODY -> readFixedBody(in, out);
                case CHUNK_SIZE -> readChunkSize(in);
                case CHUNK_DATA -> readChunkData(in, out);
                case CHUNK_DATA_END -> readChunkDataEnd(in);
                case TRAILERS -> readTrailers(in, out);
                case CLOSE_DELIMITED -> {
                    if (in.isReadable()) {
                        out.add(new DefaultHttpContent(in.readRetainedSlice(in.readableBytes())));
                    }
                }
                case UPGRADED -> { }
                case FAILED -> in.skipBytes(in.readableBytes());
                default -> throw new IllegalStateException(state.name());
            }
        } catch (BadResponse e) {
            boolean inHead = state == State.HEAD;
            state = State.FAILED;
            trailers = null;
            in.skipBytes(in.readableBytes());
            out.add(inHead ? failedHead(e) : failedContent(e));
        }
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (state == State.CLOSE_DELIMITED) {
            decode(ctx, in, out);
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
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
        byte[] head = new byte[length];
        in.readBytes(head);
        parseHead(head, out);
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

    private void parseHead(byte[] h, List<Object> out) {
        int lf = indexOf(h, 0, LF);
        int lineEnd = lf > 0 && h[lf - 1] == CR ? lf - 1 : lf;
        if (lineEnd > MAX_STATUS_LINE) {
            throw new BadResponse("status line longer than " + MAX_STATUS_LINE + " bytes");
        }
        if (h.length - lf > maxHeadSize) {
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
        HttpHeaders parsed = HEADERS.newHeaders();
        int[] spans = new int[2 * count];
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
            AsciiString value = value(h, at);
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
                parsed.add(new AsciiString(h, fields[at + NAME_START],
                                           fields[at + NAME_END] - fields[at + NAME_START], false), value(h, at));
            } else {
                spanCount = addSpan(h, spans, spanCount, fields[at + NAME_START], fields[at + LINE_END]);
            }
        }
        if (transferEncoding && version == HttpVersion.HTTP_1_0) {
            throw new BadResponse("Transfer-Encoding in an HTTP/1.0 response"); // RFC 9112 6.1: faulty framing
        }
        BackendResponse res = new BackendResponse(version, HttpResponseStatus.valueOf(code), parsed, h,
                                                  statusStart, lineEnd, spans, spanCount);
        out.add(res);
        frame(res, code, contentLength, transferEncoding, coding, out);
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

    private AsciiString value(byte[] h, int at) {
        return new AsciiString(h, fields[at + VALUE_START], fields[at + VALUE_END] - fields[at + VALUE_START], false);
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
        } else if (transferEncoding) {
            state = coding == Framing.LAST_IS_CHUNKED ? State.CHUNK_SIZE : State.CLOSE_DELIMITED;
        } else if (contentLength == 0) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        } else if (contentLength > 0) {
            remaining = contentLength;
            state = State.FIXED_BODY;
        } else {
            state = State.CLOSE_DELIMITED;
        }
    }

    // ---- body ----

    private void readFixedBody(ByteBuf in, List<Object> out) {
        int n = (int) Math.min(remaining, in.readableBytes());
        if (n == 0) {
            return;
        }
        ByteBuf piece = in.readRetainedSlice(n);
        remaining -= n;
        if (remaining == 0) {
            out.add(new DefaultLastHttpContent(piece, EmptyHttpHeaders.INSTANCE));
            state = State.HEAD;
        } else {
            out.add(new DefaultHttpContent(piece));
        }
    }

    private void readChunkSize(ByteBuf in) {
        int lf = findLf(in, MAX_CHUNK_LINE);
        if (lf < 0) {
            return;
        }
        int start = in.readerIndex();
        int end = lf > start && in.getByte(lf - 1) == CR ? lf - 1 : lf;
        long size = 0;
        int i = start;
        for (; i < end; i++) {
            int digit = Bytes.hex(in.getByte(i));
            if (digit < 0) {
                break;
            }
            if (size > (Long.MAX_VALUE >> 4)) {
                throw new BadResponse("chunk size overflows");
            }
            size = size << 4 | digit;
        }
        if (i == start || (i < end && in.getByte(i) != ';' && !Bytes.isOws(in.getByte(i)))) {
            throw new BadResponse("chunk size is not a hexadecimal number");
        }
        in.readerIndex(lf + 1);
        if (size == 0) {
            state = State.TRAILERS;
            trailerBytes = 0;
            return;
        }
        remaining = size;
        state = State.CHUNK_DATA;
    }

    private void readChunkData(ByteBuf in, List<Object> out) {
        int n = (int) Math.min(remaining, in.readableBytes());
        if (n == 0) {
            return;
        }
        out.add(new DefaultHttpContent(in.readRetainedSlice(n)));
        remaining -= n;
        if (remaining == 0) {
            state = State.CHUNK_DATA_END;
        }
    }

    private void readChunkDataEnd(ByteBuf in) {
        int lf = findLf(in, 2);
        if (lf < 0) {
            return;
        }
        int start = in.readerIndex();
        if (lf != start && !(lf == start + 1 && in.getByte(start) == CR)) {
            throw new BadResponse("chunk data longer than its size");
        }
        in.readerIndex(lf + 1);
        state = State.CHUNK_SIZE;
    }

    private void readTrailers(ByteBuf in, List<Object> out) {
        while (true) {
            int lf = findLf(in, maxHeadSize - trailerBytes);
            if (lf < 0) {
                return;
            }
            int start = in.readerIndex();
            int end = lf > start && in.getByte(lf - 1) == CR ? lf - 1 : lf;
            trailerBytes += lf + 1 - start;
            if (end == start) {
                in.readerIndex(lf + 1);
                HttpHeaders t = trailers;
                trailers = null;
                out.add(t == null ? LastHttpContent.EMPTY_LAST_CONTENT
                                  : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, t));
                state = State.HEAD;
                return;
            }
            byte[] line = new byte[end - start];
            in.getBytes(start, line);
            in.readerIndex(lf + 1);
            if (line[0] == ' ' || line[0] == '\t') {
                continue; // a folded trailer line: trailers are dropped rather than mended
            }
            field(line, 0, 0, line.length);
            if (trailers == null) {
                trailers = TRAILERS.newHeaders();
            }
            trailers.add(new AsciiString(line, 0, fields[NAME_END], false),
                         new AsciiString(line, fields[VALUE_START], fields[VALUE_END] - fields[VALUE_START], false));
        }
    }

    // ---- helpers ----

    /** The LF ending the line at the reader index, or -1 while it has not arrived within {@code max} bytes. */
    private int findLf(ByteBuf in, int max) {
        int from = in.readerIndex() + scanned;
        int to = in.writerIndex();
        int lf = in.indexOf(from, to, LF);
        if (lf < 0) {
            scanned = to - in.readerIndex();
            if (scanned > max) {
                throw new BadResponse("line longer than " + max + " bytes");
            }
            return -1;
        }
        scanned = 0;
        if (lf - in.readerIndex() > max) {
            throw new BadResponse("line longer than " + max + " bytes");
        }
        return lf;
    }

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
