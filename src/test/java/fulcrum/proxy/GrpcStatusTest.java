package fulcrum.proxy;

import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class GrpcStatusTest {
    @Test
    void grpcTimeoutUnitsAndBadValues() {
        assertEquals(300_000_000L, GrpcStatus.timeoutNanos("300m"));
        assertEquals(2_000_000_000L, GrpcStatus.timeoutNanos("2S"));
        assertEquals(3_600_000_000_000L, GrpcStatus.timeoutNanos("1H"));
        assertEquals(120_000_000_000L, GrpcStatus.timeoutNanos("2M"));
        assertEquals(5_000L, GrpcStatus.timeoutNanos("5u"));
        assertEquals(7L, GrpcStatus.timeoutNanos("7n"));
        assertEquals(99_999_999L * 1_000_000L, GrpcStatus.timeoutNanos("99999999m"));
        // Huge values are capped far inside a long, so a deadline from them cannot wrap.
        long capped = GrpcStatus.timeoutNanos("99999999H");
        assertEquals(true, capped > 0 && capped <= 100L * 24 * 3_600_000_000_000L);
        for (String bad : new String[] {null, "", "m", "5", "5x", "-5m", "123456789m", "1.5S", " 5m"}) {
            assertEquals(-1, GrpcStatus.timeoutNanos(bad), String.valueOf(bad));
        }
    }

    @Test
    void ownAnswersAreTrailersOnlyStatuses() {
        FullHttpResponse res = GrpcStatus.response(HttpResponseStatus.SERVICE_UNAVAILABLE);
        assertEquals(200, res.status().code());
        assertEquals("application/grpc", res.headers().get("content-type"));
        assertEquals("14", res.headers().get("grpc-status"));
        assertEquals("no healthy target", res.headers().get("grpc-message"));
        assertFalse(res.content().isReadable());
        assertEquals("4", GrpcStatus.response(HttpResponseStatus.GATEWAY_TIMEOUT).headers().get("grpc-status"));
        assertEquals("14", GrpcStatus.response(HttpResponseStatus.BAD_GATEWAY).headers().get("grpc-status"));
        assertEquals("8", GrpcStatus.response(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE).headers().get("grpc-status"));
        LastHttpContent t = GrpcStatus.trailers(HttpResponseStatus.BAD_GATEWAY);
        assertEquals("14", t.trailingHeaders().get("grpc-status"));
        assertEquals("target unavailable", t.trailingHeaders().get("grpc-message"));
    }
}
