package fulcrum.proxy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a listener says when it turns a connection away: the connection limit only when there is
 * one and it was reached; a connection accepted while the listener stops is closed without
 * claiming a limit ("connection limit 0 reached" was logged on every stop).
 */
class RefusalLogTest {
    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(FrontendInitializer.class);

    @BeforeEach
    void capture() {
        logged.start();
        logger.addAppender(logged);
    }

    @AfterEach
    void release() {
        logger.detachAppender(logged);
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private ListenerContext listener(int maxConnections) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app, "
                + "max-connections = " + maxConnections + " }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:1\"], health-check.enabled = false } }"));
        TargetGroup group = new TargetGroup(s.targetGroups().get("app"), new byte[32]);
        return new ListenerContext(s.listeners().get(0), ListenerContext.Router.to(group),
                                   new BackendPools(new Bootstrap()), false);
    }

    /** Runs the initializer on a fresh (unconnected, registered) channel; whether it was closed. */
    private boolean accept(ListenerContext l) throws Exception {
        FrontendInitializer init = new FrontendInitializer(l, new DefaultChannelGroup(GlobalEventExecutor.INSTANCE), null);
        NioSocketChannel ch = new NioSocketChannel();
        loop.register(ch).sync();
        boolean closed = ch.eventLoop().submit(() -> {
            init.initChannel(ch);
            return !ch.isOpen();
        }).get(5, TimeUnit.SECONDS);
        ch.close().sync();
        return closed;
    }

    private List<String> warnings() {
        return logged.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
                          .map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void stoppingWithoutALimitClaimsNoLimit() throws Exception {
        ListenerContext l = listener(0);
        l.stopping(true);
        assertTrue(accept(l), "closed");
        assertEquals(List.of(), warnings());
    }

    @Test
    void aLimitReachedIsSaidWithItsNumber() throws Exception {
        ListenerContext l = listener(1);
        l.connectionOpened();
        assertTrue(accept(l), "closed");
        List<String> w = warnings();
        assertEquals(1, w.size(), w.toString());
        assertTrue(w.get(0).startsWith("listener t: connection limit 1 reached, refusing connections"), w.get(0));
        l.connectionClosed();
        assertFalse(accept(l), "below the limit: served");
    }
}
