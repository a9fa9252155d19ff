//! Auth schemes against in-process servers (§ 8 of spec.md): api keys,
//! basic, bearer, OAuth2 token exchange, caching, refresh before expiry, the
//! 401 rule, single flight under concurrency, token endpoint failures, and
//! HMAC signatures verified by the server with the same algorithm.

mod http_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use http_common::{Reply, Seen, Server, serve};
use integ_runtime::http::{
    ApiClient, ApiConfig, ApiKeyLocation, Auth, AuthStyle, Backoff, Body, CallErrorKind, Canonical, CanonicalTemplate,
    EndpointOptions, HmacAlgorithm, HmacAuth, Jitter, Method, OAuth2ClientCredentials, OAuth2RefreshToken,
    PathTemplate, Policy, Request, SharedAuth, SignatureEncoding,
};
use integ_runtime::secret::Secret;
use sha2::{Digest as _, Sha256, Sha512};

fn policy() -> Policy {
    Policy {
        timeout: Duration::from_secs(5),
        backoff: Backoff::Exponential { base: Duration::from_millis(100), max: Duration::from_secs(5), factor: 2 },
        jitter: Jitter::None,
        ..Policy::default()
    }
}

fn api(server: &Server, auth: impl Into<SharedAuth>) -> ApiClient {
    ApiClient::new(ApiConfig::new("Crm", format!("{}/v1", server.url())).auth(auth).policy(policy()).seed(3)).unwrap()
}

fn get(path: &str) -> Request {
    Request::get(path).unwrap()
}

fn endpoint() -> EndpointOptions {
    EndpointOptions::new("list_contacts")
}

fn form(seen: &Seen) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&seen.body).map(|(key, value)| (key.into_owned(), value.into_owned())).collect()
}

#[tokio::test(start_paused = true)]
async fn api_key_in_a_header() {
    let server = serve(|_, _| Reply::ok("{}")).await;
    let auth = Auth::ApiKey {
        location: ApiKeyLocation::Header("X-Api-Key".into()),
        value: Secret::new("key-header-1234").into(),
    };
    api(&server, auth).send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(server.seen()[0].header("x-api-key"), Some("key-header-1234"));
}

#[tokio::test(start_paused = true)]
async fn api_key_in_the_query_goes_last_and_is_redacted() {
    let server = serve(|seen, _| if seen.path.ends_with("/fail") { Reply::status(400) } else { Reply::ok("{}") }).await;
    let auth =
        Auth::ApiKey { location: ApiKeyLocation::Query("api_key".into()), value: Secret::new("key query/5678").into() };
    let api = api(&server, auth);
    let request = Request::builder(Method::GET)
        .path(PathTemplate::literal_path("/contacts"))
        .query("limit", "10")
        .query("api_key", "written-by-the-endpoint")
        .build()
        .unwrap();
    api.send(request, &endpoint()).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.query, "limit=10&api_key=key%20query%2F5678");

    let error = api.send(get("/fail"), &endpoint()).await.unwrap_err();
    let shown = error.to_string();
    assert!(!shown.contains("key%20query%2F5678") && !shown.contains("key query/5678"), "{shown}");
    // The error shows the URL without credentials; the recorded request (for
    // dead letters) shows the parameter redacted.
    assert!(!error.url.contains("api_key"), "{}", error.url);
    assert!(error.request.as_ref().unwrap().url.contains("api_key=<redacted>"));

    // A key given as plain text is recorded as `<redacted>` all the same.
    let auth = Auth::ApiKey { location: ApiKeyLocation::Query("key".into()), value: "plain-text-key-9".into() };
    let error = api_with(&server, auth).send(get("/fail"), &endpoint()).await.unwrap_err();
    let recorded = &error.request.as_ref().unwrap().url;
    assert!(recorded.ends_with("/v1/fail?key=<redacted>"), "{recorded}");
    assert!(!format!("{error:?}").contains("plain-text-key-9"));
}

fn api_with(server: &Server, auth: Auth) -> ApiClient {
    api(server, auth)
}

