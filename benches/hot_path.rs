//! Criterion benches of the request path, piece by piece and whole.
//!
//! Pieces: route match, region plan, header rewrite, forward-mark sign/verify. Whole: one
//! keep-alive GET through a real in-process Meridian to a real origin on loopback, next to the
//! same GET sent to the origin directly, so the difference is what Meridian adds per request.
//! Timings are kept short (see `config()`) so `cargo bench` finishes in a few minutes.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use meridian::config::{Settings, parse_and_validate};
use meridian::header_list::HeaderList;
use meridian::health::ProbeOutcome;
use meridian::origin::Origin;
use meridian::proxy::forward_mark::ForwardKey;
use meridian::proxy::headers::{forwarded_for_value, request_id, set_forwarded, strip_hop_by_hop};
use meridian::routing::{match_route, plan};
use meridian::runtime::Snapshot;
use meridian::server::Server;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

/// Routes in the bench config; the issue asks for about twenty.
const ROUTES: usize = 20;

/// A config with three loopback regions and `ROUTES` host+prefix routes, the last a catch-all.
fn config_text(listen: &str, admin: &str, endpoints: [SocketAddr; 3]) -> String {
    let mut text = format!(
        r#"
[server]
listen = "{listen}"
admin_listen = "{admin}"
local_region = "us-east-1"
forward_secret = "bench-secret"

[[regions]]
name = "us-east-1"
endpoints = ["{}"]

[[regions]]
name = "eu-west-1"
endpoints = ["{}"]

[[regions]]
name = "ap-southeast-1"
endpoints = ["{}"]

[log]
level = "error"
"#,
        endpoints[0], endpoints[1], endpoints[2]
    );
    for i in 0..ROUTES - 1 {
        text.push_str(&format!(
            "\n[[routes]]\nname = \"svc{i}\"\nhost = \"svc{i}.example.com\"\npath_prefix = \"/v{i}/\"\n"
        ));
    }
    text.push_str("\n[[routes]]\nname = \"default\"\n");
    text
}

