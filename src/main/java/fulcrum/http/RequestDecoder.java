package fulcrum.http;

import static fulcrum.http.Bytes.CR;
import static fulcrum.http.Bytes.HTAB;
import static fulcrum.http.Bytes.LF;
import static fulcrum.http.Bytes.SP;
import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.CharsetUtil;
import java.util.List;

/**
 * The frontend's HTTP/1.1 request decoder: frames requests exactly as RFC 9112 says, classifies
 * each one as http_desync_guardian does, and refuses to guess where a request ends.
 *
 * <p>It emits a {@link DecodedRequest}, then the body as {@code HttpContent} pieces (retained
 * slices of the received buffers, never copied nor aggregated), then a {@code LastHttpContent}
 * (carrying trailers after a chunked body). A request it will not forward becomes a
 * {@link RejectedRequest} instead, possibly after the head and part of the body; from then on
 * every byte is discarded, so nothing that follows can be taken for a request. After a request
 * marked {@link DecodedRequest#closeAfter()} it discards everything too: the proxy closes the
 * connection after the response, and the bytes after an ambiguous request are exactly where a
 * smuggled request would sit.
 *
 * <p>After a request carrying {@code Upgrade} it decodes nothing until the proxy knows the
 * backend's answer: on 101 the proxy removes this handler, and what the client already sent is
 * passed on as a {@code ByteBuf} (ByteToMessageDecoder's {@code handlerRemoved}); on anything
 * else it calls {@link #upgradeDeclined()}.
 *
 * <p>Line endings: RFC 9112 2.2 lets a recipient accept a bare LF as a line terminator. We accept
 * it in the request line and headers (old scripts and netcat users send it; nginx and HAProxy
 * accept it), but the request is {@link DesyncClass#AMBIGUOUS}: an intermediary in front of us
 * that only splits on CRLF would see one header where we see two, which is a desync vector, so
 * the connection is closed after it (and STRICTEST rejects it). Inside chunked framing, where no
 * client has an excuse, only CRLF is accepted (the {@link BodyReader} policy built in the
 * constructor). A CR not followed by LF is rejected everywhere, as soon as the byte after it
 * arrives.
 */
public final class RequestDecoder extends ByteToMessageDecoder {
    private static final HttpHeadersFactory TRAILERS =
            DefaultHttpHeadersFactory.trailersFactory().withValidation(false);

    private enum State {
        REQUEST_LINE, HEADERS, BODY, UPGRADE_PENDING, DISCARD
    }

    private final RequestLimits limits;
    private final DesyncMode mode;
    /** Transfer codings seen: [0] how many, [1] how many chunked with parameters. */
    private final int[] teElements = new int[2];
    private final BodyReader body;
    private ChannelHandlerContext ctx;

    private State state = State.REQUEST_LINE;
    private final LineFinder lines = new LineFinder();

    // The request being decoded; reset by startRequest().
    private DesyncClass desyncClass;
    private String desyncReason;
    private boolean mustClose;
    private boolean closeAfter;
    private HttpMethod method;
    private String uri;
    private HttpVersion version;
    private AsciiString authority;
    private int defaultPort;
    private HttpHeaders fields;
    private int fieldBytes;
    private int fieldCount;
    private AsciiString pendingName;
    private AsciiString pendingValue;
    private boolean pendingHadControl;
    private int hostCount;
    private AsciiString host;
    private long contentLength;
    private boolean contentLengthDuplicated;
    private boolean transferEncoding;
    private boolean chunkedLast;
    private boolean upgrade;
    private boolean http09;
    /** The last field line had a name that is not a token and was dropped. */
    private boolean oddNameDropped;

    public RequestDecoder(RequestLimits limits) {
        this.limits = requireNonNull(limits, "limits");
        this.mode = limits.mode();
        // Requests: no client has an excuse for loose chunked framing, and a line we read one way
        // and a server behind us another is a smuggled request. Only CRLF ends a chunk-size or
        // trailer line, a size is followed by nothing or by extensions free of control bytes, and
        // anything else is a 400 of class SEVERE (see decode). Bodies are limited by max-body-size.
        this.body = new BodyReader(new BodyReader.Policy(
                BodyReader.LineEnds.CRLF, BodyReader.ChunkExtensions.STRICT,
                limits.maxChunkLine(), limits.maxHeaderSize(), limits.maxBodySize()), new TrailerFields());
    }

    /**
     * The backend answered a request carrying {@code Upgrade} with something other than 101:
     * the connection stays HTTP, so decode whatever the client sent after that request. Call on
     * the channel's event loop.
     */
    public void upgradeDeclined() {
        if (state != State.UPGRADE_PENDING) {
            return;
        }
        state = State.REQUEST_LINE;
        ByteBuf pending = internalBuffer();
        if (ctx != null && pending.isReadable()) {
            // channelRead with nothing new runs the decode loop over what is already cumulated.
            try {
                channelRead(ctx, Unpooled.EMPTY_BUFFER);
                channelReadComplete(ctx);
            } catch (Exception e) {
                ctx.fireExceptionCaught(e);
            }
        }
    }

