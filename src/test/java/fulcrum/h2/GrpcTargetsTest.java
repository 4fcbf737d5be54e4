package fulcrum.h2;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Backend;
import fulcrum.testing.TestCerts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A grpc target group between a real gRPC client and two real gRPC servers (grpc-java, its own
 * shaded Netty), over h2c with prior knowledge and over TLS with ALPN h2: all four call kinds,
 * deadlines, statuses with trailing metadata, 4 MiB messages, round robin, a stopped server, and
 * the gRPC statuses Fulcrum answers itself.
 */
class GrpcTargetsTest {
    private static final int MAX_MESSAGE = 16 << 20;
    private static final Metadata.Key<String> DETAIL = Metadata.Key.of("x-detail", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<byte[]> BLOB = Metadata.Key.of("x-blob-bin", Metadata.BINARY_BYTE_MARSHALLER);

    @TempDir
    static Path dir;
    private static final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
    private static TestCerts.Cert cert;
    private static Server a;
    private static Server b;
    private static H2Backend hang;
    private static FulcrumFixture lb;
    private static ManagedChannel plain;
    private static ManagedChannel tls;

    @BeforeAll
    static void start() throws Exception {
        cert = TestCerts.generate(dir, "lb", "lb.test", "dns:lb.test,ip:127.0.0.1,ip:127.0.0.2");
        a = server("a");
        b = server("b");
        hang = H2Backend.start("hang");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 2, shutdown-grace = 1s
                  listeners = [
                    { name = plain, bind = "127.0.0.1:0", default-target-group = grpc }
                    { name = tls, bind = "127.0.0.2:0", default-target-group = grpc
                      tls { certificates = [{ cert = "%s", key = "%s" }] } }
                    { name = empty, bind = "127.0.0.1:0", default-target-group = empty }
                    { name = hang, bind = "127.0.0.1:0", default-target-group = hang }
                  ]
                  target-groups {
                    grpc { targets = ["127.0.0.1:%d", "127.0.0.1:%d"], protocol-version = grpc
                           health-check.enabled = false }
                    empty { targets = [], protocol-version = grpc, health-check.enabled = false }
                    hang { targets = ["%s"], protocol-version = grpc, response-timeout = 30s
                           health-check.enabled = false }
                  }
                }""".formatted(cert.certFile(), cert.keyFile(), a.getPort(), b.getPort(), hang.address()));
        plain = NettyChannelBuilder.forAddress(lb.balancer().listenerAddress(0)).usePlaintext()
                .maxInboundMessageSize(MAX_MESSAGE).build();
        InetSocketAddress t = lb.balancer().listenerAddress(1);
        tls = NettyChannelBuilder.forAddress(t.getHostString(), t.getPort()).overrideAuthority("lb.test")
                .sslContext(GrpcSslContexts.forClient().trustManager(cert.certFile().toFile()).build())
                .maxInboundMessageSize(MAX_MESSAGE).build();
    }

    @AfterAll
    static void stop() throws Exception {
        for (ManagedChannel c : new ManagedChannel[] {plain, tls}) {
            if (c != null) {
                c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        if (lb != null) {
            lb.close();
        }
        for (Server s : new Server[] {a, b}) {
            if (s != null) {
                s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        if (hang != null) {
            hang.close();
        }
        timers.shutdownNow();
    }

    private static Server server(String name) throws Exception {
        return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Service(name))
                .maxInboundMessageSize(MAX_MESSAGE).build().start();
    }

    private static SimpleRequest req(String m) {
        return SimpleRequest.newBuilder().setRequestMessage(m).build();
    }

    private static SimpleServiceGrpc.SimpleServiceBlockingStub stub(ManagedChannel c) {
        return SimpleServiceGrpc.newBlockingStub(c).withDeadlineAfter(20, TimeUnit.SECONDS);
    }

    @Test
    void unaryOverH2cAndTlsSpreadsOverBothServers() {
        for (ManagedChannel c : List.of(plain, tls)) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 6; i++) {
                String r = stub(c).unaryRpc(req("hello")).getResponseMessage();
                assertTrue(r.matches("[ab] hello"), r);
                seen.add(r.substring(0, 1));
            }
            assertEquals(Set.of("a", "b"), seen, "round robin over both servers");
        }
    }

    @Test
    void serverStreaming() {
        for (ManagedChannel c : List.of(plain, tls)) {
            Iterator<SimpleResponse> it = stub(c).serverStreamingRpc(req("count:200"));
            int n = 0;
            while (it.hasNext()) {
                assertTrue(it.next().getResponseMessage().endsWith(" " + n), "in order");
                n++;
            }
            assertEquals(200, n);
        }
    }

    @Test
    void clientStreaming() throws Exception {
        for (ManagedChannel c : List.of(plain, tls)) {
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<Object> result = new AtomicReference<>();
            StreamObserver<SimpleRequest> up = SimpleServiceGrpc.newStub(c).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .clientStreamingRpc(observer(result, done));
            for (int i = 0; i < 100; i++) {
                up.onNext(req("x".repeat(i)));
            }
            up.onCompleted();
            assertTrue(done.await(20, TimeUnit.SECONDS));
            assertTrue(result.get().toString().endsWith("messages=100 chars=4950"), result.get().toString());
        }
    }

    @Test
    void bidirectionalStreaming() throws Exception {
        for (ManagedChannel c : List.of(plain, tls)) {
            List<String> got = new ArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            AtomicReference<Throwable> error = new AtomicReference<>();
            StreamObserver<SimpleRequest> up = SimpleServiceGrpc.newStub(c).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .bidiStreamingRpc(new StreamObserver<>() {
                        @Override
                        public void onNext(SimpleResponse r) {
                            synchronized (got) {
                                got.add(r.getResponseMessage());
                            }
                        }

                        @Override
                        public void onError(Throwable t) {
                            error.set(t);
                            done.countDown();
                        }

                        @Override
                        public void onCompleted() {
                            done.countDown();
                        }
                    });
            for (int i = 0; i < 50; i++) {
                up.onNext(req("m" + i));
            }
            up.onCompleted();
            assertTrue(done.await(20, TimeUnit.SECONDS));
            assertEquals(null, error.get());
            assertEquals(50, got.size());
            assertTrue(got.get(49).endsWith(" m49"), got.get(49));
        }
    }

    @Test
    void aClientDeadlineShorterThanTheServerEndsTheCall() {
        for (ManagedChannel c : List.of(plain, tls)) {
            long t0 = System.nanoTime();
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> SimpleServiceGrpc.newBlockingStub(c).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                            .unaryRpc(req("sleep:5000")));
            assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode(), e.toString());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(4), "ended by the deadline");
        }
        // The connections stay usable.
        assertTrue(stub(plain).unaryRpc(req("after")).getResponseMessage().endsWith(" after"));
    }

    @Test
    void fulcrumHonoursGrpcTimeoutWithAStatusOfItsOwn() throws Exception {
        // A target that never answers and ignores grpc-timeout; the group's response-timeout is 30s.
        Path body = dir.resolve("frame.bin");
        Files.write(body, grpcFrame(req("anything")));
        long t0 = System.nanoTime();
        Cli.Result r = Cli.run(20, "curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null",
                               "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "grpc-timeout: 400m",
                               "--data-binary", "@" + body,
                               "http://127.0.0.1:" + lb.balancer().listenerAddress(3).getPort()
                               + "/hang/grpc.testing.SimpleService/UnaryRpc");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(0, r.exit(), r.output());
        String h = r.output().toLowerCase();
        assertTrue(h.startsWith("http/2 200"), h);
        assertTrue(h.contains("content-type: application/grpc"), h);
        assertTrue(h.contains("grpc-status: 4"), h);
        assertTrue(h.contains("grpc-message: "), h);
        assertTrue(ms >= 350 && ms < 5000, "answered after " + ms + " ms");
        System.out.println("grpc-timeout 400m answered after " + ms + " ms: " + h.replace("\r\n", " | "));
    }

    @Test
    void aStatusWithTrailingMetadataArrivesIntact() {
        for (ManagedChannel c : List.of(plain, tls)) {
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> stub(c).unaryRpc(req("fail")));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertEquals("no such thing", e.getStatus().getDescription());
            Metadata t = e.getTrailers();
            assertTrue(t.get(DETAIL).matches("custom-[ab]"), String.valueOf(t));
            assertArrayEquals(new byte[] {0, 1, 2, (byte) 255}, t.get(BLOB));
        }
    }

    @Test
    void fourMebibytesEachWay() {
        String big = "y".repeat(4 << 20);
        for (ManagedChannel c : List.of(plain, tls)) {
            String r = stub(c).unaryRpc(req("big:" + big)).getResponseMessage();
            assertEquals((4 << 20) + 4 + 2, r.length(), "a 4 MiB answer to a 4 MiB request");
            assertTrue(r.endsWith("y") && r.contains("big:yyy"));
        }
    }

    @Test
    void noTargetIsUnavailableNotAPage() {
        ManagedChannel c = NettyChannelBuilder.forAddress(lb.balancer().listenerAddress(2)).usePlaintext().build();
        try {
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> stub(c).unaryRpc(req("hello")));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
            assertEquals("no healthy target", e.getStatus().getDescription());
        } finally {
            c.shutdownNow();
        }
    }

    @Test
    void aStoppedServerSendsCallsToTheOtherAndNoneLeftIsUnavailable() throws Exception {
        Server c = server("c");
        Server d = server("d");
        ManagedChannel ch = null;
        try (FulcrumFixture two = FulcrumFixture.forTargets("protocol-version = grpc\nhealth-check.enabled = false",
                                                            "127.0.0.1:" + c.getPort(), "127.0.0.1:" + d.getPort())) {
            ch = NettyChannelBuilder.forAddress(two.address()).usePlaintext().build();
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 4; i++) {
                seen.add(stub(ch).unaryRpc(req("x")).getResponseMessage().substring(0, 1));
            }
            assertEquals(Set.of("c", "d"), seen);
            d.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            for (int i = 0; i < 6; i++) {
                assertEquals("c x", stub(ch).unaryRpc(req("x")).getResponseMessage(), "call " + i);
            }
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            ManagedChannel last = ch;
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> stub(last).unaryRpc(req("x")));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        } finally {
            if (ch != null) {
                ch.shutdownNow();
            }
            c.shutdownNow();
            d.shutdownNow();
        }
    }

    @Test
    void aTargetResetAfterTheFirstMessageEndsTheCallUnavailable() throws Exception {
        try (H2Backend resetting = H2Backend.start("resetting").grpcReset(true);
             FulcrumFixture one = FulcrumFixture.forTargets("protocol-version = grpc\nhealth-check.enabled = false",
                                                            resetting.address())) {
            ManagedChannel c = NettyChannelBuilder.forAddress(one.address()).usePlaintext().build();
            try {
                Iterator<SimpleResponse> it = stub(c).serverStreamingRpc(req("count:5"));
                assertEquals("partial", it.next().getResponseMessage());
                StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                                                                                          it::hasNext);
                // Trailers from Fulcrum, not a reset: the client sees the status it retries on.
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
                assertEquals("target unavailable", e.getStatus().getDescription());
            } finally {
                c.shutdownNow();
            }
        }
    }

    @Test
    void twoHundredCallsAtOnce() throws Exception {
        int n = 200;
        CountDownLatch done = new CountDownLatch(n);
        List<Object> results = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            SimpleServiceGrpc.newStub(plain).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .unaryRpc(req("sleep:" + (i % 5) * 20), new StreamObserver<>() {
                        @Override
                        public void onNext(SimpleResponse r) {
                            results.add(r.getResponseMessage());
                        }

                        @Override
                        public void onError(Throwable t) {
                            results.add(t);
                            done.countDown();
                        }

                        @Override
                        public void onCompleted() {
                            done.countDown();
                        }
                    });
        }
        assertTrue(done.await(30, TimeUnit.SECONDS));
        assertEquals(n, results.size());
        long ok = results.stream().filter(r -> r instanceof String s && s.matches("[ab] sleep:\\d+")).count();
        assertEquals(n, ok, results.stream().filter(r -> !(r instanceof String)).findFirst().orElse("").toString());
    }

    /** One gRPC message as it travels: uncompressed flag, 4-byte length, the protobuf bytes. */
    private static byte[] grpcFrame(SimpleRequest r) {
        byte[] m = r.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(m.length).array());
        out.writeBytes(m);
        return out.toByteArray();
    }

    private static StreamObserver<SimpleResponse> observer(AtomicReference<Object> result, CountDownLatch done) {
        return new StreamObserver<>() {
            @Override
            public void onNext(SimpleResponse r) {
                result.set(r.getResponseMessage());
            }

            @Override
            public void onError(Throwable t) {
                result.set(t);
                done.countDown();
            }

            @Override
            public void onCompleted() {
                done.countDown();
            }
        };
    }

    /** The test's service: answers name-prefixed, and fails, sleeps, streams or grows on request. */
    private static final class Service extends SimpleServiceGrpc.SimpleServiceImplBase {
        private final String name;

        Service(String name) {
            this.name = name;
        }

        private SimpleResponse res(String m) {
            return SimpleResponse.newBuilder().setResponseMessage(name + " " + m).build();
        }

        @Override
        public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            String m = request.getRequestMessage();
            if (m.equals("fail")) {
                Metadata t = new Metadata();
                t.put(DETAIL, "custom-" + name);
                t.put(BLOB, new byte[] {0, 1, 2, (byte) 255});
                out.onError(Status.FAILED_PRECONDITION.withDescription("no such thing").asRuntimeException(t));
                return;
            }
            if (m.startsWith("sleep:")) {
                timers.schedule(() -> {
                    try {
                        out.onNext(res(m));
                        out.onCompleted();
                    } catch (RuntimeException cancelled) {
                        // the call is gone
                    }
                }, Long.parseLong(m.substring(6)), TimeUnit.MILLISECONDS);
                return;
            }
            out.onNext(res(m));
            out.onCompleted();
        }

        @Override
        public void serverStreamingRpc(SimpleRequest request, StreamObserver<SimpleResponse> out) {
            int n = Integer.parseInt(request.getRequestMessage().substring(6));
            for (int i = 0; i < n; i++) {
                out.onNext(res(Integer.toString(i)));
            }
            out.onCompleted();
        }

        @Override
        public StreamObserver<SimpleRequest> clientStreamingRpc(StreamObserver<SimpleResponse> out) {
            return new StreamObserver<>() {
                int messages;
                long chars;

                @Override
                public void onNext(SimpleRequest r) {
                    messages++;
                    chars += r.getRequestMessage().length();
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    out.onNext(res("messages=" + messages + " chars=" + chars));
                    out.onCompleted();
                }
            };
        }

        @Override
        public StreamObserver<SimpleRequest> bidiStreamingRpc(StreamObserver<SimpleResponse> out) {
            return new StreamObserver<>() {
                @Override
                public void onNext(SimpleRequest r) {
                    out.onNext(res(r.getRequestMessage()));
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    out.onCompleted();
                }
            };
        }
    }
}
