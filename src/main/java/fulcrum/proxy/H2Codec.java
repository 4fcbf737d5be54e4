package fulcrum.proxy;

import fulcrum.config.H2Settings;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;

/** The HTTP/2 codec of a client connection, with the listener's limits and the attack guards. */
final class H2Codec {
    private H2Codec() {
    }

    static Http2FrameCodec forClients(H2Settings s) {
        Http2Settings initial = new Http2Settings()
                .maxConcurrentStreams(s.maxConcurrentStreams())
                .maxHeaderListSize(s.maxHeaderListSize())
                .maxFrameSize(s.maxFrameSize())
                .initialWindowSize(s.initialWindowSize());
        if (s.websocket()) {
            // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): a browser holding this connection opens wss:// on it.
            initial.connectProtocolEnabled(true);
        }
        return Http2FrameCodecBuilder.forServer()
                .initialSettings(initial)
                .validateHeaders(true)
                // Rapid reset (CVE-2023-44487): too many RST_STREAMs in a window get GOAWAY ENHANCE_YOUR_CALM.
                .decoderEnforceMaxRstFramesPerWindow(s.maxResets(), (int) s.resetWindow().toSeconds())
                // SETTINGS and PING floods: acks a client does not read pile up to this, then the connection closes.
                .encoderEnforceMaxQueuedControlFrames(s.maxQueuedControlFrames())
                .decoderEnforceMaxSmallContinuationFrames(s.maxSmallContinuationFrames())
                // Open streams finish after a GOAWAY; the listener's shutdown grace bounds the wait.
                .gracefulShutdownTimeoutMillis(-1)
                .build();
    }
}
