package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.TargetGroup;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.WsEchoBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DrainReloadTest {
    private static final String TCP_CHECKS = "health-check { protocol = tcp, interval = 200ms, timeout = 150ms }";

    @TempDir
    Path dir;

    @Test
    void drainingKeepsTunnelsForTheDelayThenClosesThemAtTheConfiguredPace() throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("ws1");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(
                     TCP_CHECKS + "\nderegistration-delay = 1s\ndrain-close-rate = 10", backend.address()))) {
            HttpClient client = HttpClient.newHttpClient();
            List<OpsFixture.Ws> clients = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                OpsFixture.Ws w = OpsFixture.Ws.open(client, f.port());
                assertEquals("hello from ws1", w.next());
                clients.add(w);
            }
            long start = System.nanoTime();
            HttpResponse<String> r = f.call("DELETE", "/target-groups/app/targets/" + backend.address(), null);
            assertEquals(202, r.statusCode(), r.body());
            Thread.sleep(700);
            for (OpsFixture.Ws w : clients) {
                assertFalse(w.closedAt.isDone(), "a tunnel closed before the deregistration delay ended");
            }
            clients.get(0).ws.sendText("still here", true).get(5, TimeUnit.SECONDS);
            assertEquals("still here", clients.get(0).next());
            long first = Long.MAX_VALUE;
            long last = 0;
            for (OpsFixture.Ws w : clients) {
                long at = w.closedAt.get(15, TimeUnit.SECONDS);
                first = Math.min(first, at);
                last = Math.max(last, at);
            }
            double firstS = (first - start) / 1e9;
            double spanS = (last - first) / 1e9;
            // 20 tunnels at 10/s: one at once, then one every 100 ms, so about 1.9 s from first to last.
            assertTrue(firstS >= 0.9, "first tunnel closed " + firstS + " s after deregistration");
            assertTrue(spanS >= 1.5 && spanS < 5, "20 tunnels at 10/s closed over " + spanS + " s");
            TargetGroup g = f.ops.balancer().targetGroups().get("app");
            OpsFixture.await("target removed", () -> g.snapshot().all().isEmpty());
        }
    }

    @Test
    void reloadWithAnInvalidFileChangesNothing() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(TCP_CHECKS, a.address()))) {
            // Times change with every health check (one may run between the two reads): not compared.
            String before = withoutTimes(f.get("/targets").body());
            // Valid HOCON that fails validation: a second target with a bad port, and a bad interval.
            OpsFixture.write(f.file, OpsFixture.config("health-check.interval = 0s", a.address(), "127.0.0.1:70000"));
            HttpResponse<String> r = f.call("POST", "/reload", null);
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"reloaded\":false") && r.body().contains("fulcrum.target-groups.app"),
                       r.body());
            OpsFixture.write(f.file, "fulcrum { listeners = [ ");
            assertEquals(400, f.call("POST", "/reload", null).statusCode());
            assertEquals(before, withoutTimes(f.get("/targets").body()));
            assertEquals(200, f.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(f.url("/x"))).build(),
                                          HttpResponse.BodyHandlers.ofString()).statusCode());
        }
    }

    private static String withoutTimes(String targets) {
        return targets.replaceAll("\"(since|at)\":\"[^\"]*\"", "");
    }

    @Test
    void reloadKeepsEveryTunnelOpenWhileTargetsGroupsAndSettingsChange() throws Exception {
        try (WsEchoBackend ws1 = new WsEchoBackend("ws1"); HttpBackend b = HttpBackend.start("b");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(TCP_CHECKS, ws1.address()))) {
            HttpClient client = HttpClient.newHttpClient();
            List<OpsFixture.Ws> clients = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                OpsFixture.Ws w = OpsFixture.Ws.open(client, f.port());
                assertEquals("hello from ws1", w.next());
                clients.add(w);
            }
            // A new target, a changed setting, a new group and a rule sending /b/* to it.
            String next = OpsFixture.config(TCP_CHECKS + "\nresponse-timeout = 30s", ws1.address(), b.address())
                    .replace("default-target-group = app }",
                             "default-target-group = app, rules = [{ priority = 1, conditions.path = [\"/b/*\"],"
                             + " action.forward = other }] }")
                    .replace("target-groups.app {", "target-groups.other { targets = [\"" + b.address() + "\"], "
                                                    + "health-check.enabled = false }\ntarget-groups.app {");
            OpsFixture.write(f.file, next);
            HttpResponse<String> r = f.call("POST", "/reload", null);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("target " + b.address() + " added (initial)"), r.body());
            assertTrue(r.body().contains("response-timeout changed"), r.body());
            assertTrue(r.body().contains("target group other added"), r.body());
            TargetGroup app = f.ops.balancer().targetGroups().get("app");
            assertEquals(java.time.Duration.ofSeconds(30), app.settings().responseTimeout());
            assertNotNull(app.snapshot().byId(b.address()));
            HttpResponse<String> viaRule = f.http.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(f.url("/b/x"))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals("b", viaRule.body());

            // The reload removes b from app again: it drains (nothing in flight: removed soon).
            OpsFixture.write(f.file, next.replace(", \"" + b.address() + "\"]\nhealth-check", "]\nhealth-check"));
            r = f.call("POST", "/reload", null);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("target " + b.address() + " removed (draining)"), r.body());
            OpsFixture.await("b removed from app", () -> app.snapshot().byId(b.address()) == null);

            for (OpsFixture.Ws w : clients) {
                assertFalse(w.closedAt.isDone(), "a tunnel was closed by the reload");
            }
            for (int i = 0; i < clients.size(); i += 10) {
                clients.get(i).ws.sendText("after " + i, true).get(5, TimeUnit.SECONDS);
                assertEquals("after " + i, clients.get(i).next());
            }
            assertEquals(HealthState.HEALTHY, app.snapshot().byId(ws1.address()).state());
            assertEquals(100, app.snapshot().byId(ws1.address()).tunnels());
        }
    }
}
