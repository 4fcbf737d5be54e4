package fulcrum.http;

import static fulcrum.http.Bytes.CR;
import static fulcrum.http.Bytes.LF;
import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * Reads one message body after its head, for requests and responses alike: a fixed length, a
 * chunked body (chunk extensions and trailers included), or everything until the connection
 * closes. The body is emitted as {@code HttpContent} pieces, retained slices of what was read,
 * then one {@code LastHttpContent} carrying any trailers; nothing is allocated per chunk but the
 * piece itself.
 *
 * <p>What a direction tolerates is its {@link Policy}, stated where each decoder builds its
 * reader. What no direction tolerates: a CR not followed by LF anywhere in chunked framing, which
 * is rejected as soon as the byte after it arrives ({@link LineFinder}, the request head's rule).
 *
 * <p>Trailer field lines are framed here and parsed by the decoder ({@link Trailers}), so each
 * direction reads them as it reads its own head fields.
 */
final class BodyReader {
    /** How each line of chunked framing may end. */
    enum LineEnds {
        /** Only CRLF. */
        CRLF,
        /** CRLF or a bare LF (RFC 9112 2.2 lets a recipient accept one). */
        CRLF_OR_LF
    }

    /** How much is checked after a chunk size. */
    enum ChunkExtensions {
        /** {@code *( BWS ";" ... )} with no control bytes: nothing may hide behind the size. */
        STRICT,
        /** Whatever follows the size starts with ";" or whitespace (servers that pad sizes). */
        LENIENT
    }

    /**
     * One direction's strictness.
     *
     * @param maxChunkLine    the most bytes a chunk-size line may take, extensions included
     * @param maxTrailerBytes the most bytes the trailer section may take, line ends included
     * @param maxBodySize     the most bytes a chunked body may carry, 0 for no limit (a fixed
     *                        length is the decoder's to check before it emits the head)
     */
    record Policy(LineEnds lineEnds, ChunkExtensions extensions, int maxChunkLine, int maxTrailerBytes,
                  long maxBodySize) {
        Policy {
            requireNonNull(lineEnds, "lineEnds");
            requireNonNull(extensions, "extensions");
            if (maxChunkLine <= 0 || maxTrailerBytes <= 0 || maxBodySize < 0) {
                throw new IllegalArgumentException("limits: " + maxChunkLine + ", " + maxTrailerBytes + ", "
                                                   + maxBodySize + " (expected: > 0, > 0, >= 0)");
            }
        }
    }

    /** Receives the trailer section, one field line at a time; implemented by the decoder. */
    interface Trailers {
        /** One field line, {@code in[start, end)} without its line end; may throw to refuse it. */
        void trailerLine(ByteBuf in, int start, int end);

        /** The blank line: the trailers read, or null for none. */
        HttpHeaders trailersEnd();
    }

    /** What was wrong, for the decoder to answer in its direction's terms. */
    enum Problem {
        /** No single reading of where the body ends. */
        MALFORMED,
        /** Over {@link Policy#maxBodySize}. */
        BODY_TOO_LARGE,
        /** Over {@link Policy#maxTrailerBytes}. */
        TRAILERS_TOO_LARGE
    }

    /** The body cannot be read on; cheap, without a stack trace. */
    static final class BadBody extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final Problem problem;

        BadBody(Problem problem, String reason) {
            super(reason, null, false, false);
            this.problem = problem;
        }
    }

    private enum State {
        IDLE, FIXED, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILERS, UNTIL_CLOSE
    }

    private final Policy policy;
    private final Trailers trailers;
    private State state = State.IDLE;
    private final LineFinder lines = new LineFinder();
    private long remaining;
    private long bodyBytes;
    private int trailerBytes;

    BodyReader(Policy policy, Trailers trailers) {
        this.policy = requireNonNull(policy, "policy");
        this.trailers = requireNonNull(trailers, "trailers");
    }

    /** A body of exactly {@code length} bytes, more than 0, follows. */
    void fixed(long length) {
        start(State.FIXED);
        remaining = length;
    }

    /** A chunked body follows. */
    void chunked() {
        start(State.CHUNK_SIZE);
    }

    /** The body ends when the connection does ({@link #closed}). */
    void untilClose() {
        start(State.UNTIL_CLOSE);
    }

    /** Whether the body being read ends with the connection. */
    boolean endsAtClose() {
        return state == State.UNTIL_CLOSE;
    }

    /** Forgets the body being read (the decoder gave up on the message). */
    void reset() {
        state = State.IDLE;
        lines.reset();
    }

    /**
     * Reads what has arrived. Returns after each piece of content it adds to {@code out}, and
     * true once it has added the {@code LastHttpContent}: the bytes after it are the next message's.
     *
     * @throws BadBody when the framing cannot be read on
     */
    boolean read(ByteBuf in, List<Object> out) {
        while (true) {
            switch (state) {
                case FIXED -> {
                    return readFixed(in, out);
                }
                case CHUNK_SIZE -> {
                    if (!readChunkSize(in)) {
                        return false;
                    }
                }
                case CHUNK_DATA -> {
                    readChunkData(in, out);
                    return false;
                }
                case CHUNK_DATA_END -> {
                    if (!readChunkDataEnd(in)) {
                        return false;
                    }
                }
                case TRAILERS -> {
                    return readTrailers(in, out);
                }
                case UNTIL_CLOSE -> {
                    if (in.isReadable()) {
                        out.add(new DefaultHttpContent(in.readRetainedSlice(in.readableBytes())));
                    }
                    return false;
                }
                default -> throw new IllegalStateException("no body being read");
            }
        }
    }

    /** The connection closed: ends a body delimited by it; returns whether there was one. */
    boolean closed(ByteBuf in, List<Object> out) {
        if (state != State.UNTIL_CLOSE) {
            return false;
        }
        read(in, out);
        out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        state = State.IDLE;
        return true;
    }

    private void start(State first) {
        state = first;
        lines.reset();
        remaining = 0;
        bodyBytes = 0;
        trailerBytes = 0;
    }

    private boolean readFixed(ByteBuf in, List<Object> out) {
        int n = (int) Math.min(remaining, in.readableBytes());
        if (n == 0) {
            return false;
        }
        ByteBuf piece = in.readRetainedSlice(n);
        remaining -= n;
        if (remaining > 0) {
            out.add(new DefaultHttpContent(piece));
            return false;
        }
        out.add(new DefaultLastHttpContent(piece, EmptyHttpHeaders.INSTANCE));
        state = State.IDLE;
        return true;
    }

    private boolean readChunkSize(ByteBuf in) {
        int lf = findLf(in);
        int max = policy.maxChunkLine();
        if (lf < 0) {
            if (lines.scanned() > max) {
                throw malformed("chunk-size line too long");
            }
            return false;
        }
        int start = in.readerIndex();
        if (lf - start > max) {
            throw malformed("chunk-size line too long");
        }
        int end = contentEnd(in, start, lf, "chunk-size line not ended by CRLF");
        long size = 0;
        int i = start;
        for (; i < end; i++) {
            int digit = Bytes.hex(in.getByte(i));
            if (digit < 0) {
                break;
            }
            if (size > (Long.MAX_VALUE >> 4)) {
                throw malformed("chunk size overflows");
            }
            size = size << 4 | digit;
        }
        if (i == start) {
            throw malformed("chunk size is not a hexadecimal number");
        }
        if (i < end) {
            extensions(in, i, end);
        }
        in.readerIndex(lf + 1);
        if (size == 0) {
            state = State.TRAILERS;
            trailerBytes = 0;
            return true;
        }
        long maxBody = policy.maxBodySize();
        if (maxBody > 0 && size > maxBody - bodyBytes) {
            throw new BadBody(Problem.BODY_TOO_LARGE, "body too large");
        }
        if (size > Long.MAX_VALUE - bodyBytes) {
            throw malformed("chunked body length overflows");
        }
        bodyBytes += size;
        remaining = size;
        state = State.CHUNK_DATA;
        return true;
    }

    /**
     * chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ). Extensions are not forwarded (the
     * encoder on the other side writes its own chunks), but they may not hide bytes.
     */
    private void extensions(ByteBuf in, int i, int end) {
        if (policy.extensions() == ChunkExtensions.LENIENT) {
            byte b = in.getByte(i);
            if (b != ';' && !Bytes.isOws(b)) {
                throw malformed("chunk size is not a hexadecimal number");
            }
            return;
        }
        while (i < end && Bytes.isOws(in.getByte(i))) {
            i++;
        }
        if (i == end || in.getByte(i) != ';') {
            throw malformed("chunk size is not a hexadecimal number");
        }
        if (in.forEachByte(i, end - i, Bytes.FIELD_VALUE) >= 0) {
            throw malformed("control byte in chunk extension");
        }
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

    /** The line end after chunk data; anything else means the data was longer than its size. */
    private boolean readChunkDataEnd(ByteBuf in) {
        if (!in.isReadable()) {
            return false;
        }
        int at = in.readerIndex();
        byte first = in.getByte(at);
        if (first == LF && policy.lineEnds() == LineEnds.CRLF_OR_LF) {
            in.skipBytes(1);
            state = State.CHUNK_SIZE;
            return true;
        }
        if (first != CR) {
            throw malformed("chunk data longer than its size");
        }
        if (in.readableBytes() < 2) {
            return false;
        }
        if (in.getByte(at + 1) != LF) {
            throw malformed("chunk data longer than its size");
        }
        in.skipBytes(2);
        state = State.CHUNK_SIZE;
        return true;
    }

    private boolean readTrailers(ByteBuf in, List<Object> out) {
        int max = policy.maxTrailerBytes();
        while (true) {
            int lf = findLf(in);
            if (lf < 0) {
                if ((long) trailerBytes + lines.scanned() > max) {
                    throw new BadBody(Problem.TRAILERS_TOO_LARGE, "header section too large");
                }
                return false;
            }
            int start = in.readerIndex();
            trailerBytes += lf + 1 - start;
            if (trailerBytes > max) {
                throw new BadBody(Problem.TRAILERS_TOO_LARGE, "header section too large");
            }
            int end = contentEnd(in, start, lf, "chunked framing line not ended by CRLF");
            if (end == start) {
                in.readerIndex(lf + 1);
                HttpHeaders t = trailers.trailersEnd();
                out.add(t == null ? LastHttpContent.EMPTY_LAST_CONTENT
                                  : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, t));
                state = State.IDLE;
                return true;
            }
            trailers.trailerLine(in, start, end);
            in.readerIndex(lf + 1);
        }
    }

    /** The index of the LF ending the line at the reader index, or -1 while it has not all arrived. */
    private int findLf(ByteBuf in) {
        int lf = lines.next(in);
        if (lf == LineFinder.BARE_CR) {
            throw malformed("CR not followed by LF");
        }
        return lf;
    }

    /** Where the content of the line ending at {@code lf} ends, by the policy's line ends. */
    private int contentEnd(ByteBuf in, int start, int lf, String notCrlf) {
        if (lf > start && in.getByte(lf - 1) == CR) {
            return lf - 1;
        }
        if (policy.lineEnds() == LineEnds.CRLF_OR_LF) {
            return lf;
        }
        throw malformed(notCrlf);
    }

    private static BadBody malformed(String reason) {
        return new BadBody(Problem.MALFORMED, reason);
    }
}
