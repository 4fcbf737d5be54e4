package fulcrum.health;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.GrpcHealthServer;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.protobuf.SimpleRequest;
import io.grpc.testing.protobuf.SimpleResponse;
import io.grpc.testing.protobuf.SimpleServiceGrpc;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A real gRPC client through a grpc group to two grpc-java servers: the one that sets itself
 * NOT_SERVING in its standard health service stops getting calls, and gets them again once it
 * serves.
 */
class GrpcHealthTrafficTest {
    /** Answers a unary call with the server's name. */
    private static final class Named extends SimpleServiceGrpc.SimpleServiceImplBase {
        private final String name;

        Named(String name) {
            this.name = name;
        }

        @Override
        public void unaryRpc(SimpleRequest request, StreamObserver<SimpleResponse> response) {
            response.onNext(SimpleResponse.newBuilder().setResponseMessage(name).build());
            response.onCompleted();
        }
    }

    @Test
    void callsMoveOffATargetThatIsNotServingAndBack() throws Exception {
        try (GrpcHealthServer a = GrpcHealthServer.start(new Named("a"));
             GrpcHealthServer b = GrpcHealthServer.start(new Named("b"));
             FulcrumFixture f = FulcrumFixture.start(
                     "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                     + "listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                     + "target-groups.app { targets = [\"" + a.address() + "\", \"" + b.address() + "\"]\n"
                     + "  protocol-version = grpc\n"
                     + "  health-check { interval = 1s, timeout = 900ms, healthy-threshold = 2, unhealthy-threshold = 2 } } }")) {
            ManagedChannel channel = NettyChannelBuilder.forAddress(f.address()).usePlaintext().build();
            try {
                Target ta = f.balancer().targetGroups().get("app").snapshot().byId(a.address());
                Target tb = f.balancer().targetGroups().get("app").snapshot().byId(b.address());
                await(() -> ta.state() == HealthState.HEALTHY && tb.state() == HealthState.HEALTHY, "both healthy");
                assertEquals(Set.of("a", "b"), answers(channel, 6), "round robin over both");

                a.health().setStatus("", ServingStatus.NOT_SERVING);
                await(() -> ta.state() == HealthState.UNHEALTHY, "a unhealthy");
                assertEquals("NOT_SERVING", ta.reason());
                assertEquals(Set.of("b"), answers(channel, 10), "no call reaches a server that is not serving");

                a.health().setStatus("", ServingStatus.SERVING);
                await(() -> ta.state() == HealthState.HEALTHY, "a healthy again");
                assertEquals(Set.of("a", "b"), answers(channel, 6), "a takes calls again");
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static Set<String> answers(ManagedChannel channel, int calls) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < calls; i++) {
            seen.add(SimpleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                                      .unaryRpc(SimpleRequest.getDefaultInstance()).getResponseMessage());
        }
        return seen;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 15 s: " + what);
            }
            Thread.sleep(20);
        }
    }
}
