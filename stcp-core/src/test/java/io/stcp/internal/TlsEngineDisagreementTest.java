package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.ByteBuffer;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLEngineResult.Status;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A TLS read never spins on a record the engine will not read: if the engine answers a whole
 * record (by its header's length) with nothing consumed — an underflow, as if the record went on,
 * or an OK with nothing done — the read fails with an {@link SSLException} instead of asking again
 * for ever. The JDK's engine is not known to do either; this engine does it on purpose.
 */
class TlsEngineDisagreementTest {

    @ParameterizedTest
    @EnumSource(value = Status.class, names = {"BUFFER_UNDERFLOW", "OK"})
    void aWholeRecordTheEngineReadsNothingOfFailsTheReadInsteadOfSpinning(Status answer) throws Exception {
        MemoryTransport under = new MemoryTransport();
        TlsTransport tls = new TlsTransport(under, new RealTlsConfig.Engine(new StuckEngine(answer), false), () -> 0);
        try {
            under.feed(new byte[] {23, 3, 3, 0, 4, 1, 2, 3, 4}); // application data, 4 bytes long: whole
            byte[] b = new byte[64];
            assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                    assertThatThrownBy(() -> tls.read(b, 0, b.length, 0))
                            .isInstanceOf(SSLException.class)
                            .hasMessageContaining("reads nothing of a whole record"));
        } finally {
            tls.close();
        }
    }

    /** Answers every unwrap with {@code answer} and nothing consumed or produced; the rest is a real engine's. */
    private static final class StuckEngine extends SSLEngine {
        private final SSLEngine real;
        private final Status answer;

        StuckEngine(Status answer) throws Exception {
            this.real = SSLContext.getDefault().createSSLEngine();
            this.answer = answer;
        }

        @Override
        public SSLEngineResult unwrap(ByteBuffer src, ByteBuffer[] dsts, int offset, int length) {
            return new SSLEngineResult(answer, HandshakeStatus.NOT_HANDSHAKING, 0, 0);
        }

        @Override
        public SSLEngineResult wrap(ByteBuffer[] srcs, int offset, int length, ByteBuffer dst) throws SSLException {
            return real.wrap(srcs, offset, length, dst);
        }

        @Override
        public Runnable getDelegatedTask() {
            return real.getDelegatedTask();
        }

        @Override
        public void closeInbound() throws SSLException {
            real.closeInbound();
        }

        @Override
        public boolean isInboundDone() {
            return real.isInboundDone();
        }

        @Override
        public void closeOutbound() {
            real.closeOutbound();
        }

        @Override
        public boolean isOutboundDone() {
            return real.isOutboundDone();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return real.getSupportedCipherSuites();
        }

        @Override
        public String[] getEnabledCipherSuites() {
            return real.getEnabledCipherSuites();
        }

        @Override
        public void setEnabledCipherSuites(String[] suites) {
            real.setEnabledCipherSuites(suites);
        }

        @Override
        public String[] getSupportedProtocols() {
            return real.getSupportedProtocols();
        }

        @Override
        public String[] getEnabledProtocols() {
            return real.getEnabledProtocols();
        }

        @Override
        public void setEnabledProtocols(String[] protocols) {
            real.setEnabledProtocols(protocols);
        }

        @Override
        public SSLSession getSession() {
            return real.getSession();
        }

        @Override
        public void beginHandshake() throws SSLException {
            real.beginHandshake();
        }

        @Override
        public HandshakeStatus getHandshakeStatus() {
            return HandshakeStatus.NOT_HANDSHAKING;
        }

        @Override
        public void setUseClientMode(boolean mode) {
            real.setUseClientMode(mode);
        }

        @Override
        public boolean getUseClientMode() {
            return real.getUseClientMode();
        }

        @Override
        public void setNeedClientAuth(boolean need) {
            real.setNeedClientAuth(need);
        }

        @Override
        public boolean getNeedClientAuth() {
            return real.getNeedClientAuth();
        }

        @Override
        public void setWantClientAuth(boolean want) {
            real.setWantClientAuth(want);
        }

        @Override
        public boolean getWantClientAuth() {
            return real.getWantClientAuth();
        }

        @Override
        public void setEnableSessionCreation(boolean flag) {
            real.setEnableSessionCreation(flag);
        }

        @Override
        public boolean getEnableSessionCreation() {
            return real.getEnableSessionCreation();
        }
    }
}
