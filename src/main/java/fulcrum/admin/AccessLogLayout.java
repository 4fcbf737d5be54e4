package fulcrum.admin;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.LayoutBase;
import fulcrum.http.DesyncClass;
import fulcrum.http.RequestDecoder;
import fulcrum.proxy.ConnectionFacts;
import fulcrum.proxy.ExchangeObserver.ExchangeRecord;
import fulcrum.proxy.ExchangeObserver.TunnelRecord;
import fulcrum.proxy.RouteDecision;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * Formats access log records, on the appender's thread, field for field as AWS documents an
 * Application Load Balancer's access log entry, in its order and quoting:
 * <pre>
 * type time elb client:port target:port request_processing_time target_processing_time
 * response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request"
 * "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
 * matched_rule_priority request_creation_time "actions_executed" "redirect_url" "error_reason"
 * "target:port_list" "target_status_code_list" "classification" "classification_reason"
 * conn_trace_id "transformed_host" "transformed_uri" "request_transform_status"
 * </pre>
 * so that tools made for ALB logs read Fulcrum's. What Fulcrum has in ALB's place: elb is the
 * listener's name, target_group_arn the target group's, trace_id the X-Request-Id, chosen_cert_arn
 * the subject of the certificate shown, conn_trace_id the connection's id, error_reason a code of
 * Fulcrum's for an error it answered itself. "-" stands for what is unknown or does not apply; the
 * three times are -1 where ALB writes -1 (the request never reached a target, or no response
 * came from it). A WebSocket is one line at its end (type ws or wss), with the times of its
 * upgrade and the bytes carried both ways.
 *
 * <p>{@code json}: one object per line with ALB's field names as keys, null for "-". Usable in
 * logback.xml as {@code <layout class="fulcrum.admin.AccessLogLayout"><format>json</format></layout>}.
 */
public final class AccessLogLayout extends LayoutBase<ILoggingEvent> {
    private boolean json;

    /** alb (text is the same) | json */
    public void setFormat(String format) {
        this.json = format.trim().equalsIgnoreCase("json");
    }

    @Override
    public String doLayout(ILoggingEvent event) {
        Object[] args = event.getArgumentArray();
        Object r = args != null && args.length == 1 ? args[0] : null;
        StringBuilder b = new StringBuilder(512);
        if (r instanceof ExchangeRecord e) {
            entry(b, e, null);
        } else if (r instanceof TunnelRecord t) {
            if (t.upgrade() != null) {
                entry(b, t.upgrade(), t);
            } else {
                b.append(event.getFormattedMessage());
            }
        } else {
            b.append(event.getFormattedMessage());
        }
        return b.append('\n').toString();
    }

