package fulcrum.diagnose;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Engine.IO's wire format in its two versions: 3 (Socket.IO 2 clients) and 4 (Socket.IO 3 and
 * later). Packets: 0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop. A polling
 * payload joins packets with the record separator (4) or prefixes each with its length (3).
 */
record EngineIo(int version) {
    private static final char SEPARATOR = '\u001e';
    private static final Pattern SID = Pattern.compile("\"sid\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern PING_INTERVAL = Pattern.compile("\"pingInterval\"\\s*:\\s*(\\d+)");
    private static final Pattern PING_TIMEOUT = Pattern.compile("\"pingTimeout\"\\s*:\\s*(\\d+)");
    private static final Pattern UPGRADES = Pattern.compile("\"upgrades\"\\s*:\\s*\\[([^]]*)]");

    /** The open packet's fields that matter here. */
    record Open(String sid, long pingInterval, long pingTimeout, List<String> upgrades) {
    }

    String name() {
        return "EIO=" + version;
    }

    /** The request target of a {@code transport} request, with the session's {@code sid} (null: a handshake). */
    String target(String path, String transport, String sid) {
        StringBuilder b = new StringBuilder(path).append("?EIO=").append(version)
                .append("&transport=").append(transport)
                .append("&t=").append(Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36));
        if (version == 3) {
            // text payloads: Socket.IO 2 clients without XHR2 ask for them the same way
            b.append("&b64=1");
        }
        if (sid != null) {
            b.append("&sid=").append(sid);
        }
        return b.toString();
    }

    List<String> decode(String payload) {
        List<String> packets = new ArrayList<>();
        if (version >= 4) {
            for (String p : payload.split(String.valueOf(SEPARATOR), -1)) {
                if (!p.isEmpty()) {
                    packets.add(p);
                }
            }
            return packets;
        }
        int i = 0;
        while (i < payload.length()) {
            int colon = payload.indexOf(':', i);
            if (colon < 0) {
                throw new IllegalArgumentException("not an EIO=3 payload: " + cut(payload));
            }
            int n = Integer.parseInt(payload.substring(i, colon));
            packets.add(payload.substring(colon + 1, Math.min(payload.length(), colon + 1 + n)));
            i = colon + 1 + n;
        }
        return packets;
    }

    String encode(String... packets) {
        StringBuilder b = new StringBuilder();
        for (String p : packets) {
            if (version >= 4) {
                if (b.length() > 0) {
                    b.append(SEPARATOR);
                }
                b.append(p);
            } else {
                b.append(p.length()).append(':').append(p);
            }
        }
        return b.toString();
    }

    /** The open packet ({@code 0{...}}) read, or null when {@code packet} is none. */
    static Open open(String packet) {
        if (packet == null || !packet.startsWith("0{")) {
            return null;
        }
        Matcher sid = SID.matcher(packet);
        if (!sid.find()) {
            return null;
        }
        List<String> upgrades = new ArrayList<>();
        Matcher u = UPGRADES.matcher(packet);
        if (u.find()) {
            for (String s : u.group(1).split(",")) {
                String t = s.trim().replace("\"", "");
                if (!t.isEmpty()) {
                    upgrades.add(t);
                }
            }
        }
        return new Open(sid.group(1), number(PING_INTERVAL, packet), number(PING_TIMEOUT, packet), upgrades);
    }

    private static long number(Pattern p, String s) {
        Matcher m = p.matcher(s);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    static String cut(String s) {
        String t = s.replace(SEPARATOR, '|').replaceAll("\\s+", " ");
        return t.length() <= 100 ? t : t.substring(0, 97) + "...";
    }
}