    /** Whether part of a request head has arrived and the rest has not (the slowloris window). */
    public boolean midHead() {
        return state == State.HEADERS || (state == State.REQUEST_LINE && internalBuffer().isReadable());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        try {
            switch (state) {
                case REQUEST_LINE -> readRequestLine(in);
                case HEADERS -> readFieldLine(in, out);
                case BODY -> {
                    if (body.read(in, out)) {
                        endRequest();
                    }
                }
                case UPGRADE_PENDING -> { }
                case DISCARD -> in.skipBytes(in.readableBytes());
                default -> throw new IllegalStateException(state.name());
            }
        } catch (Rejection r) {
            reject(r, in, out);
        } catch (BodyReader.BadBody b) {
            reject(switch (b.problem) {
                case MALFORMED -> fail("BadTransferEncoding", b.getMessage());
                case BODY_TOO_LARGE -> new Rejection(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, b.getMessage(),
                                                     desyncClass);
                case TRAILERS_TOO_LARGE -> tooLarge(b.getMessage());
            }, in, out);
        }
    }

    private void reject(Rejection r, ByteBuf in, List<Object> out) {
        out.add(new RejectedRequest(r.status, r.getMessage(), r.desyncClass));
        state = State.DISCARD;
        body.reset();
        fields = null;
        pendingName = null;
        pendingValue = null;
        in.skipBytes(in.readableBytes());
    }

    // ---- request line ----

    private void readRequestLine(ByteBuf in) {
        // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line
        // (some clients send CRLF after a POST body).
        while (in.isReadable()) {
            byte b = in.getByte(in.readerIndex());
            if (b == LF) {
                in.skipBytes(1);
            } else if (b == CR && in.readableBytes() >= 2 && in.getByte(in.readerIndex() + 1) == LF) {
                in.skipBytes(2);
            } else if (b == CR && in.readableBytes() < 2) {
                return;
            } else {
                break;
            }
        }
        int lf = findLf(in);
        if (lf < 0) {
            if (lines.scanned() > limits.maxRequestLine() + 1) {
                throw new Rejection(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long",
                        DesyncClass.COMPLIANT);
            }
            return;
        }
        int start = in.readerIndex();
        startRequest();
        int end = contentEnd(in, start, lf);
        if (end - start > limits.maxRequestLine()) {
            throw new Rejection(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long",
                    desyncClass);
        }
        parseRequestLine(in, start, end);
        in.readerIndex(lf + 1);
        state = State.HEADERS;
    }

    private static final HttpMethod[] KNOWN_METHODS = {
            HttpMethod.GET, HttpMethod.POST, HttpMethod.HEAD, HttpMethod.PUT, HttpMethod.DELETE,
            HttpMethod.OPTIONS, HttpMethod.PATCH, HttpMethod.CONNECT, HttpMethod.TRACE};

    /** The standard method spelled by these bytes (case-sensitive), without making a String; else null. */
    private static HttpMethod knownMethod(ByteBuf in, int start, int length) {
        for (HttpMethod m : KNOWN_METHODS) {
            AsciiString name = m.asciiName();
            if (name.length() == length && Bytes.spells(name, in, start)) {
                return m;
            }
        }
        return null;
    }

