package fulcrum.proxy;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;

import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/** Shutdown steps applied to every client connection, each on its own event loop. */
public final class Connections {
    private Connections() {
    }

    /** Closes idle connections now and busy ones after their current exchange; see {@link #each}. */
    public static int shutdown(ChannelGroup connections) {
        return each(connections, FrontendHandler::shutdown);
    }

    /** Closes whatever is left, tunnels included; see {@link #each}. */
    public static int forceClose(ChannelGroup connections) {
        return each(connections, FrontendHandler::forceClose);
    }

    /**
     * Returns how many connections belong to an event loop that no longer takes tasks (it died):
     * they are skipped, so that a stop still goes on to the end; the process exit closes them.
     */
    private static int each(ChannelGroup connections, Consumer<FrontendHandler> action) {
        int orphans = 0;
        for (Channel ch : connections) {
            try {
                ch.eventLoop().execute(() -> {
                    FrontendHandler h = ch.pipeline().get(FrontendHandler.class);
                    if (h != null) {
                        action.accept(h);
                    } else {
                        ch.close();
                    }
                });
            } catch (RejectedExecutionException e) {
                orphans++;
            }
        }
        return orphans;
    }
}
