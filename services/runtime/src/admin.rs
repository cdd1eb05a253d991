//! The node's operator API (`cplds.v1.AdminService`, role `it_admin`), mounted by the host on
//! every node: dead letters of every service listed and redriven, and the node's status (outbox
//! backlog, relay role, dead letters per consumer). The health entry `cplds.dead_letters` is
//! NOT_SERVING while dead letters wait, so a dashboard watching it sees them; probes use the
//! overall status (service name ""), which dead letters do not affect.

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{self as pb, admin_service_server::AdminService};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{Access, Caller, Policy, Role},
    bus::SharedBus,
    clock::SharedClock,
    dead_letters::{self, DeadLetter, Selection},
    error::{ServiceError, ServiceResult, Violations},
    node::Node,
    outbox::{self, OutboxRelay, RelayRole},
};

pub const SERVICE: &str = "cplds.v1.AdminService";

/// The health entry that says whether dead letters wait.
pub const DEAD_LETTERS_HEALTH: &str = "cplds.dead_letters";

pub fn policy(p: &mut Policy) {
    for method in ["ListDeadLetters", "RedriveDeadLetters", "GetNodeStatus"] {
        p.allow(SERVICE, method, Access::Roles(&[Role::ItAdmin]));
    }
}

/// What the admin API knows of one service of the node.
#[derive(Clone)]
pub struct ServiceHandle {
    pub name: &'static str,
    /// The service's bus (its own broker user when configured): redrives go through it.
    pub bus: SharedBus,
    pub db: DatabaseConnection,
    pub relay: Arc<OutboxRelay>,
    /// (consumer name, queue name) of its consumers.
    pub consumers: Vec<(String, String)>,
}

pub struct Admin {
    pub node: Node,
    pub bus: SharedBus,
    pub clock: SharedClock,
    pub services: Vec<ServiceHandle>,
}

#[derive(Clone)]
pub struct AdminApi {
    inner: Arc<Admin>,
}

impl AdminApi {
    pub fn new(admin: Arc<Admin>) -> Self {
        Self { inner: admin }
    }
}

crate::grpc_handlers! {
    impl AdminService for AdminApi => inner {
        list_dead_letters(pb::ListDeadLettersRequest) -> pb::ListDeadLettersResponse => list;
        redrive_dead_letters(pb::RedriveDeadLettersRequest) -> pb::RedriveDeadLettersResponse => redrive;
        get_node_status(pb::GetNodeStatusRequest) -> pb::NodeStatus => status;
    }
}

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

fn to_pb(service: &str, d: DeadLetter) -> pb::DeadLetter {
    pb::DeadLetter {
        service: service.to_owned(),
        id: d.id as u64,
        consumer: d.consumer,
        queue: d.queue,
        event_id: d.event_id,
        routing_key: d.routing_key,
        event_type: d.event_type,
        reason: d.reason,
        attempts: d.attempts.max(0) as u32,
        dead_at: Some(crate::time::to_timestamp(d.dead_at)),
        redriven_at: d.redriven_at.map(crate::time::to_timestamp),
    }
}

/// A page token: the service and the id the previous page ended with.
fn parse_token(token: &str) -> Result<(String, i64), String> {
    let (service, id) = token
        .rsplit_once('/')
        .ok_or_else(|| "must be a next_page_token of a previous answer".to_owned())?;
    let id = id
        .parse()
        .map_err(|_| "must be a next_page_token of a previous answer".to_owned())?;
    Ok((service.to_owned(), id))
}

impl Admin {
    fn service(&self, name: &str) -> Option<&ServiceHandle> {
        self.services.iter().find(|s| s.name == name)
    }

