/** stcp's test kit: run a connection reader against bytes in memory, with no sockets. */
module io.stcp.test {
    requires transitive io.stcp;

    exports io.stcp.test;
}
