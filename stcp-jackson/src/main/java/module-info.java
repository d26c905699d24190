/** JSON for stcp's configuration, through Jackson. */
module io.stcp.jackson {
    requires transitive io.stcp;
    requires transitive com.fasterxml.jackson.databind;

    exports io.stcp.jackson;
}