    /**
     * method SP request-target SP HTTP-version (RFC 9112 3). Leniencies are those of ALB's
     * acceptable class, each normalised so that the backend sees a strict request line: spaces
     * inside the target (percent-encoded), whitespace after the version (dropped), no version at
     * all (HTTP/0.9, served as HTTP/1.0), no target (served as "/").
     */
    private void parseRequestLine(ByteBuf in, int start, int end) {
        int sp = in.indexOf(start, end, SP);
        if (sp < 0) {
            throw fail("MissingUri", "request line has no request target");
        }
        if (sp == start || in.forEachByte(start, sp - start, Bytes.TOKEN) >= 0) {
            throw fail("BadMethod", "method is not a token");
        }
        // RFC 9110 9.1: methods are case-sensitive; "get" is a valid, different method that the
        // backend may answer with 501. Forward it as it came.
        method = knownMethod(in, start, sp - start);
        if (method == null) {
            method = HttpMethod.valueOf(in.toString(start, sp - start, CharsetUtil.US_ASCII));
        }
        int lineEnd = end;
        while (lineEnd > sp + 1 && Bytes.isOws(in.getByte(lineEnd - 1))) {
            lineEnd--;
        }
        if (lineEnd < end) {
            note(DesyncClass.ACCEPTABLE, "NonCompliantVersion", "whitespace after the HTTP version");
        }
        int targetStart = sp + 1;
        if (targetStart == lineEnd) {
            throw fail("MissingUri", "request line has no request target");
        }
        int versionSp = in.indexOf(lineEnd, targetStart, SP);
        if (versionSp == targetStart && in.indexOf(targetStart + 1, lineEnd, SP) < 0
                && isVersion(in, targetStart + 1, lineEnd)) {
            // "GET  HTTP/1.1": an empty target, which ALB lets through; "/" is what it means.
            note(DesyncClass.ACCEPTABLE, "BadUri", "empty request target served as /");
            version = parseVersion(in, targetStart + 1, lineEnd);
            uri = "/";
            return;
        }
        if (in.getByte(targetStart) == SP) {
            throw fail("SpaceInUri", "more than one space between method and request target");
        }
        int targetEnd;
        if (versionSp < 0) {
            // RFC 9112 2.3 leaves HTTP/0.9 behind; ALB serves it, so we do, as HTTP/1.0.
            note(DesyncClass.ACCEPTABLE, "NonCompliantVersion",
                    "request line without HTTP version (HTTP/0.9) served as HTTP/1.0");
            http09 = true;
            version = HttpVersion.HTTP_1_0;
            targetEnd = lineEnd;
        } else {
            if (in.getByte(versionSp - 1) == SP) {
                throw fail("BadVersion", "more than one space before the HTTP version");
            }
            version = parseVersion(in, versionSp + 1, lineEnd);
            targetEnd = versionSp;
        }
        ByteBuf encoded = encodedTarget(in, targetStart, targetEnd);
        uri = encoded == null ? parseTarget(in, targetStart, targetEnd)
                              : parseTarget(encoded, 0, encoded.writerIndex());
    }

    /**
     * Checks the request target's bytes: visible ASCII (RFC 3986), raw UTF-8 or other obs-text,
     * which clients send and ALB forwards, and SP, which becomes %20. Whitespace other than SP and
     * control bytes are rejected: parsers disagree on where such a target ends. Returns the target
     * with its spaces encoded, or null when it stands as it is.
     */
    private ByteBuf encodedTarget(ByteBuf in, int start, int end) {
        int odd = in.forEachByte(start, end - start, Bytes.TARGET);
        if (odd < 0) {
            return null;
        }
        int spaces = 0;
        for (int i = odd; i < end; i++) {
            byte b = in.getByte(i);
            if (b == SP) {
                if (isVersionStart(in, i + 1, end)) {
                    // "GET /a HTTP/1.1 HTTP/1.1": a request line built to be split two ways.
                    throw fail("BadUri", "HTTP version inside request target");
                }
                spaces++;
            } else if (b >= 0 && !Bytes.TARGET_TABLE[b]) {
                throw fail("AmbiguousUri",
                        b == HTAB ? "whitespace in request target" : "control byte in request target");
            }
        }
        if (spaces > 0) {
            // Not a request-target character anywhere (RFC 9112 3.2), but unambiguous once the
            // method and version are found; the backend gets it percent-encoded.
            note(DesyncClass.ACCEPTABLE, "SpaceInUri", "space in request target percent-encoded");
            byte[] a = new byte[end - start + 2 * spaces];
            for (int i = start, j = 0; i < end; i++) {
                byte b = in.getByte(i);
                if (b == SP) {
                    a[j++] = '%';
                    a[j++] = '2';
                    a[j++] = '0';
                } else {
                    a[j++] = b;
                }
            }
            return Unpooled.wrappedBuffer(a);
        }
        return null;
    }

    private static boolean isVersion(ByteBuf in, int start, int end) {
        return end - start == 8 && isVersionStart(in, start, end);
    }

    private static boolean isVersionStart(ByteBuf in, int start, int end) {
        return end - start >= 5 && in.getByte(start) == 'H' && in.getByte(start + 1) == 'T'
                && in.getByte(start + 2) == 'T' && in.getByte(start + 3) == 'P' && in.getByte(start + 4) == '/';
    }

