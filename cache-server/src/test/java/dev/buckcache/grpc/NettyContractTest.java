package dev.buckcache.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.buckcache.storage.TieredStore;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;

/** The same contract over the real Netty server on loopback. */
class NettyContractTest extends CacheContractTest {
  private GrpcFrontEnd server;

  @Override
  ManagedChannel start(TieredStore store) throws Exception {
    server = GrpcFrontEnd.builder(new dev.buckcache.config.GrpcConfig(
        new InetSocketAddress("127.0.0.1", 0), BATCH), store).digests(DIGESTS).start();
    return NettyChannelBuilder.forAddress(server.address()).usePlaintext()
        .maxInboundMessageSize(16 << 20).build();
  }

  @Override
  void stop() {
    server.close();
  }

  @org.junit.jupiter.api.Test
  void health_serving_andReflection_listsTheCacheServices() throws Exception {
    var health = io.grpc.health.v1.HealthGrpc.newBlockingStub(channel)
        .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
    assertThat(health.getStatus())
        .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    var services = new java.util.concurrent.CompletableFuture<java.util.List<String>>();
    var stream = io.grpc.reflection.v1.ServerReflectionGrpc.newStub(channel).serverReflectionInfo(
        new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.grpc.reflection.v1.ServerReflectionResponse r) {
            services.complete(r.getListServicesResponse().getServiceList().stream()
                .map(io.grpc.reflection.v1.ServiceResponse::getName).toList());
          }

          @Override
          public void onError(Throwable t) {
            services.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    stream.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
    stream.onCompleted();
    assertThat(services.get(10, java.util.concurrent.TimeUnit.SECONDS)).contains(
        "build.bazel.remote.execution.v2.ContentAddressableStorage",
        "build.bazel.remote.execution.v2.ActionCache",
        "build.bazel.remote.execution.v2.Capabilities",
        "google.bytestream.ByteStream");
  }
}