#[tokio::test(start_paused = true)]
async fn basic_and_bearer() {
    let server = serve(|_, _| Reply::ok("{}")).await;
    let basic = Auth::Basic { username: "ann".into(), password: Secret::new("pässword-basic") };
    api(&server, basic).send(get("/contacts"), &endpoint()).await.unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode("ann:pässword-basic");
    assert_eq!(server.seen()[0].header("authorization"), Some(format!("Basic {expected}").as_str()));

    api(&server, Auth::Bearer(Secret::new("bearer-token-abc"))).send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(server.seen()[1].header("authorization"), Some("Bearer bearer-token-abc"));

    api(&server, Auth::None).send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(server.seen()[2].header("authorization"), None);
}

/// A token endpoint at `/oauth/token` issuing `token-1`, `token-2`...
/// (expiring after `expires_in` seconds when given) and an api under `/v1`
/// that accepts every token but the ones in `rejected`.
struct OAuthServer {
    server: Server,
    issued: Arc<AtomicUsize>,
}

impl OAuthServer {
    async fn start(expires_in: Option<u64>, rejected: &'static [&'static str], token_delay: Duration) -> OAuthServer {
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let server = serve(move |seen, _| {
            if seen.path == "/oauth/token" {
                let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let mut body = serde_json::json!({ "access_token": format!("token-{number}"), "token_type": "Bearer" });
                if let Some(expires_in) = expires_in {
                    body["expires_in"] = expires_in.into();
                }
                return Reply::json(body).delay(token_delay);
            }
            let token = seen.header("authorization").unwrap_or("").trim_start_matches("Bearer ").to_owned();
            if token.is_empty() || rejected.contains(&token.as_str()) {
                Reply::status(401)
            } else {
                Reply::ok(format!("{{\"token\": \"{token}\"}}"))
            }
        })
        .await;
        OAuthServer { server, issued }
    }

    fn token_url(&self) -> String {
        format!("{}/oauth/token", self.server.url())
    }

    fn client_credentials(&self) -> OAuth2ClientCredentials {
        OAuth2ClientCredentials::new(self.token_url(), "crm-client", Secret::new("client secret&1"))
    }

    fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    fn api_requests(&self) -> Vec<Seen> {
        self.server.seen().into_iter().filter(|seen| seen.path != "/oauth/token").collect()
    }
}

#[tokio::test(start_paused = true)]
async fn client_credentials_are_exchanged_for_a_cached_token() {
    let oauth = OAuthServer::start(Some(3600), &[], Duration::ZERO).await;
    let mut config = oauth.client_credentials();
    config.scopes = vec!["contacts.read".into(), "contacts.write".into()];
    config.audience = Some("https://crm.example.com".into());
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(config));
    for _ in 0..3 {
        let response = api.send(get("/contacts"), &endpoint()).await.unwrap();
        assert_eq!(&response.body[..], b"{\"token\": \"token-1\"}");
    }
    assert_eq!(oauth.issued(), 1);
    let token_request = &oauth.server.seen_at("/oauth/token")[0];
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.header("accept"), Some("application/json"));
    assert_eq!(token_request.header("content-type"), Some("application/x-www-form-urlencoded"));
    // RFC 6749 § 2.3.1: the form-encoded id and secret in a basic header.
    let credentials = base64::engine::general_purpose::STANDARD.encode("crm-client:client+secret%261");
    assert_eq!(token_request.header("authorization"), Some(format!("Basic {credentials}").as_str()));
    assert_eq!(
        form(token_request),
        [
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("scope".to_owned(), "contacts.read contacts.write".to_owned()),
            ("audience".to_owned(), "https://crm.example.com".to_owned()),
        ]
    );
    assert!(oauth.api_requests().iter().all(|seen| seen.header("authorization") == Some("Bearer token-1")));
}