    private HttpVersion parseVersion(ByteBuf in, int start, int end) {
        if (end - start != 8
                || in.getByte(start) != 'H' || in.getByte(start + 1) != 'T'
                || in.getByte(start + 2) != 'T' || in.getByte(start + 3) != 'P'
                || in.getByte(start + 4) != '/' || in.getByte(start + 6) != '.'
                || !isDigit(in.getByte(start + 5)) || !isDigit(in.getByte(start + 7))) {
            throw fail("BadVersion", in.indexOf(start, end, SP) >= 0 || in.indexOf(start, end, HTAB) >= 0
                    ? "whitespace in request target or around the HTTP version"
                    : "malformed HTTP version");
        }
        int major = in.getByte(start + 5) - '0';
        int minor = in.getByte(start + 7) - '0';
        if (major == 0 && minor == 9) {
            note(DesyncClass.ACCEPTABLE, "NonCompliantVersion", "HTTP/0.9 served as HTTP/1.0");
            http09 = true;
            return HttpVersion.HTTP_1_0;
        }
        if (major != 1) {
            // HTTP/2.0 here is a client speaking prior-knowledge h2 to an HTTP/1.1 listener.
            throw new Rejection(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
                    "HTTP major version " + major + " not supported", DesyncClass.SEVERE);
        }
        if (minor == 0) {
            return HttpVersion.HTTP_1_0;
        }
        if (minor > 1) {
            // RFC 9110 2.5: a higher minor version is processed as the highest one we implement.
            note(DesyncClass.ACCEPTABLE, "NonCompliantVersion", "HTTP/1." + minor + " served as HTTP/1.1");
        }
        return HttpVersion.HTTP_1_1;
    }

    private String parseTarget(ByteBuf in, int start, int end) {
        byte first = in.getByte(start);
        int length = end - start;
        if (first == '/') {
            return Bytes.targetText(in, start, length);
        }
        if (first == '*' && length == 1 && HttpMethod.OPTIONS.equals(method)) {
            return "*";
        }
        if (HttpMethod.CONNECT.equals(method)) {
            // authority-form; what a balancer does with CONNECT is the proxy's decision.
            return Bytes.targetText(in, start, length);
        }
        int authorityStart = schemeEnd(in, start, end);
        if (authorityStart < 0) {
            throw fail("BadUri", "request target is neither origin-form nor absolute-form");
        }
        int authorityEnd = authorityStart;
        while (authorityEnd < end) {
            byte b = in.getByte(authorityEnd);
            if (b == '/' || b == '?' || b == '#') {
                break;
            }
            if (b == '@') {
                // RFC 9110 4.2.4: userinfo in an http(s) URI is deprecated and a phishing tool.
                throw fail("BadUri", "userinfo in absolute-form request target");
            }
            authorityEnd++;
        }
        if (authorityEnd == authorityStart) {
            throw fail("BadUri", "absolute-form request target without authority");
        }
        byte[] a = new byte[authorityEnd - authorityStart];
        in.getBytes(authorityStart, a);
        authority = new AsciiString(a, false);
        if (!Bytes.isHostValue(authority)) {
            // It becomes the Host we send: the same bytes a Host field may hold.
            throw fail("BadUri", "invalid authority in absolute-form request target");
        }
        defaultPort = authorityStart - start == "https://".length() ? 443 : 80;
        // RFC 9112 3.2.2: a proxy forwards origin-form to an origin server; backends behind a
        // balancer are origin servers. The authority goes into Host (see finishHead).
        if (authorityEnd == end) {
            return "/";
        }
        String rest = Bytes.targetText(in, authorityEnd, end - authorityEnd);
        return rest.charAt(0) == '/' ? rest : "/" + rest;
    }

    /** Where the authority starts when the target begins with "http://" or "https://", else -1. */
    private static int schemeEnd(ByteBuf in, int start, int end) {
        int i = start;
        for (char c : new char[] {'h', 't', 't', 'p'}) {
            if (i >= end || (in.getByte(i) | 0x20) != c) {
                return -1;
            }
            i++;
        }
        if (i < end && (in.getByte(i) | 0x20) == 's') {
            i++;
        }
        if (end - i < 3 || in.getByte(i) != ':' || in.getByte(i + 1) != '/' || in.getByte(i + 2) != '/') {
            return -1;
        }
        return i + 3;
    }

    // ---- header and trailer fields ----

    private void readFieldLine(ByteBuf in, List<Object> out) {
        int lf = findLf(in);
        int max = limits.maxHeaderSize();
        if (lf < 0) {
            if ((long) fieldBytes + lines.scanned() > max) {
                throw tooLarge("header section too large");
            }
            return;
        }
        int start = in.readerIndex();
        fieldBytes += lf + 1 - start;
        if (fieldBytes > max) {
            throw tooLarge("header section too large");
        }
        int end = contentEnd(in, start, lf);
        if (end == start) {
            in.readerIndex(lf + 1);
            flushPendingField();
            finishHead(out);
            return;
        }
        fieldLine(in, start, end);
        in.readerIndex(lf + 1);
    }

    /** One header or trailer field line, without its line end. */
    private void fieldLine(ByteBuf in, int start, int end) {
        byte first = in.getByte(start);
        if (first == SP || first == HTAB) {
            foldLine(in, start, end);
            return;
        }
        flushPendingField();
        oddNameDropped = false;
        if (++fieldCount > limits.maxHeaders()) {
            throw tooLarge("too many header fields");
        }
        parseField(in, start, end);
    }

    /** Trailers are framed by the body reader and read as header fields are, under the same limits. */
    private final class TrailerFields implements BodyReader.Trailers {
        @Override
        public void trailerLine(ByteBuf in, int start, int end) {
            fieldLine(in, start, end);
        }