    /** The entry of {@code r}; of the WebSocket {@code tunnel} that {@code r} opened when not null. */
    private void entry(StringBuilder b, ExchangeRecord r, TunnelRecord tunnel) {
        ConnectionFacts c = r.connection();
        boolean tls = c != null && c.tls();
        String type = tunnel != null ? (tls ? "wss" : "ws")
                : "HTTP/2.0".equals(r.protocol()) ? "h2" : tls ? "https" : "http";
        long startMicros = r.startMillis() * 1000;
        long endMicros = tunnel != null ? tunnel.startMillis() * 1000 + tunnel.durationNanos() / 1000
                : startMicros + (r.endNanos() - r.startNanos()) / 1000;
        RouteDecision route = r.route();
        double request;
        double target;
        double response;
        if (route != null && route.answersItself()) {
            // A rule's redirect or fixed response: ALB logs its times with no target time.
            long answered = r.responseNanos() != 0 ? r.responseNanos() : r.endNanos();
            request = seconds(answered - r.startNanos());
            target = 0;
            response = seconds(r.endNanos() - answered);
        } else {
            // -1 where ALB writes it: the request never reached a target, or no response came back.
            request = r.sentNanos() == 0 ? -1 : seconds(r.sentNanos() - r.startNanos());
            target = r.sentNanos() == 0 || r.responseNanos() == 0 ? -1 : seconds(r.responseNanos() - r.sentNanos());
            response = r.sentNanos() == 0 || r.responseNanos() == 0 ? -1 : seconds(r.endNanos() - r.responseNanos());
        }
        long received = r.bytesReceived() + (tunnel == null ? 0 : tunnel.bytesFromClient());
        long sent = r.bytesSent() + (tunnel == null ? 0 : tunnel.bytesFromTarget());
        String targetStatus = r.targetStatus() < 0 ? null : Integer.toString(r.targetStatus());
        String classification = classification(r.desyncClass());
        Fields f = json ? new JsonFields(b) : new TextFields(b);
        f.plain("type", type)
         .plain("time", time(endMicros))
         .plain("elb", r.listener())
         .plain("client:port", address(r.client()))
         .plain("target:port", r.target())
         .number("request_processing_time", request)
         .number("target_processing_time", target)
         .number("response_processing_time", response)
         // ALB's code for a client that left before it could answer.
         .integer("elb_status_code", r.status() == 0 ? 460 : r.status())
         .integer("target_status_code", r.targetStatus())
         .integer("received_bytes", received)
         .integer("sent_bytes", sent)
         .quoted("request", requestLine(r, c, tls))
         .quoted("user_agent", r.userAgent())
         .plain("ssl_cipher", c == null ? null : c.cipher())
         .plain("ssl_protocol", c == null ? null : c.tlsProtocol())
         .plain("target_group_arn", r.group())
         .quoted("trace_id", r.requestId())
         .quoted("domain_name", c == null ? null : c.sni())
         .quoted("chosen_cert_arn", c == null ? null : c.certificate())
         .integer("matched_rule_priority", route == null ? -1 : route.priority())
         .plain("request_creation_time", time(startMicros))
         .quoted("actions_executed", route == null ? null : route.action())
         .quoted("redirect_url", route == null ? null : route.location())
         .quoted("error_reason", errorReason(r))
         .quoted("target:port_list", r.target())
         .quoted("target_status_code_list", targetStatus)
         .quoted("classification", classification)
         .quoted("classification_reason", classification == null ? null : RequestDecoder.classificationCode(r.reason()))
         .plain("conn_trace_id", c == null ? null : "TID_" + c.id())
         .quoted("transformed_host", null)
         .quoted("transformed_uri", null)
         .quoted("request_transform_status", null)
         .end();
    }

