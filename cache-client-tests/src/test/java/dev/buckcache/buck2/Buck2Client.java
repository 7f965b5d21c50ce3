package dev.buckcache.buck2;

import build.bazel.remote.execution.v2.RequestMetadata;
import build.bazel.remote.execution.v2.ToolDetails;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A channel set up the way Buck2's OSS REAPI client sets up its own (PROTOCOLS.md): keepalive
 * pings every 30 s, also when idle; a decode limit of twice the batch size; request metadata with
 * tool name "buck2" and an invocation id on every call.
 */
public final class Buck2Client {
  static final long BUCK2_BATCH_LIMIT = 4_000_000;
  static final Metadata.Key<RequestMetadata> REQUEST_METADATA = Metadata.Key.of(
      "build.bazel.remote.execution.v2.requestmetadata-bin",
      ProtoUtils.metadataMarshaller(RequestMetadata.getDefaultInstance()));

  private Buck2Client() {}

  public static ManagedChannel channel(String host, int port) {
    return channel(host, port, null);
  }

  /** With {@code http_headers = Authorization: Bearer TOKEN} when token is not null. */
  static ManagedChannel channel(String host, int port, String token) {
    return channel(host, port, token, UUID.randomUUID().toString());
  }

  /** With {@code invocation} as the build id every call names (Buck2's build UUID). */
  static ManagedChannel channel(String host, int port, String token, String invocation) {
    var builder = NettyChannelBuilder.forAddress(host, port);
    if (token != null) {
      builder.intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(authorization(token)));
    }
    return builder
        .usePlaintext()
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .maxInboundMessageSize((int) (2 * BUCK2_BATCH_LIMIT))
        .intercept(metadata(invocation))
        .build();
  }

  private static Metadata authorization(String token) {
    var headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return headers;
  }

  private static ClientInterceptor metadata(String invocation) {
    var value = RequestMetadata.newBuilder()
        .setToolDetails(ToolDetails.newBuilder().setToolName("buck2").setToolVersion("test"))
        .setToolInvocationId(invocation).build();
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
          CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            headers.put(REQUEST_METADATA, value);
            super.start(listener, headers);
          }
        };
      }
    };
  }
}