        @Override
        public HttpHeaders trailersEnd() {
            flushPendingField();
            HttpHeaders t = fields;
            fields = null;
            return t;
        }
    }

    private void parseField(ByteBuf in, int start, int end) {
        int colon = in.forEachByte(start, end - start, Bytes.TOKEN);
        if (colon < 0) {
            throw fail("MissingHeaderColon", "header line without colon");
        }
        int nameEnd = colon;
        if (in.getByte(colon) != ':') {
            colon = in.indexOf(colon, end, (byte) ':');
            if (colon < 0) {
                throw fail("MissingHeaderColon", "header line without colon");
            }
            nameEnd = colon;
            while (nameEnd > start && Bytes.isOws(in.getByte(nameEnd - 1))) {
                nameEnd--;
            }
            if (nameEnd == start || in.forEachByte(start, nameEnd - start, Bytes.TOKEN) >= 0) {
                oddName(in, start, colon);
                return;
            }
            spaceBeforeColon(in, start, nameEnd);
        }
        if (colon == start) {
            throw fail("EmptyHeader", "empty header name");
        }
        int valueStart = colon + 1;
        while (valueStart < end && Bytes.isOws(in.getByte(valueStart))) {
            valueStart++;
        }
        int valueEnd = end;
        while (valueEnd > valueStart && Bytes.isOws(in.getByte(valueEnd - 1))) {
            valueEnd--;
        }
        AsciiString name = fieldName(in, start, nameEnd - start);
        pendingName = name;
        pendingValue = fieldValue(in, valueStart, valueEnd, name);
        pendingHadControl = pendingValue == null;
        if (pendingHadControl) {
            pendingValue = sanitisedValue(in, valueStart, valueEnd);
        }
    }

    /**
     * RFC 9112 5.1 says 400 for whitespace between a name and its colon, and ALB forwards it.
     * Before a framing field or Host it is the classic "Transfer-Encoding : chunked" that half
     * the parsers in front of us read and half ignore: no mode forwards that. Before any other
     * name every parser agrees on the field, so it is forwarded without the whitespace.
     */
    private void spaceBeforeColon(ByteBuf in, int start, int nameEnd) {
        int length = nameEnd - start;
        if (Bytes.isFramingOrHost(in, start, length)) {
            throw fail("SuspiciousHeader", "whitespace between header name and colon");
        }
        note(DesyncClass.ACCEPTABLE, "SuspiciousHeader", "whitespace between header name and colon");
    }

    /**
     * A field whose name is not a token even without trailing whitespace (control bytes, obs-text,
     * separators, inner spaces). No backend can use it, so it is dropped; ALB forwards such a
     * request, and so do we, unless it hides a NUL or looks like a framing header to a parser
     * that skips the odd bytes (http_desync_guardian's SuspiciousHeader: "\x01Content-Length",
     * "Transfer-Encoding x", a UTF-8 long s for the s).
     */
    private void oddName(ByteBuf in, int start, int colon) {
        if (colon == start) {
            throw fail("EmptyHeader", "empty header name");
        }
        if (in.indexOf(start, colon, (byte) 0) >= 0) {
            throw fail("BadHeader", "NUL in header name");
        }
        byte[] name = new byte[colon - start];
        in.getBytes(start, name);
        if (Bytes.resemblesFramingName(name, true)) {
            note(DesyncClass.AMBIGUOUS, "SuspiciousHeader", "header name resembles a framing header");
        } else {
            note(DesyncClass.ACCEPTABLE, "NonCompliantHeader", "header name is not a token (field dropped)");
        }
        oddNameDropped = true;
    }

    /**
     * An obs-fold line. RFC 9112 5.2 allows replacing it with SP, but parsers disagree on it
     * (some see a new header that starts with whitespace), so it is SEVERE: only MONITOR gets
     * here, and unfolds it.
     */
    private void foldLine(ByteBuf in, int start, int end) {
        if (oddNameDropped && pendingName == null) {
            // It continues a dropped field; parsers that do not unfold see a field of its own.
            note(DesyncClass.SEVERE, "MultilineHeader", "obs-fold line continues a header");
            return;
        }
        if (pendingName == null) {
            // RFC 9112 2.2: whitespace before the first field line is an attempt to hide a field.
            throw fail("MultilineHeader", "whitespace at the start of the first header line");
        }
        note(DesyncClass.SEVERE, "MultilineHeader", "obs-fold line continues a header");
        int valueStart = start;
        while (valueStart < end && Bytes.isOws(in.getByte(valueStart))) {
            valueStart++;
        }
        int valueEnd = end;
        while (valueEnd > valueStart && Bytes.isOws(in.getByte(valueEnd - 1))) {
            valueEnd--;
        }
        if (valueStart == valueEnd) {
            return;
        }
        AsciiString more = fieldValue(in, valueStart, valueEnd, pendingName);
        if (more == null) {
            pendingHadControl = true;
            more = sanitisedValue(in, valueStart, valueEnd);
        }
        pendingValue = pendingValue.isEmpty() ? more : pendingValue.concat(" ").concat(more);
    }

