package fulcrum.admin;

import fulcrum.http.DesyncClass;
import fulcrum.proxy.ExchangeObserver;

/** Observers combined. */
final class Observers {
    private Observers() {
    }

    static ExchangeObserver both(ExchangeObserver a, ExchangeObserver b) {
        return new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                a.exchangeEnded(r);
                b.exchangeEnded(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
                a.tunnelClosed(r);
                b.tunnelClosed(r);
            }

            @Override
            public boolean recordsRequests() {
                return a.recordsRequests() || b.recordsRequests();
            }

            @Override
            public boolean keepsRecords() {
                return a.keepsRecords() || b.keepsRecords();
            }

            @Override
            public void rejected(String listener, int status, DesyncClass desyncClass) {
                a.rejected(listener, status, desyncClass);
                b.rejected(listener, status, desyncClass);
            }

            @Override
            public void connectionOpened(String listener) {
                a.connectionOpened(listener);
                b.connectionOpened(listener);
            }

            @Override
            public void connectionClosed(String listener) {
                a.connectionClosed(listener);
                b.connectionClosed(listener);
            }

            @Override
            public void retried(String group, String target) {
                a.retried(group, target);
                b.retried(group, target);
            }

            @Override
            public void connectFailed(String group, String target) {
                a.connectFailed(group, target);
                b.connectFailed(group, target);
            }

            @Override
            public void ejected(String group, String target, java.time.Duration duration, String reason) {
                a.ejected(group, target, duration, reason);
                b.ejected(group, target, duration, reason);
            }
        };
    }
}