#[tokio::test(start_paused = true)]
async fn client_credentials_in_the_body() {
    let oauth = OAuthServer::start(None, &[], Duration::ZERO).await;
    let mut config = oauth.client_credentials();
    config.auth_style = AuthStyle::Body;
    api(&oauth.server, Auth::OAuth2ClientCredentials(config)).send(get("/contacts"), &endpoint()).await.unwrap();
    let token_request = &oauth.server.seen_at("/oauth/token")[0];
    assert_eq!(token_request.header("authorization"), None);
    assert_eq!(
        form(token_request),
        [
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), "crm-client".to_owned()),
            ("client_secret".to_owned(), "client secret&1".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_token_is_refreshed_before_it_expires() {
    let oauth = OAuthServer::start(Some(100), &[], Duration::ZERO).await;
    let mut config = oauth.client_credentials();
    config.refresh_before = Duration::from_secs(60);
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(config));
    api.send(get("/contacts"), &endpoint()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(39)).await;
    api.send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(oauth.issued(), 1, "still fresh 39 s later");
    tokio::time::sleep(Duration::from_secs(2)).await;
    api.send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(oauth.issued(), 2, "100 s - 60 s have passed: refreshed first");
    let tokens: Vec<_> =
        oauth.api_requests().iter().map(|seen| seen.header("authorization").unwrap().to_owned()).collect();
    assert_eq!(tokens, ["Bearer token-1", "Bearer token-1", "Bearer token-2"]);
}

#[tokio::test(start_paused = true)]
async fn a_401_refreshes_the_token_once_and_repeats() {
    let oauth = OAuthServer::start(None, &["token-1"], Duration::ZERO).await;
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(oauth.client_credentials()));
    let response = api.send(get("/contacts"), &endpoint()).await.unwrap();
    assert_eq!(&response.body[..], b"{\"token\": \"token-2\"}");
    assert_eq!(response.attempts, 1, "the repeat is not an attempt");
    assert_eq!(oauth.issued(), 2);
    assert_eq!(oauth.api_requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_second_401_is_a_status_like_any_other() {
    let oauth = OAuthServer::start(None, &["token-1", "token-2", "token-3"], Duration::ZERO).await;
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(oauth.client_credentials()));
    let error = api.send(get("/contacts"), &endpoint()).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.attempts, 1);
    assert_eq!(oauth.issued(), 2);
    assert_eq!(oauth.api_requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn twenty_concurrent_calls_share_one_token_request() {
    let oauth = OAuthServer::start(Some(3600), &[], Duration::from_millis(200)).await;
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(oauth.client_credentials()));
    let options = endpoint();
    let calls = (0..20).map(|_| api.send(get("/contacts"), &options));
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(&result.unwrap().body[..], b"{\"token\": \"token-1\"}");
    }
    assert_eq!(oauth.issued(), 1);
    assert_eq!(oauth.api_requests().len(), 20);
}

#[tokio::test(start_paused = true)]
async fn twenty_concurrent_401s_cause_one_refresh() {
    let oauth = OAuthServer::start(None, &["token-1"], Duration::from_millis(50)).await;
    let api = api(&oauth.server, Auth::OAuth2ClientCredentials(oauth.client_credentials()));
    let options = endpoint();
    let calls = (0..20).map(|_| api.send(get("/contacts"), &options));
    for result in futures_util::future::join_all(calls).await {
        let response = result.unwrap();
        assert_eq!(&response.body[..], b"{\"token\": \"token-2\"}");
        assert_eq!(response.attempts, 1);
    }
    assert_eq!(oauth.issued(), 2, "one token, then one refresh for all twenty 401s");
    assert_eq!(oauth.api_requests().len(), 40);
}

#[tokio::test(start_paused = true)]
async fn one_auth_declaration_shares_its_cache_between_apis() {
    let oauth = OAuthServer::start(Some(3600), &[], Duration::ZERO).await;
    let shared = SharedAuth::new(Auth::OAuth2ClientCredentials(oauth.client_credentials()));
    let a = api(&oauth.server, shared.clone());
    let b = api(&oauth.server, shared);
    a.send(get("/contacts"), &endpoint()).await.unwrap();
    b.send(get("/deals"), &endpoint()).await.unwrap();
    assert_eq!(oauth.issued(), 1);
}

