//! Limits of the public answers (no token): how many this node gives at once, and per client
//! address a burst then a steady rate (GCRA, crate `governor`). The gRPC methods and the HTTP
//! pages share them, so a client gets no more by switching. What exceeds them is refused at once
//! (RESOURCE_EXHAUSTED, HTTP 429 with `Retry-After`), before the handler reads the request: the
//! node stays available, health checks included, even exposed without an ingress.
//!
//! Clients are told apart by the connection's peer address; IPv6 clients by their /64, which
//! one subscriber holds whole. A call from a configured proxy (`trusted_proxies`) counts against
//! the address its `X-Forwarded-For` names; no one else's header is believed.

use std::{
    convert::Infallible,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use cplds_runtime::config::PublicLimits;
use futures_util::future::BoxFuture;
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{
    body::Body,
    server::NamedService,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};
use tower::Service;

/// Why a public call was not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many requests from this address: retry in {0} s")]
    RateLimited(u64),
    #[error("the node is answering as many public requests as it may: retry shortly")]
    Busy,
}

impl Refused {
    fn retry_after_secs(&self) -> u64 {
        match self {
            Refused::RateLimited(s) => *s,
            Refused::Busy => 1,
        }
    }
}

/// The node's limits of public calls, shared by its gRPC methods and pages.
pub struct PublicGate {
    permits: Arc<Semaphore>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    trusted_proxies: Vec<IpAddr>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// What tells clients apart: an IPv4 address, or an IPv6 /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl PublicGate {
    pub fn new(limits: &PublicLimits) -> Self {
        let burst = at_least_one(limits.per_client_burst);
        let per_minute = at_least_one(limits.per_client_per_minute);
        Self {
            permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1) as usize)),
            per_client: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
            trusted_proxies: limits.trusted_proxies.clone(),
        }
    }

    /// The client a call comes from: its peer, or, when the peer is a trusted proxy, the last
    /// address of `forwarded` (X-Forwarded-For values, in order) that is not one.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded: impl DoubleEndedIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let named = forwarded
            .rev()
            .flat_map(|v| v.rsplit(','))
            .map_while(|a| a.trim().parse::<IpAddr>().ok())
            .find(|a| !self.trusted_proxies.contains(a));
        Some(named.unwrap_or(peer))
    }

    /// A permit to answer `client` now (held until the answer is made), or why not. Calls whose
    /// address is unknown share one allowance.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<OwnedSemaphorePermit, Refused> {
        let key = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), client_key);
        if let Err(not_until) = self.per_client.check_key(&key) {
            let wait = not_until.wait_time_from(self.clock.now());
            return Err(Refused::RateLimited(wait.as_secs().max(1)));
        }
        self.permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Busy)
    }

    /// Forgets clients whose allowance is whole again, so the table holds only recent ones.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
    }

    /// Forgets idle clients every minute until `stop`.
    pub async fn tidy(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every.tick() => self.forget_idle(),
                () = stop.cancelled() => return,
            }
        }
    }
}

/// A gRPC service whose `public` methods pass the gate first.
#[derive(Clone)]
pub struct Gated<S> {
    inner: S,
    gate: Arc<PublicGate>,
    public: Arc<[String]>,
}

impl<S> Gated<S> {
    /// `public`: the full paths (`/package.Service/Method`) of the gated methods.
    pub fn new(inner: S, gate: Arc<PublicGate>, public: Vec<String>) -> Self {
        Self {
            inner,
            gate,
            public: public.into(),
        }
    }
}

impl<S: NamedService> NamedService for Gated<S> {
    const NAME: &'static str = S::NAME;
}

/// The peer of a gRPC call, plaintext or TLS.
fn grpc_peer<B>(req: &http::Request<B>) -> Option<IpAddr> {
    let ext = req.extensions();
    ext.get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        })
        .map(|a| a.ip())
}

impl<S> Service<http::Request<Body>> for Gated<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if !self.public.iter().any(|p| p == req.uri().path()) {
            return Box::pin(self.inner.call(req));
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let client = self.gate.client(grpc_peer(&req), forwarded);
        match self.gate.admit(client) {
            Ok(permit) => {
                let answer = self.inner.call(req);
                Box::pin(async move {
                    let res = answer.await;
                    drop(permit);
                    res
                })
            }
            Err(refused) => {
                let status = tonic::Status::resource_exhausted(refused.to_string());
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// The same gate in front of the public pages (axum middleware).
pub async fn gate_pages(State(gate): State<Arc<PublicGate>>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let client = gate.client(peer, forwarded);
    match gate.admit(client) {
        Ok(permit) => {
            let res = next.run(req).await;
            drop(permit);
            res
        }
        Err(refused) => {
            let body = serde_json::json!({
                "status": 429,
                "title": refused.to_string(),
            });
            let mut res = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            if let Ok(v) = HeaderValue::from_str(&refused.retry_after_secs().to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(concurrent: u32, burst: u32) -> PublicGate {
        PublicGate::new(&PublicLimits {
            max_concurrent: concurrent,
            per_client_burst: burst,
            per_client_per_minute: 1,
            trusted_proxies: vec![IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2])],
        })
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let g = gate(1, 1);
        let (proxy, client, other) = (
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([203, 0, 113, 9]),
            IpAddr::from([198, 51, 100, 7]),
        );
        // Anyone else's header is not believed.
        assert_eq!(
            g.client(Some(client), ["198.51.100.7"].into_iter()),
            Some(client)
        );
        // Through the proxies, the last address they did not add; a forged head is ignored.
        assert_eq!(
            g.client(
                Some(proxy),
                ["1.2.3.4, 198.51.100.7", "10.0.0.2"].into_iter()
            ),
            Some(other)
        );
        assert_eq!(g.client(Some(proxy), std::iter::empty()), Some(proxy));
        assert_eq!(g.client(Some(proxy), ["garbage"].into_iter()), Some(proxy));
        assert_eq!(g.client(None, ["198.51.100.7"].into_iter()), None);
    }

    #[test]
    fn each_address_has_its_own_allowance() {
        let g = gate(100, 3);
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        for _ in 0..3 {
            assert!(g.admit(a).is_ok());
        }
        let refused = g.admit(a).unwrap_err();
        assert!(matches!(refused, Refused::RateLimited(s) if (1..=60).contains(&s)));
        assert!(g.admit(b).is_ok());
        // Unknown peers share one allowance.
        for _ in 0..3 {
            assert!(g.admit(None).is_ok());
        }
        assert!(g.admit(None).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let g = gate(100, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(g.admit(Some(one)).is_ok());
        assert!(g.admit(Some(same_64)).is_err());
        assert!(g.admit(Some(other_64)).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    #[test]
    fn calls_beyond_the_concurrency_wait_for_none() {
        let g = gate(2, 100);
        let first = g.admit(Some(IpAddr::from([192, 0, 2, 1]))).unwrap();
        let _second = g.admit(Some(IpAddr::from([192, 0, 2, 2]))).unwrap();
        assert_eq!(
            g.admit(Some(IpAddr::from([192, 0, 2, 3]))).unwrap_err(),
            Refused::Busy
        );
        drop(first);
        assert!(g.admit(Some(IpAddr::from([192, 0, 2, 3]))).is_ok());
    }
}