fn settings(listen: &str, admin: &str, endpoints: [SocketAddr; 3]) -> Settings {
    parse_and_validate("bench.toml", &config_text(listen, admin, endpoints))
        .expect("bench config is valid")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn route_match(c: &mut Criterion) {
    let s = settings(
        "127.0.0.1:0",
        "127.0.0.1:1",
        [loopback(3001), loopback(3002), loopback(3003)],
    );
    let mut g = c.benchmark_group("route_match");
    g.bench_function("first_of_20", |b| {
        b.iter(|| match_route(black_box(&s), black_box("svc0.example.com"), "/v0/users/42"))
    });
    g.bench_function("tenth_of_20", |b| {
        b.iter(|| match_route(black_box(&s), black_box("svc9.example.com"), "/v9/users/42"))
    });
    g.bench_function("fallthrough_to_catch_all", |b| {
        b.iter(|| match_route(black_box(&s), black_box("other.example.com"), "/x"))
    });
    g.finish();
}

fn region_plan(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let s = settings(
        "127.0.0.1:0",
        "127.0.0.1:1",
        [loopback(3001), loopback(3002), loopback(3003)],
    );
    let snapshot = rt.block_on(Snapshot::build(s, None)).expect("snapshot");
    // Give the siblings probe latencies (the slower one listed first) so the sort has work.
    for (region, ms) in [(1, 80), (2, 20)] {
        for e in snapshot.regions[region].endpoints().iter() {
            e.health
                .record_probe(ProbeOutcome::Healthy, Duration::from_millis(ms), 1, 1);
        }
    }
    let route = snapshot.settings.routes.last().expect("catch-all route");
    let mut g = c.benchmark_group("region_plan");
    g.bench_function("all_healthy", |b| {
        b.iter(|| plan(black_box(&snapshot), black_box(route), false))
    });
    g.bench_function("forwarded", |b| {
        b.iter(|| plan(black_box(&snapshot), black_box(route), true))
    });
    g.finish();
    drop(snapshot);
    drop(rt);
}

/// What a browser behind an ALB sends: about a dozen headers, some hop-by-hop.
/// As the proxy receives them: the list has room for the lines the proxy adds (see
/// `http1::header_list`), so appending them does not reallocate.
fn browser_headers() -> HeaderList {
    let mut h = HeaderList::with_capacity(20);
    let pairs = [
        ("host", "api.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        ("accept", "application/json, text/plain, */*"),
        ("accept-language", "en-GB,en;q=0.7"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("connection", "keep-alive, x-debug"),
        ("keep-alive", "timeout=5"),
        ("x-debug", "1"),
        ("te", "trailers"),
        ("cookie", "session=4f1c0b7e2d9a; theme=dark"),
        (
            "authorization",
            "Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
        ),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        (
            "x-amzn-trace-id",
            "Root=1-67891233-abcdef012345678912345678",
        ),
    ];
    for (name, value) in pairs {
        h.append(name, HeaderValue::from_static(value));
    }
    h
}

fn header_rewrite(c: &mut Criterion) {
    let base = browser_headers();
    let peer = forwarded_for_value("10.0.3.17".parse().expect("ip"));
    let mut with_id = base.clone();
    with_id.insert(
        "x-request-id",
        HeaderValue::from_static("0f8e2d6c4b3a29181716151413121110"),
    );
    let mut g = c.benchmark_group("header_rewrite");
    g.bench_function("strip_hop_by_hop", |b| {
        b.iter_batched_ref(
            browser_headers,
            |h| strip_hop_by_hop(h, false),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("set_forwarded", |b| {
        b.iter_batched_ref(
            browser_headers,
            |h| {
                set_forwarded(
                    h,
                    &peer,
                    false,
                    &HeaderValue::from_static("api.example.com"),
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("request_id_generated", |b| {
        b.iter(|| request_id(black_box(&base)))
    });
    g.bench_function("request_id_kept", |b| {
        b.iter(|| request_id(black_box(&with_id)))
    });
    // What the proxy does per request: all three in order.
    g.bench_function("all_three", |b| {
        b.iter_batched_ref(
            browser_headers,
            |h| {
                let id = request_id(h);
                strip_hop_by_hop(h, false);
                set_forwarded(
                    h,
                    &peer,
                    false,
                    &HeaderValue::from_static("api.example.com"),
                );
                h.insert("x-request-id", id);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn forward_mark(c: &mut Criterion) {
    let key = ForwardKey::new(b"a-32-byte-shared-secret-for-hmac");
    let id = "0f8e2d6c4b3a29181716151413121110";
    let mark = key.sign("us-east-1", id);
    assert!(key.verify(&mark, id).is_some());
    let mut g = c.benchmark_group("forward_mark");
    g.bench_function("sign", |b| {
        b.iter(|| key.sign(black_box("us-east-1"), black_box(id)))
    });
    g.bench_function("verify", |b| {
        b.iter(|| key.verify(black_box(&mark), black_box(id)))
    });
    g.finish();
}

/// One GET over a pooled keep-alive connection; the body is read to the end.
async fn get(client: &Client<HttpConnector, Empty<Bytes>>, uri: &http::Uri) {
    let req = Request::get(uri.clone())
        .header(header::HOST, "api.example.com")
        .body(Empty::new())
        .expect("request");
    let resp = client.request(req).await.expect("response");
    assert!(resp.status().is_success(), "status {}", resp.status());
    let body = resp.into_body().collect().await.expect("body");
    black_box(body.to_bytes());
}

fn whole_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let any = loopback(0);
    let (origins, server) = rt.block_on(async {
        let mut origins = Vec::new();
        for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
            origins.push(Origin::start(region, any).await.expect("origin"));
        }
        let endpoints = [origins[0].addr(), origins[1].addr(), origins[2].addr()];
        // Validation wants two distinct listen addresses, so admin gets a port picked now.
        let admin = std::net::TcpListener::bind(any)
            .and_then(|l| l.local_addr())
            .expect("free port");
        let s = settings("127.0.0.1:0", &admin.to_string(), endpoints);
        let server = Server::start(s).await.expect("meridian");
        (origins, server)
    });
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let direct: http::Uri = format!("http://{}/v1/users/42", origins[0].addr())
        .parse()
        .expect("uri");
    let proxied: http::Uri = format!("http://{}/v1/users/42", server.addr())
        .parse()
        .expect("uri");
    // Open the keep-alive connections (and Meridian's upstream one) before measuring.
    rt.block_on(async {
        get(&client, &direct).await;
        get(&client, &proxied).await;
    });

    let mut g = c.benchmark_group("round_trip");
    g.bench_function("direct_to_origin", |b| {
        b.to_async(&rt).iter(|| get(&client, &direct))
    });
    g.bench_function("through_meridian", |b| {
        b.to_async(&rt).iter(|| get(&client, &proxied))
    });
    g.finish();

    rt.block_on(async move {
        drop(client);
        server.stop().await;
        drop(origins);
    });
}

criterion_group! {
    name = pieces;
    config = config();
    targets = route_match, region_plan, header_rewrite, forward_mark
}
criterion_group! {
    name = whole;
    config = config().measurement_time(Duration::from_secs(4));
    targets = whole_path
}
criterion_main!(pieces, whole);
