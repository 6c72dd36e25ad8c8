//! QueryRoute: the topic's queues, all served by this endpoint.

use super::GrpcFront;
use rocketmq_grpc::v2;
use tonic::{Request, Response, Status};

pub(super) async fn query_route(
    _front: &GrpcFront,
    _request: Request<v2::QueryRouteRequest>,
) -> Result<Response<v2::QueryRouteResponse>, Status> {
    Err(Status::unimplemented("query_route"))
}
