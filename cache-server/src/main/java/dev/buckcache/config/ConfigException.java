package dev.buckcache.config;

/** A setting is wrong. The message is one line that names the key and says what to do. */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }
}
