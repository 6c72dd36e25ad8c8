//! QueryAssignment: the queues a POP consumer group reads, as Apache's proxy answers it
//! (`RouteActivity.queryAssignment`): one assignment per broker, queue id -1 (any queue:
//! the POP picks), or, for a group whose config says `consumeMessageOrderly`, one per
//! readable queue; the broker's endpoints are those the client asked with (else this
//! endpoint). A topic without a readable queue is FORBIDDEN "no readable queue"; an
//! unknown topic TOPIC_NOT_FOUND.

use super::consumer_args::{group_name, topic_name};
use super::route::endpoints_of;
use super::status::{ok, status};
use super::GrpcFront;
use rocketmq_grpc::v2;
use rocketmq_protocol::body::topic_config::perm;
use tonic::{Request, Response, Status};

/// A topic's `perm` bits as the v2 permission.
pub(crate) fn permission_of(bits: i32) -> v2::Permission {
    match (bits & perm::READ != 0, bits & perm::WRITE != 0) {
        (true, true) => v2::Permission::ReadWrite,
        (true, false) => v2::Permission::Read,
        (false, true) => v2::Permission::Write,
        (false, false) => v2::Permission::None,
    }
}

pub(super) async fn query_assignment(
    front: &GrpcFront,
    request: Request<v2::QueryAssignmentRequest>,
) -> Result<Response<v2::QueryAssignmentResponse>, Status> {
    let req = request.into_inner();
    let answer = |s: v2::Status, assignments: Vec<v2::Assignment>| {
        Ok(Response::new(v2::QueryAssignmentResponse {
            status: Some(s),
            assignments,
        }))
    };
    let names =
        topic_name(req.topic.as_ref()).and_then(|t| Ok((t, group_name(req.group.as_ref())?)));
    let (topic, group) = match names {
        Ok(n) => n,
        Err(s) => return answer(s, Vec::new()),
    };
    let broker = &front.broker;
    let Some(config) = broker.topics.get(&topic) else {
        return answer(
            status(
                v2::Code::TopicNotFound,
                format!("topic {topic} does not exist: create it first"),
            ),
            Vec::new(),
        );
    };
    if config.perm & perm::READ == 0 || config.read_queue_nums <= 0 {
        return answer(status(v2::Code::Forbidden, "no readable queue"), Vec::new());
    }
    let endpoints = req
        .endpoints
        .clone()
        .filter(|e| !e.addresses.is_empty())
        .unwrap_or_else(|| endpoints_of(front.endpoint));
    let queue = |id: i32| v2::Assignment {
        message_queue: Some(v2::MessageQueue {
            topic: req.topic.clone(),
            id,
            permission: permission_of(config.perm) as i32,
            broker: Some(v2::Broker {
                name: broker.config.broker_name.clone(),
                id: 0,
                endpoints: Some(endpoints.clone()),
            }),
            accept_message_types: Vec::new(),
        }),
    };
    let assignments = if broker.subscription_group(&group).consume_message_orderly {
        (0..config.read_queue_nums).map(queue).collect()
    } else {
        vec![queue(-1)]
    };
    answer(ok(), assignments)
}