    /** The value's bytes, or null when it holds control bytes (classified here). */
    private AsciiString fieldValue(ByteBuf in, int start, int end, AsciiString name) {
        int bad = in.forEachByte(start, end - start, Bytes.FIELD_VALUE);
        if (bad >= 0) {
            // RFC 9110 5.5: CR, LF and NUL are dangerous (SEVERE; MONITOR replaces them with SP).
            // Other controls are merely invalid: ALB forwards them, we forward them as SP.
            int nul = in.indexOf(bad, end, (byte) 0);
            note(nul >= 0 ? DesyncClass.SEVERE : DesyncClass.ACCEPTABLE, nul >= 0 ? "BadHeader" : "NonCompliantHeader",
                    Bytes.describeControl(in.getByte(nul >= 0 ? nul : bad)) + " in value of a header field");
            return null;
        }
        byte[] value = new byte[end - start];
        in.getBytes(start, value);
        return new AsciiString(value, false);
    }

    /** RFC 9110 5.5 lets a recipient replace CR, LF, NUL (and we do any CTL) with SP. */
    private static AsciiString sanitisedValue(ByteBuf in, int start, int end) {
        byte[] value = new byte[end - start];
        in.getBytes(start, value);
        for (int i = 0; i < value.length; i++) {
            if (Bytes.isControl(value[i])) {
                value[i] = SP;
            }
        }
        return new AsciiString(value, false);
    }

    private AsciiString fieldName(ByteBuf in, int start, int length) {
        AsciiString common = FieldNames.of(in, start, length);
        if (common != null) {
            return common; // a real field name, no lookalike
        }
        byte[] name = new byte[length];
        in.getBytes(start, name);
        AsciiString result = new AsciiString(name, false);
        if (length >= 12 && length <= 20 && state == State.HEADERS) {
            checkLookalike(name, result);
        }
        return result;
    }

    /**
     * http_desync_guardian's SuspiciousHeader: a valid token such as "Transfer_Encoding" or
     * "Content-Length-" is not a framing header to us, but some normalising parser behind us may
     * think it is.
     */
    private void checkLookalike(byte[] name, AsciiString asString) {
        if (Bytes.resemblesFramingName(name, false)
                && !asString.contentEqualsIgnoreCase(HttpHeaderNames.TRANSFER_ENCODING)
                && !asString.contentEqualsIgnoreCase(HttpHeaderNames.CONTENT_LENGTH)) {
            note(DesyncClass.AMBIGUOUS, "SuspiciousHeader", "header name resembles a framing header");
        }
    }

    /** Adds the field read last, now that no obs-fold line can extend it. */
    private void flushPendingField() {
        AsciiString name = pendingName;
        if (name == null) {
            return;
        }
        AsciiString value = pendingValue;
        pendingName = null;
        pendingValue = null;
        if (state == State.BODY) {
            if (fields == null) {
                fields = TRAILERS.newHeaders();
            }
            fields.add(name, value);
            return;
        }
        if (name.contentEqualsIgnoreCase(HttpHeaderNames.CONTENT_LENGTH)) {
            requireNoControl(name);
            addContentLength(value);
        } else if (name.contentEqualsIgnoreCase(HttpHeaderNames.TRANSFER_ENCODING)) {
            requireNoControl(name);
            addTransferEncoding(value);
        } else if (name.contentEqualsIgnoreCase(HttpHeaderNames.HOST)) {
            if (!Bytes.isHostValue(value)) {
                // RFC 9112 3.2: a Host with an invalid value MUST be answered with 400; one with
                // "/", "@" or spaces is routed differently by every parser that reads it.
                note(DesyncClass.SEVERE, "BadHeader", "invalid Host value");
            }
            if (++hostCount > 1) {
                // RFC 9112 3.2: more than one Host MUST be answered with 400.
                note(DesyncClass.SEVERE, "BadHeader", "more than one Host header");
            } else {
                host = value;
            }
        } else if (name.contentEqualsIgnoreCase(HttpHeaderNames.UPGRADE)) {
            upgrade = true;
        }
        fields.add(name, value);
    }

    private void requireNoControl(AsciiString name) {
        if (pendingHadControl) {
            // Even MONITOR cannot forward this: with the byte replaced we would frame the body one
            // way while whoever sent it meant another.
            throw fail("BadHeader", "control byte in a framing header");
        }
    }

