package fulcrum.balance;

import fulcrum.config.StickinessSettings;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The target of one request: the one its session is bound to while that target {@linkplain
 * Snapshot#keeps keeps its sessions} (the lb-cookie first, then the Engine.IO sid), the group's
 * selector otherwise. Remembers what the response must do for the session (set a cookie, learn a
 * sid).
 */
public final class Affinity {
    private boolean setCookie;
    private String sid;
    private boolean engineIoHandshake;
    private boolean engineIoWebSocket;
    /** The target was the one the request's Engine.IO session is bound to. */
    private boolean sessionTarget;
    private boolean askedShared;
    /** The request's URI was read for its Engine.IO sid and handshake (once: lookups and retries reuse it). */
    private boolean engineIoRead;

    /**
     * When the request carries an Engine.IO sid this instance does not know and the group's
     * sessions are shared: the lookup to wait for before {@link #choose} (at most once per
     * request). Null otherwise: choose at once.
     */
    public CompletionStage<SessionStore.Shared> sharedLookup(TargetGroup group, HttpRequest request) {
        if (askedShared || !group.settings().stickiness().usesEngineIo() || !group.engineIo().shared()) {
            return null;
        }
        readEngineIo(request);
        if (sid == null || group.engineIo().knows(sid, System.nanoTime())) {
            return null;
        }
        askedShared = true;
        return group.engineIo().lookupShared(sid);
    }

    /** The request's Engine.IO sid, or whether it opens a session: its URI read once. */
    private void readEngineIo(HttpRequest request) {
        if (engineIoRead) {
            return;
        }
        engineIoRead = true;
        String uri = request.uri();
        sid = EngineIoSessions.sid(uri);
        boolean mayOpen = sid == null && request.method() == HttpMethod.GET;
        engineIoHandshake = mayOpen && EngineIoSessions.opens(uri, "transport=polling");
        engineIoWebSocket = mayOpen && EngineIoSessions.opens(uri, "transport=websocket");
    }

    /**
     * Chooses among {@code group}'s routable targets, never one of {@code tried}; null when none is
     * left. Removes the group's sticky cookie from {@code request} unless it is to be forwarded.
     */
    public Target choose(TargetGroup group, HttpRequest request, List<Target> tried) {
        Snapshot snap = group.snapshot();
        StickinessSettings stickiness = group.settings().stickiness();
        sessionTarget = false; // a retry chooses afresh
        // A CORS preflight carries no cookie and starts nothing: a cookie set on it would be dropped.
        boolean preflight = request.method() == HttpMethod.OPTIONS
                            && request.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD);
        if (stickiness.usesEngineIo()) {
            readEngineIo(request);
        }
        if (stickiness.usesCookie()) {
            LbCookie.Match m = group.cookie().match(request.headers().getAll(HttpHeaderNames.COOKIE), snap,
                                                    System.currentTimeMillis());
            if (!stickiness.forwardCookie()) {
                // Read, it is of no use to the target. A retry finds it gone and chooses as for a
                // client without one: the cookie's target was tried first, or was not routable.
                CookieHeaders.stripCookie(request.headers(), group.cookie().name());
            }
            Target t = m.target();
            if (t != null && !Selector.tried(tried, t) && snap.keeps(t)) {
                setCookie = m.renew();
                return t;
            }
            setCookie = !preflight;
        }
        if (sid != null) {
            Target t = group.engineIo().lookup(sid, System.nanoTime());
            if (t != null && !Selector.tried(tried, t) && snap.keeps(t)) {
                sessionTarget = true;
                return t;
            }
            if (t != null) {
                // Its target is gone: any live target answers "Session ID unknown" and the client starts afresh.
                group.engineIo().forget(sid);
            }
        }
        // Whether this request starts a session: with a cookie, any request but a preflight (it
        // gets a cookie); with Engine.IO sids alone, a handshake.
        boolean newSession = !stickiness.enabled()
                             || (stickiness.usesCookie() ? !preflight : engineIoHandshake || engineIoWebSocket);
        return group.selector().select(snap, tried, newSession);
    }

    /** Whether the response must carry a (new or renewed) sticky cookie. */
    public boolean setCookie() {
        return setCookie;
    }

    /** The Engine.IO session the request belongs to, or null. */
    public String sid() {
        return sid;
    }

    /** Whether the target was chosen because the request's Engine.IO session is bound to it. */
    public boolean sessionTarget() {
        return sessionTarget;
    }

    /** Whether the request opens an Engine.IO session over WebSocket: the tunnel's first frame carries the sid. */
    public boolean engineIoWebSocket() {
        return engineIoWebSocket;
    }

    /** Whether the request opens an Engine.IO session whose sid the response will carry. */
    public boolean engineIoHandshake() {
        return engineIoHandshake;
    }
}
