package fulcrum.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The pooled allocator, reporting the first allocation that fails for want of memory. When
 * direct memory reaches its limit, java.nio.Bits sleeps and calls System.gc() before each refusal
 * (half a second or more on an event loop), and Netty catches what it throws in places (the
 * io_uring buffer ring's refill retries on every read): the process then holds its ports and
 * answers almost nothing, and -XX:+ExitOnOutOfMemoryError does not see these errors. The report
 * lets the command line exit instead; the error is thrown on as before.
 */
final class GuardedAllocator implements ByteBufAllocator {
    private final ByteBufAllocator pool;
    private final Consumer<String> exhausted;
    private final AtomicBoolean reported = new AtomicBoolean();

    GuardedAllocator(ByteBufAllocator pool, Consumer<String> exhausted) {
        this.pool = pool;
        this.exhausted = exhausted;
    }

    private OutOfMemoryError report(OutOfMemoryError e) {
        if (reported.compareAndSet(false, true)) {
            exhausted.accept("buffer memory exhausted (" + e + "); raise -XX:MaxDirectMemorySize or lower "
                             + "max-connections");
        }
        return e;
    }

    @Override
    public ByteBuf buffer() {
        try {
            return pool.buffer();
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf buffer(int initialCapacity) {
        try {
            return pool.buffer(initialCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf buffer(int initialCapacity, int maxCapacity) {
        try {
            return pool.buffer(initialCapacity, maxCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf ioBuffer() {
        try {
            return pool.ioBuffer();
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity) {
        try {
            return pool.ioBuffer(initialCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
        try {
            return pool.ioBuffer(initialCapacity, maxCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf heapBuffer() {
        return pool.heapBuffer();
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity) {
        return pool.heapBuffer(initialCapacity);
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
        return pool.heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf directBuffer() {
        try {
            return pool.directBuffer();
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity) {
        try {
            return pool.directBuffer(initialCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
        try {
            return pool.directBuffer(initialCapacity, maxCapacity);
        } catch (OutOfMemoryError e) {
            throw report(e);
        }
    }

    // A composite grows through the pool itself, unguarded; the proxy path does not use them.
    @Override
    public CompositeByteBuf compositeBuffer() {
        return pool.compositeBuffer();
    }

    @Override
    public CompositeByteBuf compositeBuffer(int maxNumComponents) {
        return pool.compositeBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer() {
        return pool.compositeHeapBuffer();
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
        return pool.compositeHeapBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer() {
        return pool.compositeDirectBuffer();
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
        return pool.compositeDirectBuffer(maxNumComponents);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return pool.isDirectBufferPooled();
    }

    @Override
    public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
        return pool.calculateNewCapacity(minNewCapacity, maxCapacity);
    }

    @Override
    public String toString() {
        return "GuardedAllocator(" + pool + ")";
    }
}
