package fulcrum.config;

import java.time.Duration;

/**
 * HTTP/2 from clients on one listener: whether it is offered (and WebSocket over it, RFC 8441), and
 * the limits each connection is held to (see reference.conf for why each default is what it is).
 */
public record H2Settings(boolean enabled, int maxConcurrentStreams, int maxHeaderListSize, int maxFrameSize,
                         int initialWindowSize, int maxResets, Duration resetWindow, int maxQueuedControlFrames,
                         int maxSmallContinuationFrames, boolean websocket) {

    static H2Settings from(Reader r) {
        Duration resetWindow = r.duration("reset-window", false);
        if (resetWindow.toSeconds() < 1) {
            throw r.error("reset-window", resetWindow, "at least 1s");
        }
        return new H2Settings(r.bool("enabled"), r.integer("max-concurrent-streams", 1, 10_000),
                              (int) r.bytes("max-header-list-size", 1024, 1 << 24),
                              // RFC 9113 6.5.2: SETTINGS_MAX_FRAME_SIZE is between 2^14 and 2^24-1.
                              (int) r.bytes("max-frame-size", 1 << 14, (1 << 24) - 1),
                              (int) r.bytes("initial-window-size", 1024, Integer.MAX_VALUE),
                              r.integer("max-resets", 1, Integer.MAX_VALUE), resetWindow,
                              r.integer("max-queued-control-frames", 1, Integer.MAX_VALUE),
                              r.integer("max-small-continuation-frames", 1, Integer.MAX_VALUE),
                              r.bool("websocket"));
    }
}
