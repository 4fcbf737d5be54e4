package fulcrum.health;

import fulcrum.config.StatusMatcher;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http2.Http2Exception;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.Locale;

/** What one check found; {@code reason} is what an operator reads in the transition log line. */
record ProbeResult(boolean healthy, String reason) {

    static ProbeResult passed(String reason) {
        return new ProbeResult(true, reason);
    }

    static ProbeResult failed(String reason) {
        return new ProbeResult(false, reason);
    }

    static ProbeResult status(int code, StatusMatcher matcher) {
        return matcher.matches(code)
               ? passed("status " + code)
               : failed("status " + code + " not in " + matcher);
    }

    static ProbeResult timeout(Duration timeout) {
        return failed("timeout after " + format(timeout));
    }

    /** The failure a connection error means, in words an operator greps for. */
    static ProbeResult of(Throwable cause, Duration timeout) {
        if (cause instanceof ConnectTimeoutException) {
            return timeout(timeout);
        }
        if (cause instanceof UnresolvedAddressException || cause instanceof UnknownHostException) {
            return failed("unresolved address");
        }
        String message = cause.getMessage() == null ? "" : cause.getMessage().toLowerCase(Locale.ROOT);
        if (message.contains("connection refused")) {
            return failed("connection refused");
        }
        if (message.contains("connection reset")) {
            return failed("connection reset");
        }
        if (cause instanceof NoRouteToHostException || message.contains("no route to host")) {
            return failed("no route to host");
        }
        if (cause instanceof Http2Exception) {
            // An HTTP/1.1-only server answers the preface with a status line, not SETTINGS.
            return failed(message.contains("first received frame was not settings")
                          ? "no HTTP/2 (h2c) answer: does the target speak HTTP/1.1 only?"
                          : "HTTP/2 error: " + cause.getMessage());
        }
        if (cause instanceof ConnectException) {
            return failed("connection failed: " + cause.getMessage());
        }
        return failed(cause.getClass().getSimpleName() + (message.isEmpty() ? "" : ": " + cause.getMessage()));
    }

    /** 5s, 150ms, 1500ms: whole seconds when exact, otherwise milliseconds. */
    static String format(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 && ms > 0 ? ms / 1000 + "s" : ms + "ms";
    }
}
