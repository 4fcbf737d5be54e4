package fulcrum.diagnose;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A response as it came off the wire: status, header fields in order, body, and how long it took. */
record HttpResponse(int status, String reason, List<String[]> headers, byte[] body, long millis) {

    /** The first value of {@code name} (case-insensitive), or null. */
    String header(String name) {
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    List<String> all(String name) {
        List<String> values = new ArrayList<>();
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                values.add(h[1]);
            }
        }
        return values;
    }

    /** Whether a comma-separated field {@code name} lists {@code token} (case-insensitive). */
    boolean lists(String name, String token) {
        for (String v : all(name)) {
            for (String t : v.split(",")) {
                if (t.trim().equalsIgnoreCase(token)) {
                    return true;
                }
            }
        }
        return false;
    }

    String text() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** Engine.IO's answer to a sid the server does not hold (JSON from polling, plain text from an upgrade). */
    boolean sessionUnknown() {
        return status == 400 && text().contains("Session ID unknown");
    }

    /** "400 Bad Request: {"code":1,...}", the body cut short: for reports. */
    String brief() {
        String t = text().replaceAll("\\s+", " ").trim();
        if (t.length() > 120) {
            t = t.substring(0, 117) + "...";
        }
        String head = status + (reason.isEmpty() ? "" : " " + reason);
        return t.isEmpty() || t.equals(head) ? head : head + ": " + t;
    }
}