    private void addContentLength(AsciiString value) {
        long length = Framing.contentLength(value);
        if (length == Framing.INVALID) {
            throw fail("BadContentLength", "Content-Length is not a decimal number");
        }
        if (length == Framing.CONFLICTING || (contentLength >= 0 && contentLength != length)) {
            throw fail("MultipleContentLength", "Content-Length values disagree");
        }
        if (Framing.isList(value)) {
            // RFC 9112 6.3 lets a recipient take "5, 5" as 5, but guardian calls a list in one
            // field severe: parsers that take the first number, or none, are common. MONITOR
            // forwards it as one value.
            note(DesyncClass.SEVERE, "BadContentLength", "Content-Length is a list");
        }
        if (contentLength >= 0 || Framing.isList(value)) {
            // RFC 9112 6.3 allows replacing identical duplicates with one value; guardian calls
            // them ambiguous because they show that someone in front combined fields.
            note(DesyncClass.AMBIGUOUS, "DuplicateContentLength", "duplicate Content-Length normalised");
            contentLengthDuplicated = true;
        }
        contentLength = length;
    }

    private void addTransferEncoding(AsciiString value) {
        int result = Framing.transferEncoding(value, chunkedLast, teElements);
        transferEncoding = true;
        switch (result) {
            case Framing.LAST_IS_CHUNKED -> chunkedLast = true;
            case Framing.LAST_IS_OTHER -> chunkedLast = false;
            case Framing.CHUNKED_TWICE -> throw fail("MultipleTransferEncodingChunked",
                    "chunked applied more than once");
            case Framing.CHUNKED_NOT_LAST -> throw fail("BadTransferEncoding",
                    "Transfer-Encoding does not end in chunked");
            default -> throw fail("BadTransferEncoding", "malformed Transfer-Encoding");
        }
    }

