//! QueryAssignment: the queues a POP consumer group reads (every readable queue of the topic).

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn query_assignment(
    _front: &GrpcFront,
    _request: Request<v2::QueryAssignmentRequest>,
) -> Result<Response<v2::QueryAssignmentResponse>, Status> {
    Err(Status::unimplemented("query_assignment"))
}
