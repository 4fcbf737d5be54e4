package fulcrum.testing;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A real grpc-java server on loopback with the standard health service (grpc-services'
 * {@link HealthStatusManager}: the whole server SERVING from the start) and the services given.
 */
public record GrpcHealthServer(Server server, HealthStatusManager health, int port) implements AutoCloseable {
    /** With {@code services} besides the health service. */
    public static GrpcHealthServer start(BindableService... services) throws IOException {
        HealthStatusManager health = new HealthStatusManager();
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                                                 .addService(health.getHealthService());
        for (BindableService service : services) {
            b.addService(service);
        }
        Server s = b.build().start();
        return new GrpcHealthServer(s, health, s.getPort());
    }

    public String address() {
        return "127.0.0.1:" + port();
    }

    /** Stops at once: open calls fail, new connections are refused. */
    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
