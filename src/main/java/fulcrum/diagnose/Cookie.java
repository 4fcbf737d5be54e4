package fulcrum.diagnose;

import java.util.Locale;

/** A Set-Cookie field's name, value and the attributes a cross-site browser client cares about. */
record Cookie(String name, String value, boolean secure, String sameSite, boolean expired) {

    /** Null when {@code setCookie} has no name=value. */
    static Cookie parse(String setCookie) {
        String[] parts = setCookie.split(";");
        int eq = parts[0].indexOf('=');
        if (eq <= 0) {
            return null;
        }
        boolean secure = false;
        boolean expired = false;
        String sameSite = null;
        for (int i = 1; i < parts.length; i++) {
            String a = parts[i].trim();
            String lower = a.toLowerCase(Locale.ROOT);
            if (lower.equals("secure")) {
                secure = true;
            } else if (lower.startsWith("samesite=")) {
                sameSite = a.substring("samesite=".length());
            } else if (lower.startsWith("max-age=")) {
                expired = a.substring("max-age=".length()).trim().startsWith("-")
                          || a.substring("max-age=".length()).trim().equals("0");
            }
        }
        return new Cookie(parts[0].substring(0, eq).trim(), parts[0].substring(eq + 1).trim(), secure, sameSite, expired);
    }

    /** Who usually sets a cookie of this name, or null. */
    String knownAs() {
        return switch (name.toUpperCase(Locale.ROOT)) {
            case "AWSALB", "AWSALBCORS", "AWSALBAPP", "AWSALBTG", "AWSALBTGCORS" -> "AWS ALB stickiness";
            case "FULCRUM", "FULCRUM-TG" -> "Fulcrum stickiness";
            case "SERVERID", "SRV", "SERVER" -> "HAProxy's usual stickiness cookie";
            case "ROUTE", "STICKY" -> "nginx sticky";
            case "IO" -> "Socket.IO's own cookie";
            default -> null;
        };
    }

    /** "SERVERID (HAProxy's usual stickiness cookie; SameSite=Lax)". */
    String describe() {
        String known = knownAs();
        String attrs = (sameSite == null ? "no SameSite" : "SameSite=" + sameSite) + (secure ? ", Secure" : "");
        return name + " (" + (known == null ? "" : known + "; ") + attrs + ")";
    }
}
