//! Secrets never show (§ 7.4 of spec.md): not in error messages, not in
//! recorded requests and responses, not in any log line — even when a
//! server echoes them back in bodies, redirects and error responses.

mod http_common;

use std::time::Duration;

use base64::Engine as _;
use http_common::{Reply, capture_logs, serve};
use integ_runtime::http::{
    ApiClient, ApiConfig, ApiKeyLocation, Auth, Backoff, CallError, Credential, EndpointOptions, HmacAuth, Jitter,
    OAuth2ClientCredentials, Policy, Request,
};
use integ_runtime::secret::{REDACTED, Secret, redact};

const BEARER: &str = "S3cr3t-Bearer/Value+1";
const QUERY_KEY: &str = "qk/Secret Value+2";
const PASSWORD: &str = "basic-Secret-Password-3";
const CLIENT_SECRET: &str = "client Secret&4";
const ACCESS_TOKEN: &str = "issued-Access-Token-5";
const HMAC_KEY: &str = "hmac-Secret-Key-6";
const LEGACY: &str = "legacy-Secret-Header-7";

/// Every text in which a secret could leak: the values and their encodings.
fn forbidden() -> Vec<String> {
    let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let mut texts = Vec::new();
    for value in [BEARER, QUERY_KEY, PASSWORD, CLIENT_SECRET, ACCESS_TOKEN, HMAC_KEY, LEGACY] {
        texts.push(value.to_owned());
        texts.push(encode(value));
        texts.push(percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string());
    }
    texts.push(base64::engine::general_purpose::STANDARD.encode(format!("ann:{PASSWORD}")));
    texts
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} shows `{secret}`:\n{text}");
    }
}

fn check_error(error: &CallError) {
    assert_clean("Display", &error.to_string());
    assert_clean("Debug", &format!("{error:?}"));
    if let Some(request) = &error.request {
        for (name, value) in &request.headers {
            if name == "authorization" || name == "x-legacy" {
                assert_eq!(value, REDACTED);
            }
        }
    }
}

fn policy() -> Policy {
    Policy {
        attempts: 2,
        timeout: Duration::from_millis(500),
        backoff: Backoff::Constant(Duration::from_millis(10)),
        jitter: Jitter::None,
        ..Policy::default()
    }
}

/// A server that echoes whatever it gets: headers, URL and body.
async fn echo_server() -> http_common::Server {
    serve(|seen, _| {
        let echo = format!(
            "{} {}?{} authorization={:?} x-legacy={:?} body={}",
            seen.method,
            seen.path,
            seen.query,
            seen.header("authorization"),
            seen.header("x-legacy"),
            String::from_utf8_lossy(&seen.body)
        );
        match seen.path.as_str() {
            "/oauth/token" if seen.query.contains("fail") => Reply::status(400).body(echo),
            "/oauth/token" => Reply::json(serde_json::json!({ "access_token": ACCESS_TOKEN, "expires_in": 3600 })),
            "/v1/redirect" => Reply::status(302).header("location", format!("/v1/echo-error?{}", seen.query)),
            "/v1/slow" => Reply::ok("").delay(Duration::from_secs(5)),
            _ => Reply::status(503).header("x-echo", seen.query.clone()).body(echo),
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn secrets_appear_in_no_error_and_no_log_line() {
    let (logs, _guard) = capture_logs();
    let server = echo_server().await;
    let base = format!("{}/v1", server.url());
    let endpoint = EndpointOptions::new("sync");
    let mut errors = Vec::new();

    let schemes = vec![
        Auth::Bearer(Secret::new(BEARER)),
        Auth::ApiKey { location: ApiKeyLocation::Query("api_key".into()), value: Secret::new(QUERY_KEY).into() },
        Auth::Basic { username: "ann".into(), password: Secret::new(PASSWORD) },
        Auth::OAuth2ClientCredentials(OAuth2ClientCredentials::new(
            format!("{}/oauth/token", server.url()),
            "client-id",
            Secret::new(CLIENT_SECRET),
        )),
        Auth::Hmac(HmacAuth::new(Secret::new(HMAC_KEY))),
    ];
    for auth in schemes {
        let api = ApiClient::new(
            ApiConfig::new("Crm", base.clone())
                .auth(auth)
                .policy(policy())
                .header("X-Legacy", Credential::Secret(Secret::new(LEGACY))),
        )
        .unwrap();
        assert_clean("ApiClient Debug", &format!("{api:?}"));
        for path in ["/echo-error", "/redirect", "/slow"] {
            let mut request = Request::get(path).unwrap();
            request.query.push(("q".into(), "1".into()));
            errors.push(api.send(request, &endpoint).await.unwrap_err());
        }
    }

    // A token endpoint that fails, echoing the client credentials.
    let failing = OAuth2ClientCredentials::new(
        format!("{}/oauth/token?fail=1", server.url()),
        "client-id",
        Secret::new(CLIENT_SECRET),
    );
    let api = ApiClient::new(ApiConfig::new("Crm", base.clone()).auth(Auth::OAuth2ClientCredentials(failing))).unwrap();
    let auth_error = api.send(Request::get("/echo-error").unwrap(), &endpoint).await.unwrap_err();
    assert_eq!(auth_error.error_name(), "Auth");
    errors.push(auth_error);

    // A connection failure, with the key in the URL.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let api = ApiClient::new(
        ApiConfig::new("Crm", format!("http://{closed}"))
            .policy(policy())
            .auth(Auth::ApiKey { location: ApiKeyLocation::Query("k".into()), value: Secret::new(QUERY_KEY).into() }),
    )
    .unwrap();
    errors.push(api.send(Request::get("/x").unwrap(), &endpoint).await.unwrap_err());

    assert_eq!(errors.len(), 17);
    for error in &errors {
        check_error(error);
    }
    // The server did see the secrets, echoed them, and the errors quote the
    // echo with the secrets scrubbed.
    let echoed = errors.iter().find(|error| error.to_string().contains("authorization=Some")).unwrap();
    assert!(echoed.to_string().contains(REDACTED), "{echoed}");

    let text = logs.text();
    assert!(text.contains("sending"), "the capture works:\n{text}");
    assert!(text.contains("retrying in"), "{text}");
    assert!(text.contains("following a redirect"), "{text}");
    assert_clean("the logs", &text);
}

#[test]
fn redaction_covers_encodings() {
    let _secret = Secret::new("Enc oded/Secret+8");
    assert_eq!(redact("a Enc oded/Secret+8 b"), format!("a {REDACTED} b"));
    assert_eq!(redact("k=Enc%20oded%2FSecret%2B8"), format!("k={REDACTED}"));
    assert_eq!(redact("k=Enc+oded%2FSecret%2B8"), format!("k={REDACTED}"));
    assert_eq!(format!("{_secret:?} {_secret}"), format!("Secret({REDACTED}) {REDACTED}"));
}
