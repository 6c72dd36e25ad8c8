//! Telemetry: the bidirectional stream of one client; the settings exchange both ways, and
//! the commands the server sends (transaction check-back, verify message, print thread stack).

use super::{AnswerStream, GrpcFront};
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status, Streaming};

pub(super) async fn telemetry(
    _front: &GrpcFront,
    _request: Request<Streaming<v2::TelemetryCommand>>,
) -> Result<Response<AnswerStream<v2::TelemetryCommand>>, Status> {
    Err(Status::unimplemented("telemetry"))
}
