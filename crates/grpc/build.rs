//! Compiles `proto/apache/rocketmq/v2/*.proto` with protox (a protobuf compiler written in
//! Rust, so a fresh machine needs no `protoc`) and generates prost messages and tonic client
//! and server stubs from the resulting descriptor set.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/apache/rocketmq/v2/definition.proto",
        "proto/apache/rocketmq/v2/service.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
