package dev.buckcache.buck2;

/**
 * Buck2's call pattern against the HTTP port, which serves gRPC too (the one-port setup):
 * {@link Buck2PatternTest#start} picks the port by the class it runs for.
 */
class Buck2PatternSharedPortTest extends Buck2PatternTest {}
