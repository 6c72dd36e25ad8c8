//! The RocketMQ 5 gRPC front end: `apache.rocketmq.v2.MessagingService` over the broker's
//! typed operations (`broker::ops`), as the remoting processors are. Like Apache's proxy in
//! local mode, this endpoint serves the broker it runs in: routes name this endpoint, and
//! every RPC becomes the operation a proxy would send the broker over remoting (a send, a
//! POP, an ack, ...), with the same header types.
//!
//! One file per concern, each a thin adapter (decode the request, call the operations, encode
//! the answer): `route` (QueryRoute), `heartbeat` (Heartbeat, NotifyClientTermination),
//! `send` (SendMessage), `transaction` (EndTransaction), `telemetry` (the settings exchange
//! and server-to-client commands), `assignment` (QueryAssignment), `receive`
//! (ReceiveMessage), `ack` (AckMessage, ChangeInvisibleDuration,
//! ForwardMessageToDeadLetterQueue), `pull` (PullMessage and the offset RPCs), `recall`
//! (RecallMessage); `status` builds the `v2::Status` every answer carries; `metadata` reads
//! the client's request headers, `clients` keeps the gRPC clients (their handles in the
//! broker's client table, settings and Telemetry streams), `message_in` checks a sent
//! `v2::Message` and builds what the broker stores.
//!
//! Errors: as the Apache proxy does, a refused request is answered with a `v2::Status` in the
//! response (its code says what went wrong); a gRPC error status is kept for requests that
//! cannot be read at all.

mod ack;
mod assignment;
mod clients;
mod heartbeat;
mod message_in;
mod metadata;
mod pull;
mod recall;
mod receive;
mod route;
mod send;
mod status;
mod telemetry;
mod transaction;

// Consumer side: delivered messages, their checks and status codes.
mod body_digest;
mod consumer_args;
mod message_out;
mod renew;

use crate::broker::Broker;
use rocketmq_grpc::v2;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// The server side of a streaming RPC: answers produced by a task of the front end.
pub(crate) type AnswerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The gRPC front end of one broker.
#[derive(Clone)]
pub(crate) struct GrpcFront {
    pub(crate) broker: Arc<Broker>,
    /// The address clients reach this endpoint at (what routes advertise).
    pub(crate) endpoint: SocketAddr,
    /// The gRPC clients: handles, settings, Telemetry streams.
    pub(crate) clients: Arc<clients::GrpcClients>,
}

impl GrpcFront {
    pub(crate) fn new(broker: Arc<Broker>, endpoint: SocketAddr) -> GrpcFront {
        GrpcFront {
            clients: Arc::new(clients::GrpcClients::new(broker.clone())),
            broker,
            endpoint,
        }
    }
}

/// Serves `front` on `listener` until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    front: GrpcFront,
    mut shutdown: watch::Receiver<bool>,
) {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let result = tonic::transport::Server::builder()
        .add_service(rocketmq_grpc::MessagingServiceServer::new(front))
        .serve_with_incoming_shutdown(incoming, async move {
            crate::util::until_true(&mut shutdown).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!("the gRPC endpoint stopped: {e}");
    }
}

#[tonic::async_trait]
impl rocketmq_grpc::MessagingService for GrpcFront {
    async fn query_route(
        &self,
        request: Request<v2::QueryRouteRequest>,
    ) -> Result<Response<v2::QueryRouteResponse>, Status> {
        route::query_route(self, request).await
    }

    async fn heartbeat(
        &self,
        request: Request<v2::HeartbeatRequest>,
    ) -> Result<Response<v2::HeartbeatResponse>, Status> {
        heartbeat::heartbeat(self, request).await
    }

    async fn send_message(
        &self,
        request: Request<v2::SendMessageRequest>,
    ) -> Result<Response<v2::SendMessageResponse>, Status> {
        send::send_message(self, request).await
    }

    async fn query_assignment(
        &self,
        request: Request<v2::QueryAssignmentRequest>,
    ) -> Result<Response<v2::QueryAssignmentResponse>, Status> {
        assignment::query_assignment(self, request).await
    }

    type ReceiveMessageStream = AnswerStream<v2::ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        request: Request<v2::ReceiveMessageRequest>,
    ) -> Result<Response<Self::ReceiveMessageStream>, Status> {
        receive::receive_message(self, request).await
    }

    async fn ack_message(
        &self,
        request: Request<v2::AckMessageRequest>,
    ) -> Result<Response<v2::AckMessageResponse>, Status> {
        ack::ack_message(self, request).await
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        request: Request<v2::ForwardMessageToDeadLetterQueueRequest>,
    ) -> Result<Response<v2::ForwardMessageToDeadLetterQueueResponse>, Status> {
        ack::forward_message_to_dead_letter_queue(self, request).await
    }

    type PullMessageStream = AnswerStream<v2::PullMessageResponse>;

    async fn pull_message(
        &self,
        request: Request<v2::PullMessageRequest>,
    ) -> Result<Response<Self::PullMessageStream>, Status> {
        pull::pull_message(self, request).await
    }

    async fn update_offset(
        &self,
        request: Request<v2::UpdateOffsetRequest>,
    ) -> Result<Response<v2::UpdateOffsetResponse>, Status> {
        pull::update_offset(self, request).await
    }

    async fn get_offset(
        &self,
        request: Request<v2::GetOffsetRequest>,
    ) -> Result<Response<v2::GetOffsetResponse>, Status> {
        pull::get_offset(self, request).await
    }

    async fn query_offset(
        &self,
        request: Request<v2::QueryOffsetRequest>,
    ) -> Result<Response<v2::QueryOffsetResponse>, Status> {
        pull::query_offset(self, request).await
    }

    async fn end_transaction(
        &self,
        request: Request<v2::EndTransactionRequest>,
    ) -> Result<Response<v2::EndTransactionResponse>, Status> {
        transaction::end_transaction(self, request).await
    }

    type TelemetryStream = AnswerStream<v2::TelemetryCommand>;

    async fn telemetry(
        &self,
        request: Request<Streaming<v2::TelemetryCommand>>,
    ) -> Result<Response<Self::TelemetryStream>, Status> {
        telemetry::telemetry(self, request).await
    }

    async fn notify_client_termination(
        &self,
        request: Request<v2::NotifyClientTerminationRequest>,
    ) -> Result<Response<v2::NotifyClientTerminationResponse>, Status> {
        heartbeat::notify_client_termination(self, request).await
    }

    async fn change_invisible_duration(
        &self,
        request: Request<v2::ChangeInvisibleDurationRequest>,
    ) -> Result<Response<v2::ChangeInvisibleDurationResponse>, Status> {
        ack::change_invisible_duration(self, request).await
    }

    async fn recall_message(
        &self,
        request: Request<v2::RecallMessageRequest>,
    ) -> Result<Response<v2::RecallMessageResponse>, Status> {
        recall::recall_message(self, request).await
    }

    async fn sync_lite_subscription(
        &self,
        _request: Request<v2::SyncLiteSubscriptionRequest>,
    ) -> Result<Response<v2::SyncLiteSubscriptionResponse>, Status> {
        Err(Status::unimplemented(
            "lite topics are not served by this broker",
        ))
    }
}
