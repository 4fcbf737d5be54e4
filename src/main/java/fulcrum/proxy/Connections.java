package fulcrum.proxy;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;

/** Shutdown steps applied to every client connection, each on its own event loop. */
public final class Connections {
    private Connections() {
    }

    /** Closes idle connections now and busy ones after their current exchange. */
    public static void shutdown(ChannelGroup connections) {
        each(connections, FrontendHandler::shutdown);
    }

    /** Closes whatever is left, tunnels included. */
    public static void forceClose(ChannelGroup connections) {
        each(connections, FrontendHandler::forceClose);
    }

    private static void each(ChannelGroup connections, java.util.function.Consumer<FrontendHandler> action) {
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> {
                FrontendHandler h = ch.pipeline().get(FrontendHandler.class);
                if (h != null) {
                    action.accept(h);
                } else {
                    ch.close();
                }
            });
        }
    }
}