    fn known_service(&self, field: &str, name: &str, v: &mut Violations) {
        if !name.is_empty() && self.service(name).is_none() {
            v.add(
                field,
                format!(
                    "this node runs no service {name:?} (it runs: {})",
                    self.services
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    async fn list(
        &self,
        _caller: Caller,
        req: pb::ListDeadLettersRequest,
    ) -> ServiceResult<pb::ListDeadLettersResponse> {
        let mut v = Violations::default();
        self.known_service("service", &req.service, &mut v);
        if req.page_size > MAX_PAGE {
            v.add("page_size", format!("must be at most {MAX_PAGE}"));
        }
        let after = if req.page_token.is_empty() {
            None
        } else {
            v.check("page_token", parse_token(&req.page_token))
        };
        v.finish()?;
        let size = if req.page_size == 0 {
            DEFAULT_PAGE
        } else {
            req.page_size
        } as usize;
        let consumer = (!req.consumer.is_empty()).then_some(req.consumer.as_str());
        let mut services: Vec<&ServiceHandle> = self
            .services
            .iter()
            .filter(|s| req.service.is_empty() || s.name == req.service)
            .collect();
        services.sort_by_key(|s| s.name);
        let mut out = Vec::new();
        let mut next = String::new();
        for s in services {
            let after_id = match &after {
                Some((svc, _)) if svc.as_str() > s.name => continue,
                Some((svc, id)) if svc == s.name => *id,
                _ => 0,
            };
            let want = size - out.len();
            let rows = dead_letters::list(
                &s.db,
                consumer,
                req.include_redriven,
                after_id,
                want as u64 + 1,
            )
            .await
            .map_err(ServiceError::internal)?;
            let more = rows.len() > want;
            for d in rows.into_iter().take(want) {
                next = format!("{}/{}", s.name, d.id);
                out.push(to_pb(s.name, d));
            }
            if out.len() >= size {
                if !more {
                    // The next page starts after this one; it may well be empty.
                    next = format!("{}/{}", s.name, out.last().map_or(0, |d| d.id));
                }
                return Ok(pb::ListDeadLettersResponse {
                    dead_letters: out,
                    next_page_token: next,
                });
            }
        }
        Ok(pb::ListDeadLettersResponse {
            dead_letters: out,
            next_page_token: String::new(),
        })
    }

    async fn redrive(
        &self,
        _caller: Caller,
        req: pb::RedriveDeadLettersRequest,
    ) -> ServiceResult<pb::RedriveDeadLettersResponse> {
        let mut v = Violations::default();
        if req.service.is_empty() {
            v.add("service", "is required (dead letter ids are per service)");
        }
        self.known_service("service", &req.service, &mut v);
        if req.ids.is_empty() && req.consumer.is_empty() {
            v.add(
                "ids",
                "name the dead letters, or give `consumer` to redrive all of its own",
            );
        }
        if !req.ids.is_empty() && !req.consumer.is_empty() {
            v.add("consumer", "give either ids or a consumer, not both");
        }
        v.finish()?;
        let service = self
            .service(&req.service)
            .ok_or_else(|| ServiceError::not_found(format!("service {}", req.service)))?;
        let ids: Vec<i64> = req.ids.iter().map(|i| *i as i64).collect();
        let selection = if ids.is_empty() {
            Selection::AllOf(&req.consumer)
        } else {
            Selection::Ids(&ids)
        };
        let done =
            dead_letters::redrive(&service.db, &service.bus, selection, req.force, &self.clock)
                .await
                .map_err(|e| ServiceError::Unavailable(format!("redrive stopped: {e}")))?;
        Ok(pb::RedriveDeadLettersResponse {
            redriven: done.into_iter().map(|d| to_pb(service.name, d)).collect(),
        })
    }

    async fn status(
        &self,
        _caller: Caller,
        _req: pb::GetNodeStatusRequest,
    ) -> ServiceResult<pb::NodeStatus> {
        let now = self.clock.now();
        let mut services = Vec::new();
        let mut total = 0u64;
        let mut quarantined = 0u64;
        for s in &self.services {
            let backlog = outbox::backlog(&s.db)
                .await
                .map_err(ServiceError::internal)?;
            let waiting = dead_letters::waiting(&s.db)
                .await
                .map_err(ServiceError::internal)?;
            let mut consumers: Vec<pb::ConsumerStatus> = s
                .consumers
                .iter()
                .map(|(name, queue)| pb::ConsumerStatus {
                    name: name.clone(),
                    queue: queue.clone(),
                    dead_letters_waiting: 0,
                    quarantined: 0,
                })
                .collect();
            for (consumer, n) in waiting {
                total += n as u64;
                match consumers.iter_mut().find(|c| c.name == consumer) {
                    Some(c) => c.dead_letters_waiting = n as u64,
                    None => consumers.push(pb::ConsumerStatus {
                        name: consumer,
                        queue: String::new(),
                        dead_letters_waiting: n as u64,
                        quarantined: 0,
                    }),
                }
            }
            let refused = crate::quarantine::per_consumer(&s.db)
                .await
                .map_err(ServiceError::internal)?;
            for (consumer, n) in refused {
                quarantined += n as u64;
                if let Some(c) = consumers.iter_mut().find(|c| c.name == consumer) {
                    c.quarantined = n as u64;
                }
            }
            services.push(pb::ServiceStatus {
                name: s.name.to_owned(),
                outbox_waiting: backlog.waiting.max(0) as u64,
                oldest_waiting_seconds: backlog
                    .oldest
                    .map_or(0, |t| (now - t).num_seconds().max(0) as u64),
                relay: match s.relay.role() {
                    RelayRole::Active => pb::RelayRole::Active,
                    RelayRole::Standby => pb::RelayRole::Standby,
                    RelayRole::Starting => pb::RelayRole::Unspecified,
                } as i32,
                consumers,
            });
        }
        Ok(pb::NodeStatus {
            node: self.node.code().to_owned(),
            bus: self.bus.kind().to_owned(),
            services,
            dead_letters_waiting: total,
            quarantined,
        })
    }

    /// Dead letters waiting on the whole node (errors count as none: health must not flap on a
    /// database hiccup, which the services' own health shows).
    pub async fn dead_letters_waiting(&self) -> u64 {
        let mut total = 0;
        for s in &self.services {
            if let Ok(w) = dead_letters::waiting(&s.db).await {
                total += w.iter().map(|(_, n)| *n as u64).sum::<u64>();
            }
        }
        total
    }
}

/// Sets the `cplds.dead_letters` health entry from the dead letters waiting now; `last` is what
/// was set before (nothing is logged or set again when it did not change).
pub async fn update_health(
    admin: &Admin,
    reporter: &tonic_health::server::HealthReporter,
    last: &mut Option<bool>,
) {
    let waiting = admin.dead_letters_waiting().await;
    let serving = waiting == 0;
    if *last == Some(serving) {
        return;
    }
    let status = if serving {
        tonic_health::ServingStatus::Serving
    } else {
        tracing::error!(
            dead_letters = waiting,
            "dead letters wait on this node; see `cplds dead-letters list`"
        );
        tonic_health::ServingStatus::NotServing
    };
    reporter
        .set_service_status(DEAD_LETTERS_HEALTH, status)
        .await;
    *last = Some(serving);
}

/// Keeps the `cplds.dead_letters` health entry up to date until `shutdown`.
pub async fn watch_health(
    admin: Arc<Admin>,
    reporter: tonic_health::server::HealthReporter,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        update_health(&admin, &reporter, &mut last).await;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
