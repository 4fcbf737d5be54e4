package fulcrum.proxy;

import fulcrum.balance.TargetGroup;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;

import static java.util.Objects.requireNonNull;

/**
 * Where a request goes: to a target group (with a cookie to set on its response, for group-level
 * stickiness), or answered by the balancer itself (a redirect, a fixed response). Immutable: a
 * decision that depends on nothing in the request is built once and returned every time.
 */
public final class RouteDecision {
    private final TargetGroup group;
    private final String setCookie;
    private final HttpResponseStatus status;
    private final String contentType;
    private final byte[] body;
    private final String location;
    /** The priority of the listener rule that decided; 0 for the default action (as ALB logs it). */
    private final int priority;

    private RouteDecision(TargetGroup group, String setCookie, HttpResponseStatus status, String contentType,
                          byte[] body, String location, int priority) {
        this.group = group;
        this.setCookie = setCookie;
        this.status = status;
        this.contentType = contentType;
        this.body = body;
        this.location = location;
        this.priority = priority;
    }

    private RouteDecision(TargetGroup group, String setCookie, HttpResponseStatus status, String contentType,
                          byte[] body, String location) {
        this(group, setCookie, status, contentType, body, location, 0);
    }

    /** This decision, made by the rule of {@code priority}. */
    public RouteDecision atPriority(int priority) {
        return priority == this.priority ? this
                : new RouteDecision(group, setCookie, status, contentType, body, location, priority);
    }

    /** The priority of the rule that decided; 0 when the listener's default action did. */
    public int priority() {
        return priority;
    }

    /** What was done, in ALB's words: forward, redirect or fixed-response. */
    public String action() {
        if (group != null) {
            return "forward";
        }
        return location != null ? "redirect" : "fixed-response";
    }

    /** To {@code group}. */
    public static RouteDecision forward(TargetGroup group) {
        return new RouteDecision(requireNonNull(group, "group"), null, null, null, null, null);
    }

    /** To {@code group}, adding {@code setCookie} (a Set-Cookie value) to its response. */
    public static RouteDecision forward(TargetGroup group, String setCookie) {
        return new RouteDecision(requireNonNull(group, "group"), setCookie, null, null, null, null);
    }

    /** Answered with {@code status}, {@code contentType} and {@code body}. */
    public static RouteDecision respond(int status, String contentType, String body) {
        return new RouteDecision(null, null, HttpResponseStatus.valueOf(status), requireNonNull(contentType,
                "contentType"), body.getBytes(StandardCharsets.UTF_8), null);
    }

    /** Answered with a redirect to {@code location}. */
    public static RouteDecision redirect(int status, String location) {
        return new RouteDecision(null, null, HttpResponseStatus.valueOf(status), null, new byte[0],
                                 requireNonNull(location, "location"));
    }

    /** The target group, or null when the balancer answers itself. */
    public TargetGroup group() {
        return group;
    }

    /** A Set-Cookie value for the forwarded response, or null. */
    public String setCookie() {
        return setCookie;
    }

    public boolean answersItself() {
        return status != null;
    }

    public int status() {
        return status == null ? 0 : status.code();
    }

    public String location() {
        return location;
    }

    /** The balancer's own answer, correctly framed; {@code close} adds Connection: close. */
    FullHttpResponse response(ByteBufAllocator alloc, boolean close) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                                                           alloc.buffer(body.length).writeBytes(body));
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (contentType != null) {
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        }
        if (location != null) {
            res.headers().set(HttpHeaderNames.LOCATION, location);
        }
        if (close) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return res;
    }
}
