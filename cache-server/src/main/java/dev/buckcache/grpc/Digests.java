package dev.buckcache.grpc;

import build.bazel.remote.execution.v2.DigestFunction.Value;
import dev.buckcache.config.DigestConfig;
import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.InvalidDigestException;

/**
 * Which function a request means, and conversions of REAPI digests. A request's
 * {@code digest_function} wins; without one (Buck2 sends none), the hash length decides, and a
 * 64-hex hash takes the instance's configured function (SHA-256 or BLAKE3).
 */
final class Digests {
  private final DigestConfig config;

  Digests(DigestConfig config) {
    this.config = config;
  }

  DigestFunction function(String instance, Value requested, String sampleHash) {
    if (requested != Value.UNKNOWN && requested != Value.UNRECOGNIZED) {
      return DigestFunction.byReapiNumber(requested.getNumber()).orElseThrow(() ->
          GrpcErrors.invalid("digest function " + requested + " is not supported (use SHA256, "
              + "SHA1, SHA384, SHA512 or BLAKE3)"));
    }
    var inferred = config.infer(instance, sampleHash.length());
    return inferred != null ? inferred : config.forInstance(instance); // the digest check says why
  }

  static Digest of(DigestFunction fn, build.bazel.remote.execution.v2.Digest d) {
    try {
      return new Digest(fn, d.getHash(), d.getSizeBytes());
    } catch (InvalidDigestException e) {
      throw GrpcErrors.invalid("invalid digest " + d.getHash() + "/" + d.getSizeBytes() + ": "
          + e.getMessage());
    }
  }

  static build.bazel.remote.execution.v2.Digest toProto(Digest d) {
    return build.bazel.remote.execution.v2.Digest.newBuilder()
        .setHash(d.hash()).setSizeBytes(d.size()).build();
  }
}
