package fulcrum.http;

import static fulcrum.http.Bytes.CR;
import static fulcrum.http.Bytes.LF;

import io.netty.buffer.ByteBuf;

/**
 * Finds where the line at a cumulation's reader index ends, for the request head and for chunked
 * framing in both directions, with the one rule about CR they share: a CR followed by anything
 * but LF is refused as soon as that byte is here. No parser agrees on what a bare CR ends, and a
 * peer that sends one may never send the LF we would wait for.
 *
 * <p>It remembers how far it has looked, so each byte of a line that arrives slowly is looked at
 * once.
 */
final class LineFinder {
    /** {@link #next} result: the line has not all arrived. */
    static final int INCOMPLETE = -1;
    /** {@link #next} result: a CR not followed by LF. */
    static final int BARE_CR = -2;

    /** Bytes after the reader index known to hold neither LF nor CR. */
    private int scanned;

    /** The index of the LF ending the line at the reader index, {@link #INCOMPLETE} or {@link #BARE_CR}. */
    int next(ByteBuf in) {
        int from = in.readerIndex() + scanned;
        int to = in.writerIndex();
        int lf = in.indexOf(from, to, LF);
        int crEnd = lf < 0 ? to : lf - 1;
        int cr = crEnd > from ? in.indexOf(from, crEnd, CR) : -1;
        if (cr >= 0 && cr < to - 1) {
            return BARE_CR;
        }
        // A CR as the last byte so far may be half of a CRLF: look at it again with the next byte.
        scanned = lf >= 0 ? 0 : (cr >= 0 ? cr : to) - in.readerIndex();
        return lf;
    }

    /** How many bytes of the unfinished line have been looked at: its length so far, near enough. */
    int scanned() {
        return scanned;
    }

    /** The reader index moved elsewhere than past a line {@link #next} found. */
    void reset() {
        scanned = 0;
    }
}