#[tokio::test(start_paused = true)]
async fn token_requests_are_retried_under_the_policy() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = serve(move |seen, _| {
        if seen.path == "/oauth/token" {
            return match counter.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::status(503).header("retry-after", "1"),
                _ => Reply::json(serde_json::json!({ "access_token": "retried-token-1" })),
            };
        }
        Reply::ok("{}")
    })
    .await;
    let config =
        OAuth2ClientCredentials::new(format!("{}/oauth/token", server.url()), "id", Secret::new("retry-secret"));
    api(&server, Auth::OAuth2ClientCredentials(config)).send(get("/contacts"), &endpoint()).await.unwrap();
    let tokens = server.seen_at("/oauth/token");
    assert_eq!(tokens.len(), 2);
    assert!(tokens[1].at - tokens[0].at >= Duration::from_secs(1));
    assert_eq!(server.seen_at("/v1/contacts")[0].header("authorization"), Some("Bearer retried-token-1"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_token_endpoint_is_the_auth_error() {
    let server = serve(|seen, _| {
        if seen.path == "/oauth/token" {
            Reply::status(500).body("{\"error\": \"server_error\"}")
        } else {
            Reply::ok("{}")
        }
    })
    .await;
    let config = OAuth2ClientCredentials::new(format!("{}/oauth/token", server.url()), "id", Secret::new("sekrit-500"));
    let api = api(&server, Auth::OAuth2ClientCredentials(config));
    let error = api.send(get("/contacts"), &endpoint()).await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Auth { .. }), "{error}");
    assert_eq!(error.error_name(), "Auth");
    assert_eq!(error.attempts, 0);
    assert!(error.to_string().contains("500 Internal Server Error"), "{error}");
    assert_eq!(server.seen_at("/oauth/token").len(), 3, "the policy's 3 attempts");
    assert!(server.seen_at("/v1/contacts").is_empty());

    // A reply that is not a bearer token is an Auth error too.
    let server =
        serve(|_, _| Reply::json(serde_json::json!({ "access_token": "mac-token-1", "token_type": "mac" }))).await;
    let config = OAuth2ClientCredentials::new(format!("{}/oauth/token", server.url()), "id", Secret::new("sekrit-mac"));
    let error = api_for(&server, config).send(get("/contacts"), &endpoint()).await.unwrap_err();
    assert!(matches!(&error.kind, CallErrorKind::Auth { message } if message.contains("not Bearer")), "{error}");
    assert_eq!(server.count(), 1, "an invalid token reply is not retried");
}

fn api_for(server: &Server, config: OAuth2ClientCredentials) -> ApiClient {
    api(server, Auth::OAuth2ClientCredentials(config))
}

#[tokio::test(start_paused = true)]
async fn refresh_tokens_are_exchanged_and_rotated() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = serve(move |seen, _| {
        if seen.path == "/oauth/token" {
            let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::json(serde_json::json!({
                "access_token": format!("access-{number}"),
                "expires_in": 120,
                "refresh_token": format!("rotated-refresh-{number}"),
            }));
        }
        Reply::ok("{}")
    })
    .await;
    let rotated = Arc::new(Mutex::new(Vec::new()));
    let seen_rotations = rotated.clone();
    let mut config = OAuth2RefreshToken::new(
        format!("{}/oauth/token", server.url()),
        "public-client",
        Secret::new("initial-refresh-token"),
    );
    config.scopes = vec!["offline".into()];
    config.on_rotate =
        Some(Arc::new(move |token: &Secret| seen_rotations.lock().unwrap().push(token.expose().to_owned())));
    let api = api(&server, Auth::OAuth2RefreshToken(config));
    api.send(get("/contacts"), &endpoint()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    api.send(get("/contacts"), &endpoint()).await.unwrap();

    let token_requests = server.seen_at("/oauth/token");
    assert_eq!(token_requests.len(), 2);
    assert_eq!(
        form(&token_requests[0]),
        [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), "initial-refresh-token".to_owned()),
            ("scope".to_owned(), "offline".to_owned()),
            ("client_id".to_owned(), "public-client".to_owned()),
        ]
    );
    assert_eq!(token_requests[0].header("authorization"), None);
    assert_eq!(form(&token_requests[1])[1].1, "rotated-refresh-1");
    assert_eq!(*rotated.lock().unwrap(), ["rotated-refresh-1", "rotated-refresh-2"]);
    assert_eq!(server.seen_at("/v1/contacts")[1].header("authorization"), Some("Bearer access-2"));
}

const NOW: u64 = 1_700_000_000;

fn hmac_api(server: &Server, auth: HmacAuth) -> ApiClient {
    ApiClient::new(
        ApiConfig::new("Ledger", format!("{}/api", server.url()))
            .auth(Auth::Hmac(auth))
            .policy(policy())
            .seed(9)
            .wall_clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)),
    )
    .unwrap()
}

fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(start_paused = true)]
async fn hmac_signatures_verify_at_the_server() {
    const KEY: &str = "ledger-signing-secret";
    // The server checks the signature with the default canonical text.
    let server = serve(|seen, _| {
        let timestamp = seen.header("x-timestamp").unwrap_or("");
        let canonical =
            format!("{}\n{}\n{}\n{}", seen.method, seen.path, timestamp, hex::encode(Sha256::digest(&seen.body)));
        let expected = hmac_sha256_hex(KEY.as_bytes(), canonical.as_bytes());
        if seen.header("x-signature") == Some(expected.as_str()) { Reply::ok("{}") } else { Reply::status(401) }
    })
    .await;
    let mut auth = HmacAuth::new(Secret::new(KEY));
    auth.timestamp_header = Some("X-Timestamp".into());
    let api = hmac_api(&server, auth);
    let request = Request::builder(Method::POST)
        .path(PathTemplate::new().literal("/entries/").param("2024/05"))
        .body(Body::json(b"{\"amount\": 12.50}".to_vec()))
        .idempotency_key("entry-1")
        .build()
        .unwrap();
    api.send(request, &endpoint()).await.unwrap();
    api.send(get("/ping"), &endpoint()).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].path, "/api/entries/2024%2F05");
    assert_eq!(seen[0].header("x-timestamp"), Some("1700000000"));
}

#[tokio::test(start_paused = true)]
async fn hmac_with_sha512_base64_a_custom_template_and_a_key_id() {
    const KEY: &str = "ledger-512-secret";
    let server = serve(|seen, _| {
        let canonical = format!("{}|{}|{}|{}|", seen.method, seen.host, seen.path, seen.query);
        let mut message = canonical.into_bytes();
        message.extend_from_slice(&seen.body);
        let mut mac = hmac::Hmac::<Sha512>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(&message);
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let ok = seen.header("x-sig") == Some(expected.as_str()) && seen.header("x-key-id") == Some("key-7");
        if ok { Reply::ok("{}") } else { Reply::status(401) }
    })
    .await;
    let mut auth = HmacAuth::new(Secret::new(KEY));
    auth.header = "X-Sig".into();
    auth.algorithm = HmacAlgorithm::Sha512;
    auth.encoding = SignatureEncoding::Base64;
    auth.canonical = Canonical::Template(CanonicalTemplate::parse("{method}|{host}|{path}|{query}|{body}").unwrap());
    auth.key_id = Some("key-7".into());
    auth.key_id_header = Some("X-Key-Id".into());
    let request = Request::builder(Method::PUT)
        .path(PathTemplate::literal_path("/accounts"))
        .query("q", "a b")
        .body(Body::json(b"[1,2]".to_vec()))
        .build()
        .unwrap();
    hmac_api(&server, auth).send(request, &endpoint()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_attempt_is_signed_anew() {
    let server = serve(|_, index| if index == 0 { Reply::status(503) } else { Reply::ok("{}") }).await;
    let mut auth = HmacAuth::new(Secret::new("nonce-signing-secret"));
    auth.canonical = Canonical::Template(CanonicalTemplate::parse("{nonce}").unwrap());
    hmac_api(&server, auth).send(get("/ping"), &endpoint()).await.unwrap();
    let signatures: Vec<_> = server.seen().iter().map(|seen| seen.header("x-signature").unwrap().to_owned()).collect();
    assert_eq!(signatures.len(), 2);
    assert_ne!(signatures[0], signatures[1], "a fresh nonce for each attempt");

    // A closure may compute the canonical text.
    let server = serve(|seen, _| {
        let expected = hmac_sha256_hex(b"closure-signing-secret", format!("custom:{}", seen.path).as_bytes());
        if seen.header("x-signature") == Some(expected.as_str()) { Reply::ok("{}") } else { Reply::status(401) }
    })
    .await;
    let mut auth = HmacAuth::new(Secret::new("closure-signing-secret"));
    auth.canonical = Canonical::Custom(Arc::new(|input| format!("custom:{}", input.path).into_bytes()));
    hmac_api(&server, auth).send(get("/custom"), &endpoint()).await.unwrap();
}
