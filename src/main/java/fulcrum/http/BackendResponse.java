package fulcrum.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.util.function.BiConsumer;

/**
 * A backend's response head as {@link ResponseDecoder} read it. Only the fields the proxy acts on
 * are parsed into {@link #headers()}: framing (Content-Length, Transfer-Encoding) and the
 * hop-by-hop fields, including any named in Connection. Every other field stays the bytes the
 * backend sent and is copied to the client as they are, after the status line, so a response
 * costs no header objects for Date, Server, Content-Type and the like.
 */
public final class BackendResponse extends DefaultHttpResponse {
    private static final short CRLF = ('\r' << 8) | '\n';

    private final byte[] head;
    private final int statusStart;
    private final int statusEnd;
    /** Pairs of [start, end) in {@link #head}, each one or more field lines without the last CRLF. */
    private final int[] spans;
    private final int spanCount;
    /** Set once the head's bytes are read for the last time: its arrays may then hold the next response's. */
    private volatile boolean headDone;

    BackendResponse(HttpVersion version, HttpResponseStatus status, HttpHeaders parsed, byte[] head,
                    int statusStart, int statusEnd, int[] spans, int spanCount) {
        super(version, status, parsed);
        this.head = head;
        this.statusStart = statusStart;
        this.statusEnd = statusEnd;
        this.spans = spans;
        this.spanCount = spanCount;
    }

    /**
     * Writes the status line, with the backend's own code and reason phrase, and the fields kept
     * as bytes; the parsed {@link #headers()} and the blank line are the encoder's to write.
     */
    public void writeHead(ByteBuf buf) {
        checkHead();
        buf.writeBytes(protocolVersion() == HttpVersion.HTTP_1_0 ? HTTP_1_0 : HTTP_1_1);
        buf.writeBytes(head, statusStart, statusEnd - statusStart);
        buf.writeShort(CRLF);
        for (int i = 0; i < spanCount; i += 2) {
            buf.writeBytes(head, spans[i], spans[i + 1] - spans[i]);
            buf.writeShort(CRLF);
        }
        headDone = true;
    }

    /**
     * Says the head's bytes will not be read again ({@link #writeHead} says it itself), so the
     * decoder may read the next response into them.
     */
    public void doneWithHead() {
        headDone = true;
    }

    boolean headDone() {
        return headDone;
    }

    private void checkHead() {
        if (headDone) {
            throw new IllegalStateException("head already done with; its bytes may be another response's now");
        }
    }

    /**
     * Calls {@code field} with the name and value (surrounding whitespace trimmed) of each field
     * kept as bytes, for a client that takes fields rather than a head (HTTP/2).
     */
    public void forEachKeptField(BiConsumer<AsciiString, AsciiString> field) {
        forEachKeptField(false, field);
    }

    /**
     * As {@link #forEachKeptField(BiConsumer)}, with every name in lower case when {@code lowerNames}
     * (HTTP/2's): a common name is a shared constant, another one a lower-cased copy.
     */
    public void forEachKeptField(boolean lowerNames, BiConsumer<AsciiString, AsciiString> field) {
        checkHead();
        for (int i = 0; i < spanCount; i += 2) {
            int end = spans[i + 1];
            int line = spans[i];
            while (line < end) {
                int next = line;
                while (next < end && !(head[next] == '\r' && next + 1 < end && head[next + 1] == '\n')) {
                    next++;
                }
                int colon = line;
                while (colon < next && head[colon] != ':') {
                    colon++;
                }
                if (colon < next) {
                    int v = colon + 1;
                    int ve = next;
                    while (v < ve && (head[v] == ' ' || head[v] == '\t')) {
                        v++;
                    }
                    while (ve > v && (head[ve - 1] == ' ' || head[ve - 1] == '\t')) {
                        ve--;
                    }
                    field.accept(name(lowerNames, line, colon - line), new AsciiString(head, v, ve - v, true));
                }
                line = next + 2;
            }
        }
    }

    private AsciiString name(boolean lower, int start, int length) {
        if (!lower) {
            return new AsciiString(head, start, length, true);
        }
        AsciiString shared = FieldNames.lowerCase(head, start, length);
        return shared != null ? shared : new AsciiString(head, start, length, true).toLowerCase();
    }

    private static final byte[] HTTP_1_0 = {'H', 'T', 'T', 'P', '/', '1', '.', '0', ' '};
    private static final byte[] HTTP_1_1 = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' '};
}
