//! Heartbeat and NotifyClientTermination: who is connected, as the remoting heartbeat keeps it.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn heartbeat(
    _front: &GrpcFront,
    _request: Request<v2::HeartbeatRequest>,
) -> Result<Response<v2::HeartbeatResponse>, Status> {
    Err(Status::unimplemented("heartbeat"))
}

pub(super) async fn notify_client_termination(
    _front: &GrpcFront,
    _request: Request<v2::NotifyClientTerminationRequest>,
) -> Result<Response<v2::NotifyClientTerminationResponse>, Status> {
    Err(Status::unimplemented("notify_client_termination"))
}
