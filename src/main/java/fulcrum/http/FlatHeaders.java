package fulcrum.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.netty.util.CharsetUtil;

import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.TreeSet;

/**
 * A head's fields as one array of name, value pairs in arrival order, looked up by a linear,
 * case-insensitive scan. Netty's DefaultHttpHeaders costs a 16-slot hash table and a 48-byte
 * entry per field; a proxied request carries a dozen fields at most and is looked up a few times,
 * so a scan is as fast and the head costs a third of the bytes (allocation per request sets how
 * often a young collection pauses every request in flight: docs/benchmarks.md). Values are kept
 * as given, without validation: the decoders have checked them.
 * <p>
 * {@link #set} appends after removing, and the first value is the one {@link #get} returns, as in
 * DefaultHttpHeaders. Iterators create an entry per field; {@link #encode} writes the fields
 * without them.
 */
public final class FlatHeaders extends HttpHeaders {
    private static final short COLON_SPACE = (':' << 8) | ' ';
    private static final short CRLF = ('\r' << 8) | '\n';

    /** name, value, name, value... */
    private CharSequence[] fields;
    private int size;

    public FlatHeaders() {
        this(8);
    }

    /** @param capacity the fields held before the array grows */
    public FlatHeaders(int capacity) {
        fields = new CharSequence[Math.max(2, 2 * capacity)];
    }

    /** Writes each field as {@code name: value CRLF}, as Netty's HTTP/1.1 encoders do. */
    public void encode(ByteBuf buf) {
        for (int i = 0; i < 2 * size; i += 2) {
            CharSequence name = fields[i];
            CharSequence value = fields[i + 1];
            int nameLength = name.length();
            int valueLength = value.length();
            buf.ensureWritable(nameLength + valueLength + 4);
            int at = buf.writerIndex();
            writeAscii(buf, at, name);
            at += nameLength;
            buf.setShort(at, COLON_SPACE);
            at += 2;
            writeAscii(buf, at, value);
            at += valueLength;
            buf.setShort(at, CRLF);
            buf.writerIndex(at + 2);
        }
    }

    private static void writeAscii(ByteBuf buf, int at, CharSequence s) {
        if (s instanceof AsciiString) {
            ByteBufUtil.copy((AsciiString) s, 0, buf, at, s.length());
        } else {
            buf.setCharSequence(at, s, CharsetUtil.US_ASCII);
        }
    }

    private int indexOf(CharSequence name, int from) {
        for (int i = from; i < 2 * size; i += 2) {
            if (AsciiString.contentEqualsIgnoreCase(fields[i], name)) {
                return i;
            }
        }
        return -1;
    }

    private CharSequence first(CharSequence name) {
        int i = indexOf(name, 0);
        return i < 0 ? null : fields[i + 1];
    }

    private void append(CharSequence name, CharSequence value) {
        if (name == null || value == null) {
            throw new NullPointerException(name == null ? "name" : "value of " + name);
        }
        if (2 * size == fields.length) {
            fields = Arrays.copyOf(fields, 2 * fields.length);
        }
        fields[2 * size] = name;
        fields[2 * size + 1] = value;
        size++;
    }

    /** A value as DefaultHttpHeaders would hold it: text as it is, a date in the HTTP format. */
    private static CharSequence text(Object value) {
        if (value instanceof CharSequence) {
            return (CharSequence) value;
        }
        if (value instanceof Date) {
            return DateFormatter.format((Date) value);
        }
        if (value == null) {
            throw new NullPointerException("value");
        }
        return value.toString();
    }

    private boolean removeAll(CharSequence name) {
        int to = 0;
        for (int i = 0; i < 2 * size; i += 2) {
            if (!AsciiString.contentEqualsIgnoreCase(fields[i], name)) {
                fields[to] = fields[i];
                fields[to + 1] = fields[i + 1];
                to += 2;
            }
        }
        boolean removed = to < 2 * size;
        Arrays.fill(fields, to, 2 * size, null);
        size = to / 2;
        return removed;
    }

    // ---- HttpHeaders ----

    @Override
    public String get(String name) {
        return get((CharSequence) name);
    }

    @Override
    public String get(CharSequence name) {
        CharSequence v = first(name);
        return v == null ? null : v.toString();
    }

    /** The first value of {@code name} as it is held, without making a String of it; null when none. */
    public CharSequence value(CharSequence name) {
        return first(name);
    }

