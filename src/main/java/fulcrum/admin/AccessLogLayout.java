package fulcrum.admin;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.LayoutBase;
import fulcrum.proxy.ExchangeObserver.ExchangeRecord;
import fulcrum.proxy.ExchangeObserver.TunnelRecord;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * Formats access log records, on the appender's thread. {@code text}: one space-separated line in
 * the order of ALB's access log, strings quoted, "-" for what is missing, times in seconds:
 * <pre>
 * type time listener client:port target:port request_processing_time target_processing_time
 * response_processing_time status target_status received_bytes sent_bytes "request line"
 * "user agent" target_group request_id
 * </pre>
 * {@code type} is {@code http}, or {@code ws} for a closed WebSocket tunnel (whose
 * target_processing_time is its whole duration, and bytes what it carried each way).
 * {@code json}: one object per line with the same fields. Usable in logback.xml as
 * {@code <layout class="fulcrum.admin.AccessLogLayout"><format>json</format></layout>}.
 */
public final class AccessLogLayout extends LayoutBase<ILoggingEvent> {
    private boolean json;

    /** text | json */
    public void setFormat(String format) {
        this.json = format.trim().equalsIgnoreCase("json");
    }

    @Override
    public String doLayout(ILoggingEvent event) {
        Object[] args = event.getArgumentArray();
        Object r = args != null && args.length == 1 ? args[0] : null;
        StringBuilder b = new StringBuilder(256);
        if (r instanceof ExchangeRecord e) {
            exchange(b, e);
        } else if (r instanceof TunnelRecord t) {
            tunnel(b, t);
        } else {
            b.append(event.getFormattedMessage());
        }
        return b.append('\n').toString();
    }

    private void exchange(StringBuilder b, ExchangeRecord r) {
        double request = r.sentNanos() == 0 ? -1 : seconds(r.sentNanos() - r.startNanos());
        double target = r.sentNanos() == 0 || r.responseNanos() == 0 ? -1 : seconds(r.responseNanos() - r.sentNanos());
        double response = r.responseNanos() == 0 ? -1 : seconds(r.endNanos() - r.responseNanos());
        String line = r.method() + " " + r.uri() + " " + r.protocol();
        Fields f = json ? new JsonFields(b) : new TextFields(b);
        f.string("type", "http").string("time", time(r.startMillis())).string("listener", r.listener())
         .string("client", address(r.client())).string("target", r.target())
         .number("request_processing_time", request).number("target_processing_time", target)
         .number("response_processing_time", response).integer("status", r.status())
         .integer("target_status", r.targetStatus()).integer("received_bytes", r.bytesReceived())
         .integer("sent_bytes", r.bytesSent()).quoted("request", line).quoted("user_agent", r.userAgent())
         .string("target_group", r.group()).string("request_id", r.requestId()).end();
    }

    private void tunnel(StringBuilder b, TunnelRecord r) {
        Fields f = json ? new JsonFields(b) : new TextFields(b);
        f.string("type", "ws").string("time", time(r.startMillis())).string("listener", r.listener())
         .string("client", address(r.client())).string("target", r.target())
         .number("request_processing_time", -1).number("target_processing_time", seconds(r.durationNanos()))
         .number("response_processing_time", -1).integer("status", 101).integer("target_status", 101)
         .integer("received_bytes", r.bytesFromClient()).integer("sent_bytes", r.bytesFromTarget())
         .quoted("request", "GET " + r.uri() + " HTTP/1.1").quoted("user_agent", null)
         .string("target_group", r.group()).string("request_id", r.requestId()).end();
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** The last second formatted, reused by every line of that second. */
    private long cachedSecond = Long.MIN_VALUE;
    private String cachedPrefix;

    /** ISO-8601 UTC with milliseconds; the date and time of day are formatted once a second. */
    private String time(long millis) {
        long second = Math.floorDiv(millis, 1000);
        if (second != cachedSecond) {
            String full = DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(second)); // ...:SSZ
            cachedPrefix = full.substring(0, full.length() - 1);
            cachedSecond = second;
        }
        int ms = (int) Math.floorMod(millis, 1000);
        return cachedPrefix + '.' + (char) ('0' + ms / 100) + (char) ('0' + ms / 10 % 10) + (char) ('0' + ms % 10) + 'Z';
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

    private static String address(InetSocketAddress a) {
        if (a == null) {
            return null;
        }
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /** One output format's way of writing named fields. */
    private abstract static class Fields {
        final StringBuilder b;

        Fields(StringBuilder b) {
            this.b = b;
        }

        abstract Fields string(String name, String value);

        abstract Fields quoted(String name, String value);

        abstract Fields number(String name, double value);

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
        Fields string(String name, String value) {
            sep();
            b.append(value == null || value.isEmpty() ? "-" : value);
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
                    if (c == '"' || c == '\\') {
                        b.append('\\').append(c);
                    } else if (c < 0x20 || c == 0x7f) {
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
            b.append(value);
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
        Fields string(String name, String value) {
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
            return string(name, value);
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
            b.append(value);
            return this;
        }

        @Override
        void end() {
            b.append('}');
        }
    }
}
