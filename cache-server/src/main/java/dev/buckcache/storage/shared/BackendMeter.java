package dev.buckcache.storage.shared;

/**
 * Where the shared tier reports each backend request, so that metrics (which live outside
 * storage) can count and time them: operation ({@code head}, {@code get}, {@code put}, ...),
 * outcome ({@code ok}, {@code absent}, {@code error}), duration and payload bytes.
 */
public interface BackendMeter {
  BackendMeter NONE = new BackendMeter() {
    @Override
    public void record(String op, String outcome, long nanos, long bytes) {}

    @Override
    public void bytes(String direction, long bytes) {}
  };

  void record(String op, String outcome, long nanos, long bytes);

  /** Payload bytes moved, as they move: {@code up} to the bucket, {@code down} from it. */
  void bytes(String direction, long bytes);
}