    @Override
    public Integer getInt(CharSequence name) {
        CharSequence v = first(name);
        if (v == null) {
            return null;
        }
        try {
            return v instanceof AsciiString ? ((AsciiString) v).parseInt() : Integer.parseInt(v.toString());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = getInt(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Short getShort(CharSequence name) {
        Integer v = getInt(name);
        return v == null || v != v.shortValue() ? null : v.shortValue();
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = getShort(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        CharSequence v = first(name);
        Date d = v == null ? null : DateFormatter.parseHttpDate(v);
        return d == null ? null : d.getTime();
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = getTimeMillis(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public List<String> getAll(String name) {
        return getAll((CharSequence) name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        List<String> all = null;
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 2)) {
            if (all == null) {
                all = new ArrayList<>(2);
            }
            all.add(fields[i + 1].toString());
        }
        return all == null ? Collections.emptyList() : all;
    }

    @Override
    public Iterator<String> valueStringIterator(CharSequence name) {
        return getAll(name).iterator();
    }

    @Override
    public Iterator<? extends CharSequence> valueCharSequenceIterator(CharSequence name) {
        return new Iterator<CharSequence>() {
            private int next = indexOf(name, 0);

            @Override
            public boolean hasNext() {
                return next >= 0;
            }

            @Override
            public CharSequence next() {
                if (next < 0) {
                    throw new NoSuchElementException();
                }
                CharSequence v = fields[next + 1];
                next = indexOf(name, next + 2);
                return v;
            }
        };
    }

    @Override
    public List<Map.Entry<String, String>> entries() {
        List<Map.Entry<String, String>> all = new ArrayList<>(size);
        for (int i = 0; i < 2 * size; i += 2) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(fields[i].toString(), fields[i + 1].toString()));
        }
        return all;
    }

    @Override
    public boolean contains(String name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(CharSequence name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
        return contains((CharSequence) name, value, ignoreCase);
    }

    /** Whether a field holds exactly {@code value}, as DefaultHttpHeaders (no splitting on commas). */
    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 2)) {
            CharSequence v = fields[i + 1];
            if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return entries().iterator();
    }

    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < 2 * size;
            }

            @Override
            public Map.Entry<CharSequence, CharSequence> next() {
                if (next >= 2 * size) {
                    throw new NoSuchElementException();
                }
                Map.Entry<CharSequence, CharSequence> e =
                        new AbstractMap.SimpleImmutableEntry<>(fields[next], fields[next + 1]);
                next += 2;
                return e;
            }
        };
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<String> names() {
        Set<String> seen = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < 2 * size; i += 2) {
            String n = fields[i].toString();
            if (seen.add(n)) {
                names.add(n);
            }
        }
        return names;
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        append(name, text(value));
        return this;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        return add((CharSequence) name, values);
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
        for (Object v : values) {
            append(name, text(v));
        }
        return this;
    }

    @Override
    public HttpHeaders add(HttpHeaders headers) {
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself");
        }
        Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            append(e.getKey(), e.getValue());
        }
        return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
        append(name, Integer.toString(value));
        return this;
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
        append(name, Short.toString(value));
        return this;
    }

    @Override
    public HttpHeaders set(String name, Object value) {
        return set((CharSequence) name, value);
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
        CharSequence v = text(value);
        removeAll(name);
        append(name, v);
        return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
        return set((CharSequence) name, values);
    }

    @Override
    public HttpHeaders set(CharSequence name, Iterable<?> values) {
        removeAll(name);
        return add(name, values);
    }

    @Override
    public HttpHeaders set(HttpHeaders headers) {
        if (headers != this) {
            clear();
            add(headers);
        }
        return this;
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
        return set(name, Integer.toString(value));
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
        return set(name, Short.toString(value));
    }

    @Override
    public HttpHeaders remove(String name) {
        removeAll(name);
        return this;
    }

    @Override
    public HttpHeaders remove(CharSequence name) {
        removeAll(name);
        return this;
    }

    @Override
    public HttpHeaders clear() {
        Arrays.fill(fields, 0, 2 * size, null);
        size = 0;
        return this;
    }

    @Override
    public HttpHeaders copy() {
        FlatHeaders copy = new FlatHeaders(Math.max(1, size));
        System.arraycopy(fields, 0, copy.fields, 0, 2 * size);
        copy.size = size;
        return copy;
    }
}