    private void finishHead(List<Object> out) {
        boolean chunked = false;
        if (transferEncoding) {
            if (!chunkedLast) {
                // RFC 9112 6.3: without a final chunked the request's length cannot be known.
                throw fail("BadTransferEncoding", "Transfer-Encoding does not end in chunked");
            }
            if (teElements[1] > 0) {
                // Parameters on chunked mean nothing (RFC 9112 7.1 defines none), and guardian
                // calls them compliant; but a parser that compares the whole value would not see
                // chunked, nor would Netty's encoder towards the backend. Forward without them.
                note(DesyncClass.ACCEPTABLE, "BadTransferEncoding", "parameters on chunked removed");
                fields.set(HttpHeaderNames.TRANSFER_ENCODING, Framing.withoutParameters(fields.getAll(HttpHeaderNames.TRANSFER_ENCODING)));
            }
            if (contentLength >= 0) {
                // RFC 9112 6.1 allows serving this by Transfer-Encoding alone, and ALB calls it
                // ambiguous. We make it SEVERE: it is the canonical CL.TE/TE.CL smuggling shape,
                // no legitimate client sends it, and a balancer cannot know which of the two the
                // server behind it obeys. MONITOR forwards it chunked without Content-Length
                // (RFC 9112 6.3 says to remove it) and closes after it, as 6.1 requires.
                note(DesyncClass.SEVERE, "BothTeClPresent", "both Content-Length and Transfer-Encoding");
                mustClose = true;
                fields.remove(HttpHeaderNames.CONTENT_LENGTH);
                contentLength = -1;
            }
            if (version == HttpVersion.HTTP_1_0) {
                // RFC 9112 6.1: treat the framing as faulty and close after the message.
                note(DesyncClass.AMBIGUOUS, "UndefinedTransferEncodingSemantics",
                        "Transfer-Encoding in an HTTP/1.0 request");
                mustClose = true;
            }
            chunked = true;
        } else if (contentLengthDuplicated) {
            fields.set(HttpHeaderNames.CONTENT_LENGTH, AsciiString.of(Long.toString(contentLength)));
        }
        checkHost();
        if (http09 && (chunked || contentLength >= 0)) {
            // HTTP/0.9 had no header fields, let alone framing: guardian's ambiguous.
            note(DesyncClass.AMBIGUOUS, "UndefinedContentLengthSemantics", "framing header in an HTTP/0.9 request");
        }
        if ((chunked || contentLength > 0)
                && (HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method))) {
            // guardian's UndefinedContentLengthSemantics: a body the backend may not expect to read.
            note(DesyncClass.AMBIGUOUS, "UndefinedContentLengthSemantics", "GET or HEAD request with a body");
        }
        long maxBody = limits.maxBodySize();
        if (maxBody > 0 && contentLength > maxBody) {
            throw new Rejection(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "body too large", desyncClass);
        }
        closeAfter = mustClose || mode.closesAfter(desyncClass);
        out.add(new DecodedRequest(version, method, uri, fields, desyncClass, desyncReason, closeAfter));
        fields = null;
        if (chunked) {
            fieldCount = 0; // the trailers' own count
            body.chunked();
            state = State.BODY;
        } else if (contentLength > 0) {
            body.fixed(contentLength);
            state = State.BODY;
        } else {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
            endRequest();
        }
    }

    private void checkHost() {
        if (authority != null) {
            if (hostCount == 0) {
                fields.set(HttpHeaderNames.HOST, authority);
            } else if (!Bytes.sameAuthority(authority, host, defaultPort)) {
                // RFC 9112 3.2.2 says to ignore Host here; but a Host that disagrees is how
                // requests are routed one way by us and another way behind us.
                note(DesyncClass.SEVERE, "BadHeader", "Host disagrees with the request target's authority");
                fields.set(HttpHeaderNames.HOST, authority);
            } else if (hostCount > 1) {
                fields.set(HttpHeaderNames.HOST, authority);
            }
        } else if (hostCount == 0 && version == HttpVersion.HTTP_1_1) {
            // RFC 9112 3.2: a server MUST respond with 400 to an HTTP/1.1 request without Host.
            note(DesyncClass.SEVERE, "BadHeader", "HTTP/1.1 request without Host");
        }
    }

    // ---- helpers ----

    private void startRequest() {
        desyncClass = DesyncClass.COMPLIANT;
        desyncReason = "compliant";
        mustClose = false;
        closeAfter = false;
        method = null;
        uri = null;
        version = null;
        authority = null;
        fields = new FlatHeaders();
        fieldBytes = 0;
        fieldCount = 0;
        pendingName = null;
        pendingValue = null;
        pendingHadControl = false;
        hostCount = 0;
        host = null;
        contentLength = -1;
        contentLengthDuplicated = false;
        transferEncoding = false;
        chunkedLast = false;
        teElements[0] = 0;
        teElements[1] = 0;
        http09 = false;
        oddNameDropped = false;
        upgrade = false;
    }

    private void endRequest() {
        if (closeAfter) {
            state = State.DISCARD;
        } else if (upgrade) {
            state = State.UPGRADE_PENDING;
        } else {
            state = State.REQUEST_LINE;
        }
    }

    /** The index of the LF ending the current line, or -1 while it has not all arrived ({@link LineFinder}). */
    private int findLf(ByteBuf in) {
        int lf = lines.next(in);
        if (lf == LineFinder.BARE_CR) {
            throw fail("BadHeader", "CR not followed by LF");
        }
        return lf;
    }

    /** Where the content of the line ending at {@code lf} ends: before its CR, if it has one. */
    private int contentEnd(ByteBuf in, int start, int lf) {
        if (lf > start && in.getByte(lf - 1) == CR) {
            return lf - 1;
        }
        note(DesyncClass.AMBIGUOUS, "NonCrLfLineTermination", "line ended by LF without CR");
        return lf;
    }

    /**
     * Records what was noticed; throws when the mode rejects the request's class. The reason is
     * {@code code: detail}, the code one of ALB's classification reasons (the access log's
     * classification_reason, see {@link #classificationCode}), the detail for people.
     */
    private void note(DesyncClass noticed, String code, String detail) {
        String reason = code + ": " + detail;
        if (noticed.compareTo(desyncClass) > 0) {
            desyncClass = noticed;
            desyncReason = reason;
        }
        if (mode.rejects(noticed)) {
            throw new Rejection(HttpResponseStatus.BAD_REQUEST, reason, noticed);
        }
    }

    /** A request no mode forwards: it has no single reading of where it ends. */
    private static Rejection fail(String code, String detail) {
        return new Rejection(HttpResponseStatus.BAD_REQUEST, code + ": " + detail, DesyncClass.SEVERE);
    }

    /**
     * The ALB classification code a desync reason starts with: one of AWS's documented list
     * (AmbiguousUri, BadHeader, BothTeClPresent...) or of the parsing codes of AWS's
     * http_desync_guardian, which ALB runs (NonCrLfLineTermination, MultilineHeader,
     * MissingHeaderColon, MissingUri); null for a reason that has none, such as a size limit's.
     */
    public static String classificationCode(String reason) {
        if (reason == null) {
            return null;
        }
        int colon = reason.indexOf(": ");
        return colon > 0 && reason.lastIndexOf(' ', colon) < 0 ? reason.substring(0, colon) : null;
    }

    private Rejection tooLarge(String reason) {
        return new Rejection(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason,
                desyncClass == null ? DesyncClass.COMPLIANT : desyncClass);
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    /** Unwinds the decoder to the rejection; rare, and without a stack trace it is cheap. */
    private static final class Rejection extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient HttpResponseStatus status;
        final DesyncClass desyncClass;

        Rejection(HttpResponseStatus status, String reason, DesyncClass desyncClass) {
            super(reason, null, false, false);
            this.status = status;
            this.desyncClass = desyncClass;
        }
    }
}
