/**
 * The Linux epoll transport for stcp (JDK 22+): see {@link io.stcp.epoll.EpollReadinessSource}.
 * Exports nothing; stcp finds it as a service.
 */
module io.stcp.epoll {
    requires io.stcp;
    requires org.slf4j;

    provides io.stcp.internal.ReadinessSource with io.stcp.epoll.EpollReadinessSource;
}
