package fulcrum.http;

import static java.util.Objects.requireNonNull;

/**
 * Bounds on what {@link RequestDecoder} accepts from one client, bound from a listener's
 * settings (reference.conf documents each one and its default).
 *
 * @param maxRequestLine bytes of the request line, line ending excluded (414 beyond it)
 * @param maxHeaderSize bytes of all header lines together, line endings included (431 beyond it);
 *                      trailers of a chunked body get the same allowance
 * @param maxHeaders number of header lines (431 beyond it); trailers get the same allowance
 * @param maxBodySize bytes of a request body; 0 means no limit (413 beyond it)
 * @param maxChunkLine bytes of a chunk-size line including extensions (400 beyond it)
 * @param mode what to do with ambiguous and severe requests
 */
public record RequestLimits(int maxRequestLine, int maxHeaderSize, int maxHeaders, long maxBodySize,
                            int maxChunkLine, DesyncMode mode) {

    public RequestLimits {
        requirePositive(maxRequestLine, "maxRequestLine");
        requirePositive(maxHeaderSize, "maxHeaderSize");
        requirePositive(maxHeaders, "maxHeaders");
        requirePositive(maxChunkLine, "maxChunkLine");
        if (maxBodySize < 0) {
            throw new IllegalArgumentException("maxBodySize: " + maxBodySize + " (expected: >= 0)");
        }
        requireNonNull(mode, "mode");
    }

    private static void requirePositive(long value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
    }
}