    /**
     * ALB's request field: method, absolute URL (scheme://host:port then the target as the client
     * sent it), protocol; "- - - " for a request that was never read whole, as ALB logs one.
     */
    private static String requestLine(ExchangeRecord r, ConnectionFacts c, boolean tls) {
        if (r.method() == null || "-".equals(r.method())) {
            return "- - - ";
        }
        String uri = r.uri();
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            return r.method() + " " + uri + " " + r.protocol();
        }
        String host = hostName(r.host());
        if (host == null) {
            host = c != null && c.localHost() != null ? c.localHost() : "-"; // HTTP/1.0 without Host
        }
        int port = c != null ? c.localPort() : 0;
        StringBuilder b = new StringBuilder(r.method().length() + host.length() + uri.length() + 32);
        b.append(r.method()).append(' ').append(tls ? "https://" : "http://").append(host);
        if (port > 0) {
            b.append(':').append(port);
        }
        return b.append(uri).append(' ').append(r.protocol()).toString();
    }

    /** The Host field without its port; IPv6 literals keep their brackets. */
    static String hostName(String host) {
        if (host == null || host.isEmpty()) {
            return null;
        }
        if (host.charAt(0) == '[') {
            int end = host.indexOf(']');
            return end < 0 ? host : host.substring(0, end + 1);
        }
        int colon = host.indexOf(':');
        return colon < 0 ? host : host.substring(0, colon);
    }

    private static String classification(DesyncClass d) {
        if (d == null) {
            return null;
        }
        return switch (d) {
            case COMPLIANT -> null;
            case ACCEPTABLE -> "Acceptable";
            case AMBIGUOUS -> "Ambiguous";
            case SEVERE -> "Severe";
        };
    }

    /**
     * Why Fulcrum answered with an error of its own (the target sent none), as a code in ALB's
     * style; null when the target answered, or Fulcrum's answer was a rule's own.
     */
    static String errorReason(ExchangeRecord r) {
        if (r.targetStatus() >= 0 || (r.route() != null && r.route().answersItself())) {
            return null;
        }
        return switch (r.status()) {
            case 400 -> "MalformedRequest";
            case 408 -> "RequestHeaderTimeout";
            case 413 -> "RequestBodyTooLarge";
            case 414 -> "RequestLineTooLong";
            case 431 -> "RequestHeaderTooLarge";
            case 505 -> "HttpVersionNotSupported";
            case 502 -> r.sentNanos() == 0 ? "TargetConnectionError" : "TargetResponseError";
            case 503 -> "NoRoutableTarget";
            case 504 -> "TargetTimeout";
            default -> null;
        };
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** The last second formatted, reused by every time of that second. */
    private long cachedSecond = Long.MIN_VALUE;
    private String cachedPrefix;

    /** ISO-8601 UTC with microseconds, as ALB writes it; the date and time of day formatted once a second. */
    private String time(long micros) {
        long second = Math.floorDiv(micros, 1_000_000);
        if (second != cachedSecond) {
            String full = DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(second)); // ...:SSZ
            cachedPrefix = full.substring(0, full.length() - 1) + '.';
            cachedSecond = second;
        }
        String us = Long.toString(Math.floorMod(micros, 1_000_000) + 1_000_000); // 1 then six digits
        return cachedPrefix + us.substring(1) + 'Z';
    }

    /** {@code value} with {@code places} decimals (-1 as "-1"), without String.format's cost. */
    static void decimal(StringBuilder b, double value, int places) {
        if (value < 0) {
            b.append("-1");
            return;
        }
        long scale = places == 3 ? 1000 : 1_000_000;
        long units = Math.round(value * scale);
        b.append(units / scale).append('.');
        String frac = Long.toString(units % scale);
        for (int i = frac.length(); i < places; i++) {
            b.append('0');
        }
        b.append(frac);
    }

    /** ip:port as ALB writes it: IPv6 addresses without brackets. */
    private static String address(InetSocketAddress a) {
        if (a == null) {
            return null;
        }
        InetAddress ip = a.getAddress();
        return (ip != null ? ip.getHostAddress() : a.getHostString()) + ":" + a.getPort();
    }

    /** One output format's way of writing named fields; null is "-" in text, null in JSON. */
    private abstract static class Fields {
        final StringBuilder b;

        Fields(StringBuilder b) {
            this.b = b;
        }

        /** A value ALB writes unquoted. */
        abstract Fields plain(String name, String value);

        /** A value ALB writes in double quotes. */
        abstract Fields quoted(String name, String value);

        /** Seconds with three decimals; -1 as -1. */
        abstract Fields number(String name, double value);

        /** A count or code; negative means unknown ("-"). */
        abstract Fields integer(String name, long value);

        abstract void end();
    }

    private static final class TextFields extends Fields {
        private boolean first = true;

        TextFields(StringBuilder b) {
            super(b);
        }

        private void sep() {
            if (!first) {
                b.append(' ');
            }
            first = false;
        }

        @Override
        Fields plain(String name, String value) {
            sep();
            if (value == null || value.isEmpty()) {
                b.append('-');
                return this;
            }
            // One token: a space would shift every field after it.
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                b.append(c <= 0x20 || c == 0x7f || c == '"' ? '_' : c);
            }
            return this;
        }

        @Override
        Fields quoted(String name, String value) {
            sep();
            b.append('"');
            if (value == null) {
                b.append('-');
            } else {
                for (int i = 0; i < value.length(); i++) {
                    char c = value.charAt(i);
                    // As nginx escapes: no quote inside a quoted field, which every ALB log reader splits on.
                    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
                        b.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
            b.append('"');
            return this;
        }

        @Override
        Fields number(String name, double value) {
            sep();
            decimal(b, value, 3);
            return this;
        }

        @Override
        Fields integer(String name, long value) {
            sep();
            if (value < 0) {
                b.append('-');
            } else {
                b.append(value);
            }
            return this;
        }

        @Override
        void end() {
        }
    }

    private static final class JsonFields extends Fields {
        private boolean first = true;

        JsonFields(StringBuilder b) {
            super(b);
            b.append('{');
        }

        private void name(String name) {
            if (!first) {
                b.append(',');
            }
            first = false;
            b.append('"').append(name).append("\":");
        }

        @Override
        Fields plain(String name, String value) {
            name(name);
            if (value == null) {
                b.append("null");
            } else {
                Json.quote(b, value);
            }
            return this;
        }

        @Override
        Fields quoted(String name, String value) {
            return plain(name, value);
        }

        @Override
        Fields number(String name, double value) {
            name(name);
            decimal(b, value, 6);
            return this;
        }

        @Override
        Fields integer(String name, long value) {
            name(name);
            if (value < 0) {
                b.append("null");
            } else {
                b.append(value);
            }
            return this;
        }

        @Override
        void end() {
            b.append('}');
        }
    }
}
