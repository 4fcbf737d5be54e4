package fulcrum.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The dashboard's files (HTML, CSS, JS under {@code src/main/resources/fulcrum/dashboard/}),
 * read from the jar once at start. They are served without the token: they hold no data and no
 * secret, and a browser cannot send a bearer token when it opens a page. Everything they show
 * comes from the API ({@code GET /overview}) and every action goes through it, token and all.
 */
final class DashboardAssets {
    private static final String DIR = "/fulcrum/dashboard/";
    /** Only this origin's scripts, styles and requests; no framing (clickjacking of the actions). */
    static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                              + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /** One file as served. */
    record Asset(String contentType, byte[] body) {
    }

    private final Map<String, Asset> byPath;

    private DashboardAssets(Map<String, Asset> byPath) {
        this.byPath = byPath;
    }

    static DashboardAssets load() {
        return new DashboardAssets(Map.of(
                "/", read("index.html", "text/html; charset=utf-8"),
                "/dashboard.css", read("dashboard.css", "text/css; charset=utf-8"),
                "/dashboard.js", read("dashboard.js", "text/javascript; charset=utf-8")));
    }

    /** The file served at {@code path}, or null. */
    Asset get(String path) {
        return byPath.get(path);
    }

    private static Asset read(String name, String contentType) {
        try (InputStream in = DashboardAssets.class.getResourceAsStream(DIR + name)) {
            if (in == null) {
                throw new IllegalStateException("dashboard file " + DIR + name + " is missing from the jar");
            }
            return new Asset(contentType, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
