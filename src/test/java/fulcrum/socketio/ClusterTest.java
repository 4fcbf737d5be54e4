package fulcrum.socketio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Three Fulcrum instances (127.0.0.1, .2, .3) sharing one Redis, in front of the chat servers
 * (their own Redis for their adapter), with cookie-less Socket.IO clients whose every new TCP
 * connection goes to the next instance: sessions, targets, an instance killed, Redis stopped.
 * Everything is real: redis-server, node chat servers and socket.io-client, Fulcrum JVMs.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ClusterTest {
    private static final String GROUP = "/target-groups/chat/targets";

    private static Path logDir;
    private static ChatCluster chat;
    private static ClusterRedis redis;
    private static final List<ClusterInstance> instances = new ArrayList<>();
    private static ClusterInstance a;
    private static ClusterInstance b;
    private static ClusterInstance c;
    private static final List<RotatingClients> harnesses = new ArrayList<>();
    private static RotatingClients polling;
    private static RotatingClients defaults;

    @BeforeAll
    static void start() throws Exception {
        String missing = ChatCluster.missingPrerequisite();
        if (missing != null) {
            throw new IllegalStateException(missing); // CI installs them: never a silent skip
        }
        logDir = ChatCluster.repoRoot().resolve("target/cluster-logs");
        Files.createDirectories(logDir);
        chat = ChatCluster.start(3);
        redis = ClusterRedis.start(logDir);
        List<Integer> file = List.of(chat.port(0), chat.port(1));
        a = new ClusterInstance("A", "127.0.0.1", logDir, redis.uri(), file);
        b = new ClusterInstance("B", "127.0.0.2", logDir, redis.uri(), file);
        c = new ClusterInstance("C", "127.0.0.3", logDir, redis.uri(), file);
        instances.addAll(List.of(a, b, c));
        for (ClusterInstance i : instances) {
            i.start();
        }
        for (ClusterInstance i : instances) {
            i.awaitStarted();
        }
        for (ClusterInstance i : instances) {
            awaitTrue(() -> i.admin("GET", "/healthz", null).body().contains("\"redis\":\"up\""), 30_000,
                      i.name + " sees redis up");
        }
    }

    @org.junit.jupiter.api.AfterEach
    void printLookups() throws Exception {
        for (ClusterInstance i : instances) {
            if (!i.alive()) {
                continue;
            }
            StringBuilder b = new StringBuilder();
            for (String line : i.admin("GET", "/metrics", null).body().split("\n")) {
                if (line.startsWith("fulcrum_cluster_")) {
                    b.append(' ').append(line);
                }
            }
            System.out.println("cluster: " + i.name + " metrics:" + b);
        }
    }

    @AfterAll
    static void stop() {
        harnesses.forEach(RotatingClients::close);
        instances.forEach(ClusterInstance::close);
        if (redis != null) {
            redis.close();
        }
        if (chat != null) {
            chat.close();
        }
    }

    private static List<String> endpoints() {
        return instances.stream().map(ClusterInstance::endpoint).toList();
    }

    @Test
    @Order(1)
    void cookieLessClientsRotatingOverInstancesKeepTheirSessionsAndChat() throws Exception {
        polling = new RotatingClients(endpoints(), 12, "polling", "polling", logDir);
        defaults = new RotatingClients(endpoints(), 12, "default", "default", logDir);
        harnesses.add(polling);
        harnesses.add(defaults);
        for (RotatingClients h : List.of(polling, defaults)) {
            awaitTrue(() -> h.count(e -> "connected".equals(e.get("ev"))) >= 12, 60_000, "every client connected");
        }
        Thread.sleep(1_000); // the default clients upgrade to WebSocket
        for (RotatingClients h : List.of(polling, defaults)) {
            Map<String, Object> heard = h.ask("{\"cmd\":\"chat\"}", "chat-report", 30_000);
            for (Map<String, Object> cl : RotatingClients.clients(heard)) {
                // Its own harness's 12 messages, sent through all three instances to both file targets.
                assertEquals(12L, cl.get("heard"), "messages heard by " + cl);
                assertEquals(2, ((List<?>) cl.get("servers")).size(), "chat across both servers: " + cl);
            }
            Map<String, Object> report = h.ask("{\"cmd\":\"report\"}", "report", 10_000);
            assertEquals(0L, report.get("sessionUnknown"), "Session ID unknown answers: " + report.get("failures"));
            assertEquals(0L, report.get("failureCount"), "failed requests: " + report.get("failures"));
            Set<String> via = new HashSet<>();
            for (Map<String, Object> cl : RotatingClients.clients(report)) {
                assertEquals(1, ((List<?>) cl.get("sids")).size(), "one session for its whole life: " + cl);
                via.addAll(cast(cl.get("handshakeVia")));
            }
            assertEquals(3, via.size(), "handshakes learnt on every instance: " + via);
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> requests = (Map<String, Map<String, Object>>) report.get("requests");
            for (ClusterInstance i : instances) {
                assertTrue((Long) requests.get(i.endpoint()).get("ok") >= 6, "requests through " + i.name + ": " + requests);
            }
        }
        // Each instance heard of the others' sessions on the cluster channel before their next
        // requests came (the lookups each made are printed after the test).

    }

    @Test
    @Order(2)
    void targetsRegisteredAndDeregisteredThroughAnyInstanceApplyEverywhereAndSurviveARestart() throws Exception {
        String third = "127.0.0.1:" + chat.port(2);
        String thirdId = chat.serverId(2);
        long asked = System.nanoTime();
        HttpResponse<String> r = a.admin("POST", GROUP, "{\"target\":\"" + third + "\"}");
        assertEquals(201, r.statusCode(), r.body());
        // From A's answer: the registration is in place on A then.
        long t0 = System.nanoTime();
        for (ClusterInstance i : List.of(b, c)) {
            awaitTrue(() -> has(i, third), 5_000,
                      i.name + " has the target registered through A");
            long known = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            awaitTrue(() -> servedBy(i, thirdId), 5_000, i.name + " routes to the target registered through A");
            long routed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.printf("cluster: %s had %s %d ms and routed to it %d ms after A answered the registration "
                              + "(%d ms after it was asked)%n", i.name, third, known, routed,
                              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked));
            // Well under a second on an idle machine (see the printed times); the bounds here are for
            // a shared CI machine, where three JVMs, three node servers and Redis share two cores.
            assertTrue(known < 5_000, i.name + " had it after " + known + " ms");
            // Routing also waits for the instance's own first health check of it (every 300 ms here).
            assertTrue(routed < 6_000, i.name + " routed to it after " + routed + " ms");
        }
        String targets = b.admin("GET", "/targets", null).body();
        assertTrue(targets.contains("\"op\":\"register\"") && targets.contains("\"source\":\"overlay (register)\""),
                   "GET /targets lists the overlay: " + targets);

        // A restart of C reads the overlay back from Redis.
        c.stop();
        c.start();
        c.awaitStarted();
        long restarted = System.nanoTime();
        // C reads the overlay as soon as Redis answers it (at once on an idle machine; it does not
        // hold its start for longer than connect-timeout + command-timeout).
        awaitTrue(() -> has(c, third), 30_000, "C still has it after its restart");
        awaitTrue(() -> servedBy(c, thirdId), 10_000, "C routes to it after its restart");
        System.out.printf("cluster: C routed to %s again %d ms after its admin API was up%n", third,
                          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restarted));
        // A reload keeps it too: the file is the base, the overlay stays over it.
        HttpResponse<String> reload = c.admin("POST", "/reload", null);
        assertEquals(200, reload.statusCode(), reload.body());
        assertFalse(reload.body().contains(third), "the reload did not touch it: " + reload.body());
        assertTrue(routable(c, third), "still routable after a reload");

        // Deregistered through B: A and C drain it.
        assertEquals(202, b.admin("DELETE", GROUP + "/" + third, null).statusCode());
        long t1 = System.nanoTime();
        for (ClusterInstance i : List.of(a, c)) {
            awaitTrue(() -> !routable(i, third), 5_000, i.name + " drains the target deregistered through B");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1);
            System.out.printf("cluster: %s drained %s %d ms after it was deregistered through B%n", i.name, third, ms);
            assertTrue(ms < 5_000, i.name + " drained it after " + ms + " ms");
        }
        // Health stays per instance, and each one shows the others' views.
        awaitTrue(() -> {
            String t = a.admin("GET", "/targets", null).body();
            return t.contains("\"peer_states\":{\"B\":\"healthy\",\"C\":\"healthy\"}")
                   || t.contains("\"peer_states\":{\"C\":\"healthy\",\"B\":\"healthy\"}");
        }, 10_000, "A shows B's and C's health views");
    }

    @Test
    @Order(3)
    void redisStoppedUnderLoadCostsNoRequestAndTheInstancesConvergeWhenItIsBack() throws Exception {
        String third = "127.0.0.1:" + chat.port(2);
        if (has(a, third)) {
            a.admin("DELETE", GROUP + "/" + third, null); // left by an earlier test that failed
        }
        Load load = new Load();
        Thread loader = new Thread(load, "cluster-load");
        loader.start();
        try {
            Thread.sleep(3_000);
            long[] before = load.cut();
            int mark = polling.mark();

            // Redis slow (stopped, its connections open): a request with a sid no instance knows
            // waits at most session-lookup-timeout (150 ms), far less than the command timeout (1 s).
            redis.signal("STOP");
            long slowest = 0;
            try {
                for (int k = 0; k < 6; k++) {
                    ClusterInstance i = instances.get(k % 3);
                    long t = System.nanoTime();
                    HttpResponse<String> r = i.get("/socket.io/?EIO=4&transport=polling&sid=unknown" + k);
                    slowest = Math.max(slowest, (System.nanoTime() - t) / 1_000_000);
                    assertEquals(400, r.statusCode(), "a target's answer to a sid it does not know: " + r.body());
                    Thread.sleep(300);
                }
            } finally {
                redis.signal("CONT");
            }
            System.out.printf("cluster: redis stopped (SIGSTOP): slowest answer to an unknown sid %d ms%n", slowest);
            assertTrue(slowest < 1_000, "a request waited on a stopped Redis: " + slowest + " ms");
            for (ClusterInstance i : instances) {
                awaitTrue(() -> i.admin("GET", "/healthz", null).body().contains("\"redis\":\"up\""), 15_000,
                          i.name + " sees redis answer again after SIGCONT");
            }

            Map<String, Long> saidBefore = new java.util.HashMap<>();
            for (ClusterInstance i : instances) {
                saidBefore.put(i.name, countLines(i, "cluster: redis 127.0.0.1:" + redis.port() + "/0 unavailable"));
            }
            redis.kill();
            for (ClusterInstance i : instances) {
                awaitTrue(() -> i.admin("GET", "/healthz", null).body().contains("\"redis\":\"down\""), 10_000,
                          i.name + " says redis is down in /healthz");
                assertEquals(0, metric(i, "fulcrum_cluster_redis_up"), i.name + "'s metric");
            }
            // A registration during the outage applies where it was made, at once.
            awaitTrue(() -> !has(a, third), 10_000, "the third target is not registered on A");
            assertEquals(201, a.admin("POST", GROUP, "{\"target\":\"" + third + "\"}").statusCode());
            awaitTrue(() -> servedBy(a, chat.serverId(2)), 5_000, "A routes to it during the outage");
            Map<String, Object> heard = polling.ask("{\"cmd\":\"chat\"}", "chat-report", 30_000);
            for (Map<String, Object> cl : RotatingClients.clients(heard)) {
                assertEquals(12L, cl.get("heard"), "chat during the outage: " + cl);
            }
            Thread.sleep(2_000);
            long[] during = load.cut();

            redis.start();
            for (ClusterInstance i : instances) {
                awaitTrue(() -> i.admin("GET", "/healthz", null).body().contains("\"redis\":\"up\""), 15_000,
                          i.name + " sees redis up again");
            }
            for (ClusterInstance i : List.of(b, c)) {
                awaitTrue(() -> servedBy(i, chat.serverId(2)), 15_000,
                          i.name + " gets the registration A took during the outage");
            }
            Thread.sleep(1_000);
            long[] after = load.cut();
            load.stop.set(true);
            loader.join(10_000);

            System.out.printf("cluster: load through all instances: before %d requests p50 %d us p99 %d us; "
                              + "redis down %d requests p50 %d us p99 %d us; after %d requests p50 %d us p99 %d us; "
                              + "failed %d%n", before[0], before[1], before[2], during[0], during[1], during[2],
                              after[0], after[1], after[2], load.failed.get());
            assertEquals(0, load.failed.get(), "failed requests: " + load.lastFailure);
            assertTrue(during[0] > 50, "load ran during the outage: " + during[0]);
            // Noise on a shared 2-core machine is large: this only catches waiting on Redis (seconds).
            assertTrue(during[2] < Math.max(4 * before[2], 250_000), "p99 during the outage " + during[2] + " us");
            for (ClusterInstance i : instances) {
                assertEquals(saidBefore.get(i.name) + 1, countLines(i, "cluster: redis 127.0.0.1:" + redis.port()
                                                                       + "/0 unavailable"),
                             i.name + " says the outage once, however many reconnects it took");
            }
            Map<String, Object> report = polling.ask("{\"cmd\":\"report\"}", "report", 10_000);
            assertEquals(0L, report.get("failureCount"), "polling requests failed: " + report.get("failures"));
            assertEquals(0L, polling.count(e -> "disconnect".equals(e.get("ev"))), "a polling client lost its session");
            assertTrue(polling.mark() > mark);
        } finally {
            load.stop.set(true);
            loader.join(10_000);
            if (!redis.running()) {
                redis.start(); // the next tests need it
            }
        }
    }

    @Test
    @Order(4)
    void sessionsOfAKilledInstanceContinueOnTheOthers() throws Exception {
        // Each connection to the next instance or the one after, at random: clients in step would
        // all have their long-poll on the same instance.
        RotatingClients fresh = new RotatingClients(endpoints(), 18, "polling", "kill", logDir, "--step", "random");
        harnesses.add(fresh);
        awaitTrue(() -> fresh.count(e -> "connected".equals(e.get("ev"))) >= 18, 60_000, "every client connected");
        Map<String, Object> before = fresh.ask("{\"cmd\":\"report\"}", "report", 10_000);

        // A leaves the rotation (as a health-checked DNS name or an L4 balancer drops it), then dies.
        Map<String, Object> removed = fresh.ask("{\"cmd\":\"remove\",\"endpoint\":\"" + a.endpoint() + "\"}",
                                                "removed", 10_000);
        polling.send("{\"cmd\":\"remove\",\"endpoint\":\"" + a.endpoint() + "\"}");
        defaults.send("{\"cmd\":\"remove\",\"endpoint\":\"" + a.endpoint() + "\"}");
        Set<String> onA = new HashSet<>(cast(removed.get("clientsWithOpenConnections")));
        a.kill();
        instances.remove(a);

        Map<String, Object> heard = fresh.ask("{\"cmd\":\"chat\"}", "chat-report", 30_000);
        Thread.sleep(2_000);
        Map<String, Object> after = fresh.ask("{\"cmd\":\"report\"}", "report", 10_000);
        int learntOnA = 0;
        int kept = 0;
        for (Map<String, Object> cl : RotatingClients.clients(after)) {
            String id = (String) cl.get("id");
            List<String> sids = cast(cl.get("sids"));
            if (onA.contains(id)) {
                // A long-poll in flight through A broke; engine.io ends a session whose poll
                // connection closes early, so the client opens a new one, on B or C.
                continue;
            }
            assertEquals(1, sids.size(), "same session, no new handshake: " + cl);
            kept++;
            if (cast(cl.get("handshakeVia")).contains(a.endpoint())) {
                learntOnA++;
            }
        }
        for (Map<String, Object> cl : RotatingClients.clients(heard)) {
            if (!onA.contains(cl.get("id"))) {
                assertTrue((Long) cl.get("heard") >= 18 - onA.size(), "chat after the kill: " + cl);
            }
        }
        System.out.printf("cluster: A killed with %d of 18 polling clients' requests in flight on it; %d kept their "
                          + "sessions on B and C, %d of them opened through A%n", onA.size(), kept, learntOnA);
        assertTrue(learntOnA > 0, "some session opened through A went on elsewhere: " + before);
        assertEquals(0L, after.get("sessionUnknown"), "Session ID unknown: " + after.get("failures"));
        awaitTrue(() -> RotatingClients.clients(fresh.ask("{\"cmd\":\"report\"}", "report", 10_000)).stream()
                .allMatch(cl -> Boolean.TRUE.equals(cl.get("connected"))), 30_000, "every client connected again");
    }

    @Test
    @Order(5)
    void noInstanceLeakedABufferAndNoTargetAnsweredSessionIdUnknown() throws Exception {
        for (RotatingClients h : harnesses) {
            Map<String, Object> report = h.ask("{\"cmd\":\"report\"}", "report", 10_000);
            assertEquals(0L, report.get("sessionUnknown"), "Session ID unknown: " + report.get("failures"));
        }
        for (ClusterInstance i : List.of(a, b, c)) {
            assertEquals(0, countLines(i, "LEAK:"), i.name + " leaked (paranoid leak detection)");
        }
    }

    // ---- helpers ----

    /** Requests through every instance, in turn, on their own keep-alive connections. */
    private static final class Load implements Runnable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong failed = new AtomicLong();
        volatile String lastFailure = "";
        private final List<Long> micros = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void run() {
            int n = 0;
            while (!stop.get()) {
                List<ClusterInstance> live = instances.stream().filter(ClusterInstance::alive).toList();
                ClusterInstance i = live.get(n++ % live.size());
                long t = System.nanoTime();
                try {
                    HttpResponse<String> r = i.get("/health");
                    if (r.statusCode() != 200) {
                        failed.incrementAndGet();
                        lastFailure = i.name + ": " + r.statusCode() + " " + r.body();
                    }
                } catch (Exception e) {
                    failed.incrementAndGet();
                    lastFailure = i.name + ": " + e;
                }
                micros.add((System.nanoTime() - t) / 1_000);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** Count, p50 and p99 (microseconds) since the last cut. */
        long[] cut() {
            List<Long> l;
            synchronized (micros) {
                l = new ArrayList<>(micros);
                micros.clear();
            }
            Collections.sort(l);
            if (l.isEmpty()) {
                return new long[] {0, 0, 0};
            }
            return new long[] {l.size(), l.get(l.size() / 2), l.get(Math.min(l.size() - 1, (int) (l.size() * 0.99)))};
        }
    }

    private static boolean servedBy(ClusterInstance i, String server) throws Exception {
        for (int k = 0; k < 3; k++) {
            HttpResponse<String> r = i.get("/health");
            if (r.statusCode() == 200 && r.body().contains("\"" + server + "\"")) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code target} is one of {@code i}'s group's targets (not only named in the overlay). */
    private static boolean has(ClusterInstance i, String target) throws Exception {
        return i.admin("GET", "/targets", null).body().contains("\"target\":\"" + target + "\",\"weight\"");
    }

    /** Whether {@code target} is in {@code i}'s group and not draining. */
    private static boolean routable(ClusterInstance i, String target) throws Exception {
        String body = i.admin("GET", "/targets", null).body();
        int at = body.indexOf("\"target\":\"" + target + "\",\"weight\"");
        return at >= 0 && !body.startsWith("\"state\":\"draining\"", body.indexOf("\"state\"", at));
    }

    private static long metric(ClusterInstance i, String name) throws Exception {
        for (String line : i.admin("GET", "/metrics", null).body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no metric " + name + " on " + i.name);
    }

    private static long countLines(ClusterInstance i, String text) throws Exception {
        return i.output().lines().filter(l -> l.contains(text)).count();
    }

    @SuppressWarnings("unchecked")
    private static List<String> cast(Object o) {
        return (List<String>) o;
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    /** Polls {@code check} every 20 ms until true; returns the milliseconds it took. */
    private static long awaitTrue(Check check, long ms, String what) throws Exception {
        long t0 = System.nanoTime();
        long end = t0 + TimeUnit.MILLISECONDS.toNanos(ms);
        Exception last = null;
        while (System.nanoTime() < end) {
            try {
                if (check.ok()) {
                    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                }
            } catch (Exception | AssertionError e) {
                last = e instanceof Exception ex ? ex : new Exception(e);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("not within " + ms + " ms: " + what + (last == null ? "" : " (" + last + ")"));
    }
}
