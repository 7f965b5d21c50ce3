package dev.buckcache.config;

import static java.util.Objects.requireNonNull;

import dev.buckcache.digest.DigestFunction;
import java.util.Map;

/**
 * Which function a 64-hex hash means, per instance. SHA-256 and BLAKE3 hashes look alike and
 * Buck2 sends no digest function, so an instance serving a BLAKE3 repo says so here.
 *
 * @param defaultFunction for instances not listed (digest.default)
 * @param instances instance name to function (digest.instances.NAME)
 */
public record DigestConfig(DigestFunction defaultFunction, Map<String, DigestFunction> instances) {
  public DigestConfig {
    requireNonNull(defaultFunction, "defaultFunction");
    instances = Map.copyOf(instances);
  }

  public static DigestConfig sha256() {
    return new DigestConfig(DigestFunction.SHA256, Map.of());
  }

  /** The function for a 64-hex hash in this instance. */
  public DigestFunction forInstance(String instance) {
    return instances.getOrDefault(instance, defaultFunction);
  }

  /**
   * What a hash of {@code hexLength} hex digits means in {@code instance} when the client names
   * no function (bazel-remote's REST paths never do; Buck2 sends none over gRPC): the length
   * decides, and 64 takes the instance's function. Null for a length no function has. Both front
   * ends ask this one place.
   */
  public DigestFunction infer(String instance, int hexLength) {
    return switch (hexLength) {
      case 40 -> DigestFunction.SHA1;
      case 64 -> forInstance(instance);
      case 96 -> DigestFunction.SHA384;
      case 128 -> DigestFunction.SHA512;
      default -> null;
    };
  }
}
