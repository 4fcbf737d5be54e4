package fulcrum.balance;

import fulcrum.config.HostPort;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import static java.util.Objects.requireNonNull;

/**
 * One backend server of a target group. Its identity and address never change; its health state
 * is written by the group (under the group's lock) and read lock-free.
 */
public final class Target {
    private final String id;
    private final HostPort address;
    private final InetSocketAddress socketAddress;
    private final int weight;
    private final long cookieToken;

    private volatile HealthState state;
    private volatile String reason = "registered";
    private volatile Instant since = Instant.now();
    /** Whether its latest check (probe or live traffic) passed: an unhealthy target on its way back. */
    private volatile boolean lastCheckPassed;
    /**
     * Its latest health check, for the operator: {@link #reason} is that of the last state change,
     * and later checks may fail (or pass) for another reason. Null until the first check.
     */
    private volatile Check lastCheck;
    /** Registered after its group was made (admin API, reload, DNS): it joins, and may slow-start. */
    private volatile boolean joined;
    /** System.nanoTime() when its slow start began; 0 when it is not in slow start. */
    private volatile long slowStartSince;
    /** Outlier detection: answers in a row of each kind, from live traffic on any loop. */
    final AtomicInteger consecutive5xx = new AtomicInteger();
    final AtomicInteger consecutiveGatewayFailures = new AtomicInteger();
    /** System.nanoTime() its ejection ends; 0 when it was never ejected. Written under the group's lock. */
    private volatile long ejectedUntil;
    /** Ejections counting towards the next one's length; written under the group's lock. */
    int ejectionLevel;
    private final LongAdder ejections = new LongAdder();

    /** Requests sent and not yet answered; read by least-outstanding-requests. */
    final AtomicInteger outstanding = new AtomicInteger();
    private final LongAdder requests = new LongAdder();
    private final AtomicInteger openConnections = new AtomicInteger();
    private final AtomicInteger tunnels = new AtomicInteger();
    /** Engine.IO sessions remembered on this target (engine-io stickiness only). */
    private final AtomicInteger engineIoSessions = new AtomicInteger();

    /**
     * {@code id} is the address as configured for an IP literal, and the resolved "ip:port" for a
     * target configured by host name ({@code address} keeps the name).
     */
    Target(String id, HostPort address, InetSocketAddress socketAddress, int weight, HealthState initial,
           long cookieToken) {
        this.address = requireNonNull(address, "address");
        this.id = requireNonNull(id, "id");
        this.socketAddress = requireNonNull(socketAddress, "socketAddress");
        this.weight = weight;
        this.state = requireNonNull(initial, "initial");
        this.cookieToken = cookieToken;
    }

    public String id() {
        return id;
    }

    /** Whether this target came from resolving a host name (and follows its DNS records). */
    public boolean resolvedFromName() {
        return !id.equals(address.toString());
    }

    public HostPort address() {
        return address;
    }

    /** The address connections are opened to. */
    public InetSocketAddress socketAddress() {
        return socketAddress;
    }

    public int weight() {
        return weight;
    }

    public HealthState state() {
        return state;
    }

    public String reason() {
        return reason;
    }

    public Instant since() {
        return since;
    }

    void state(HealthState state, String reason) {
        this.state = state;
        this.reason = reason;
        this.since = Instant.now();
    }

    long ejectedUntil() {
        return ejectedUntil;
    }

    void ejectedUntil(long nanos) {
        this.ejectedUntil = nanos;
        ejections.increment();
    }

    /** Whether outlier detection keeps it out of rotation now. */
    public boolean ejected(long nowNanos) {
        long until = ejectedUntil;
        return until != 0 && nowNanos - until < 0;
    }

    /** How long its ejection still lasts; zero when it is not ejected. */
    public java.time.Duration ejectionLeft(long nowNanos) {
        return ejected(nowNanos) ? java.time.Duration.ofNanos(ejectedUntil - nowNanos) : java.time.Duration.ZERO;
    }

    /** Times outlier detection ejected it. */
    public long ejections() {
        return ejections.sum();
    }

    boolean joined() {
        return joined;
    }

    void joined(boolean joined) {
        this.joined = joined;
    }

    long slowStartSince() {
        return slowStartSince;
    }

    void slowStartSince(long nanos) {
        this.slowStartSince = nanos;
    }

    boolean lastCheckPassed() {
        return lastCheckPassed;
    }

    void lastCheckPassed(boolean passed) {
        this.lastCheckPassed = passed;
    }

    /** Its latest health check (a probe, or a request that could not reach it); null before the first. */
    public Check lastCheck() {
        return lastCheck;
    }

    void lastCheck(Check check) {
        this.lastCheck = check;
    }

    /** One health check's result: whether it passed, why, and when. */
    public record Check(boolean passed, String reason, Instant at) {
        public Check {
            requireNonNull(reason, "reason");
            requireNonNull(at, "at");
        }
    }

    /** The opaque, keyed token a sticky cookie carries for this target. */
    long cookieToken() {
        return cookieToken;
    }

    public void requestStarted() {
        outstanding.incrementAndGet();
        requests.increment();
    }

    public void requestEnded() {
        outstanding.decrementAndGet();
    }

    public int outstandingRequests() {
        return outstanding.get();
    }

    public long requestsServed() {
        return requests.sum();
    }

    public void connectionOpened() {
        openConnections.incrementAndGet();
    }

    public void connectionClosed() {
        openConnections.decrementAndGet();
    }

    public int openConnections() {
        return openConnections.get();
    }

    public void tunnelOpened() {
        tunnels.incrementAndGet();
    }

    public void tunnelClosed() {
        tunnels.decrementAndGet();
    }

    public int tunnels() {
        return tunnels.get();
    }

    void engineIoSessionAdded() {
        engineIoSessions.incrementAndGet();
    }

    void engineIoSessionRemoved() {
        engineIoSessions.decrementAndGet();
    }

    public int engineIoSessions() {
        return engineIoSessions.get();
    }

    /**
     * What least-connections weighs: open WebSocket tunnels, Engine.IO sessions and requests in
     * flight (a long-poll is one). A session counts with its tunnel or its long-poll, so every
     * Socket.IO client weighs about the same on whichever target.
     */
    public int connectionLoad() {
        return tunnels.get() + engineIoSessions.get() + outstanding.get();
    }

    @Override
    public String toString() {
        return id;
    }
}
