//! Pagination against in-process servers (§ 10.9 of spec.md): every style,
//! and the guards — repeated cursors, URLs and pages, `has_more` without a
//! cursor, the page limit, next URLs on another origin.

mod http_common;

use std::time::Duration;

use http_common::{Reply, Seen, Server, serve};
use integ_runtime::http::{
    ApiClient, ApiConfig, Auth, CallError, CallErrorKind, EndpointOptions, PageOutcome, PageStyle, Pager, PagerOptions,
    Policy, Request, Response,
};
use integ_runtime::secret::Secret;
use serde_json::{Value, json};

fn client(server: &Server) -> ApiClient {
    let policy = Policy { attempts: 1, timeout: Duration::from_secs(5), ..Policy::default() };
    ApiClient::new(
        ApiConfig::new("Shop", format!("{}/v1", server.url()))
            .policy(policy)
            .auth(Auth::Bearer(Secret::new("paging-token-1"))),
    )
    .unwrap()
}

fn first(query: &[(&str, &str)]) -> Request {
    let mut request = Request::get("/items").unwrap();
    for (key, value) in query {
        request.query.push(((*key).to_owned(), (*value).to_owned()));
    }
    request
}

fn body(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

fn items(response: &Response) -> Vec<i64> {
    body(response)["items"].as_array().map(|items| items.iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
}

/// `records body.items`, `next: body.next`, `has_more: body.has_more`.
fn extract(response: &Response) -> Result<PageOutcome, CallError> {
    let body = body(response);
    let mut outcome = PageOutcome::records(items(response).len()).with_next(body["next"].as_str());
    if let Some(has_more) = body["has_more"].as_bool() {
        outcome = outcome.with_has_more(has_more);
    }
    if body["stop"].as_bool() == Some(true) {
        outcome = outcome.with_stop(true);
    }
    Ok(outcome)
}

/// Reads the whole stream (bounded): the records of each page, and the error
/// that ended it, if any.
async fn drain(mut pager: Pager) -> (Vec<Vec<i64>>, Option<CallError>) {
    let mut pages = Vec::new();
    for _ in 0..100 {
        match pager.next(extract).await {
            None => return (pages, None),
            Some(Ok(response)) => pages.push(items(&response)),
            Some(Err(error)) => {
                assert!(pager.next(extract).await.is_none(), "a stream error ends the stream");
                return (pages, Some(error));
            }
        }
    }
    panic!("the stream did not end");
}

fn pager(server: &Server, first: Request, style: PageStyle) -> Pager {
    Pager::new(client(server), first, EndpointOptions::new("list_items"), style, PagerOptions::default())
}

fn pagination_message(error: Option<CallError>) -> String {
    let error = error.expect("the stream ended with an error");
    assert_eq!(error.error_name(), "Pagination");
    match &error.kind {
        CallErrorKind::Pagination { message } => message.clone(),
        other => panic!("not a pagination error: {other:?}"),
    }
}

fn cursor(param: &str) -> PageStyle {
    PageStyle::Cursor { param: param.into() }
}

#[tokio::test(start_paused = true)]
async fn cursor_pages() {
    let server = serve(|seen, _| {
        Reply::json(match seen.param("cursor").as_deref() {
            None | Some("written") => json!({ "items": [1, 2], "next": "c2" }),
            Some("c2") => json!({ "items": [3, 4], "next": "c 3" }),
            _ => json!({ "items": [5], "next": null }),
        })
    })
    .await;
    let (pages, error) = drain(pager(&server, first(&[("limit", "2"), ("cursor", "written")]), cursor("cursor"))).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5]]);
    let queries: Vec<String> = server.seen().iter().map(|seen| seen.query.clone()).collect();
    // The pagination parameter replaces a written one of the same name, after the others.
    assert_eq!(queries, ["limit=2&cursor=written", "limit=2&cursor=c2", "limit=2&cursor=c%203"]);
    // Same request otherwise: path, headers and auth.
    assert!(server.seen().iter().all(|seen| seen.path == "/v1/items"));
    assert!(server.seen().iter().all(|seen| seen.header("authorization") == Some("Bearer paging-token-1")));
}

#[tokio::test(start_paused = true)]
async fn cursor_with_has_more() {
    let server = serve(|seen, _| {
        Reply::json(match seen.param("after").as_deref() {
            None => json!({ "items": [1], "next": "a", "has_more": true }),
            _ => json!({ "items": [2], "next": "b", "has_more": false }),
        })
    })
    .await;
    let (pages, error) = drain(pager(&server, first(&[]), cursor("after"))).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn has_more_without_a_cursor_is_an_error() {
    let server = serve(|_, _| Reply::json(json!({ "items": [1], "next": "", "has_more": true }))).await;
    let (pages, error) = drain(pager(&server, first(&[]), cursor("after"))).await;
    assert_eq!(pages, [vec![1]], "the page is delivered first");
    assert!(pagination_message(error).contains("has_more"));
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_repeated_cursor_ends_the_stream() {
    let server = serve(|_, index| Reply::json(json!({ "items": [index], "next": "same" }))).await;
    let (pages, error) = drain(pager(&server, first(&[]), cursor("cursor"))).await;
    assert_eq!(pages, [vec![0], vec![1]]);
    assert!(pagination_message(error).contains("`same` was already used"));
    assert_eq!(server.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_page_limit_ends_an_endless_stream() {
    let server = serve(|_, index| Reply::json(json!({ "items": [index], "next": format!("c{}", index + 1) }))).await;
    let options = PagerOptions { max_pages: 3 };
    let pager = Pager::new(client(&server), first(&[]), EndpointOptions::new("list_items"), cursor("c"), options);
    let (pages, error) = drain(pager).await;
    assert_eq!(pages.len(), 3);
    assert!(pagination_message(error).contains("max_pages: 3"));
    assert_eq!(server.count(), 3);

    assert_eq!(PagerOptions::default().max_pages, 1000);
}

#[tokio::test(start_paused = true)]
async fn page_numbers_and_sizes() {
    let data: Vec<i64> = (1..=5).collect();
    let server = serve(move |seen, _| {
        let page: usize = seen.param("page").and_then(|page| page.parse().ok()).unwrap_or(1);
        let size: usize = seen.param("per_page").and_then(|size| size.parse().ok()).unwrap_or(2);
        let items: Vec<i64> = data.iter().copied().skip((page - 1) * size).take(size).collect();
        Reply::json(json!({ "items": items }))
    })
    .await;
    let style = PageStyle::Page { param: "page".into(), start: 1, size_param: Some("per_page".into()), size: Some(2) };
    let (pages, error) = drain(pager(&server, first(&[("sort", "id")]), style)).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5]], "a short page ends the stream");
    let queries: Vec<String> = server.seen().iter().map(|seen| seen.query.clone()).collect();
    assert_eq!(queries, ["sort=id&page=1&per_page=2", "sort=id&page=2&per_page=2", "sort=id&page=3&per_page=2"]);

    // Without `size`, an empty page ends it.
    let before = server.count();
    let (pages, error) = drain(pager(&server, first(&[]), PageStyle::page())).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5], vec![]]);
    assert_eq!(server.count() - before, 4);
}

#[tokio::test(start_paused = true)]
async fn page_stop_expression() {
    let server = serve(|seen, _| {
        let page: i64 = seen.param("p").and_then(|page| page.parse().ok()).unwrap_or(0);
        Reply::json(json!({ "items": [page], "stop": page >= 2 }))
    })
    .await;
    let style = PageStyle::Page { param: "p".into(), start: 0, size_param: None, size: None };
    let (pages, error) = drain(pager(&server, first(&[]), style)).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![0], vec![1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn a_page_that_repeats_the_previous_one_is_an_error() {
    // The server ignores the page parameter.
    let server = serve(|_, _| Reply::json(json!({ "items": [1, 2] }))).await;
    let (pages, error) = drain(pager(&server, first(&[]), PageStyle::page())).await;
    assert_eq!(pages, [vec![1, 2]], "the repeated page is not delivered");
    assert!(pagination_message(error).contains("ignored `page`"));
    assert_eq!(server.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn offsets_and_limits() {
    let server = serve(|seen, _| {
        let offset: i64 = seen.param("offset").and_then(|offset| offset.parse().ok()).unwrap_or(0);
        let limit: i64 = seen.param("limit").and_then(|limit| limit.parse().ok()).unwrap_or(0);
        let items: Vec<i64> = (offset..(offset + limit).min(5)).collect();
        Reply::json(json!({ "items": items }))
    })
    .await;
    let style = PageStyle::Offset { param: "offset".into(), limit_param: "limit".into(), limit: 2 };
    let (pages, error) = drain(pager(&server, first(&[]), style)).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![0, 1], vec![2, 3], vec![4]]);
    let queries: Vec<String> = server.seen().iter().map(|seen| seen.query.clone()).collect();
    assert_eq!(queries, ["offset=0&limit=2", "offset=2&limit=2", "offset=4&limit=2"]);

    // An offset the server ignores repeats the first page: an error.
    let stuck = serve(|_, _| Reply::json(json!({ "items": [7, 8] }))).await;
    let (pages, error) = drain(pager(
        &stuck,
        first(&[]),
        PageStyle::Offset { param: "offset".into(), limit_param: "limit".into(), limit: 2 },
    ))
    .await;
    assert_eq!(pages, [vec![7, 8]]);
    assert!(pagination_message(error).contains("ignored `offset`"));
}

fn link_server_reply(seen: &Seen, other_origin: &str) -> Reply {
    let page = seen.param("page").unwrap_or_else(|| "1".into());
    let reply = Reply::json(json!({ "items": [page.parse::<i64>().unwrap_or(0)] }));
    match page.as_str() {
        // Relative, with another relation in the same header.
        "1" => reply.header("link", "</v1/items?page=2>; rel=\"next\", </v1/items?page=9>; rel=\"last\""),
        // Absolute, same origin, in a second Link header.
        "2" => reply
            .header("link", format!("<http://{}/v1/items?page=1>; rel=prev", seen.host))
            .header("link", format!("<http://{}/v1/items?page=3>; rel=\"next\"", seen.host)),
        "3" => reply.header("link", format!("<{other_origin}/v1/items?page=4>; rel=next")),
        _ => reply,
    }
}

#[tokio::test(start_paused = true)]
async fn link_headers() {
    let server = serve(|seen, _| {
        if seen.param("page").as_deref() == Some("3") {
            return Reply::json(json!({ "items": [3] }));
        }
        link_server_reply(seen, "")
    })
    .await;
    let (pages, error) = drain(pager(&server, first(&[("q", "x")]), PageStyle::link_header())).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1], vec![2], vec![3]]);
    // The next URL replaces path and whole query.
    let queries: Vec<String> = server.seen().iter().map(|seen| seen.query.clone()).collect();
    assert_eq!(queries, ["q=x", "page=2", "page=3"]);
    assert!(server.seen().iter().all(|seen| seen.header("authorization") == Some("Bearer paging-token-1")));
}

#[tokio::test(start_paused = true)]
async fn a_next_url_on_another_origin_ends_the_stream() {
    let other = serve(|_, _| Reply::json(json!({ "items": [99] }))).await;
    let other_url = other.url();
    let server = serve(move |seen, _| link_server_reply(seen, &other_url)).await;
    let (pages, error) = drain(pager(&server, first(&[]), PageStyle::link_header())).await;
    assert_eq!(pages, [vec![1], vec![2], vec![3]]);
    let message = pagination_message(error);
    assert!(message.contains("not on the api's origin"), "{message}");
    assert_eq!(other.count(), 0, "nothing is sent to another server");
}

#[tokio::test(start_paused = true)]
async fn next_urls_from_the_body() {
    let other = serve(|_, _| Reply::json(json!({ "items": [] }))).await;
    let other_url = other.url();
    let server = serve(move |seen, _| {
        Reply::json(match seen.param("after").as_deref() {
            None => json!({ "items": [1], "next": "items?after=1" }),
            Some("1") => json!({ "items": [2], "next": format!("http://{}/v1/items?after=2", seen.host) }),
            Some("2") => json!({ "items": [3], "next": null }),
            _ => json!({ "items": [] }),
        })
    })
    .await;
    let (pages, error) = drain(pager(&server, first(&[]), PageStyle::NextUrl)).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1], vec![2], vec![3]]);
    let paths: Vec<String> = server.seen().iter().map(|seen| format!("{}?{}", seen.path, seen.query)).collect();
    assert_eq!(paths, ["/v1/items?", "/v1/items?after=1", "/v1/items?after=2"]);

    // Cross-origin and repeated next URLs are errors.
    let cross = serve(move |_, _| Reply::json(json!({ "items": [1], "next": format!("{other_url}/steal") }))).await;
    let (pages, error) = drain(pager(&cross, first(&[]), PageStyle::NextUrl)).await;
    assert_eq!(pages.len(), 1);
    assert!(pagination_message(error).contains("origin"));
    assert_eq!(other.count(), 0);

    let looping = serve(|_, index| Reply::json(json!({ "items": [index], "next": "/v1/items?again=1" }))).await;
    let (pages, error) = drain(pager(&looping, first(&[]), PageStyle::NextUrl)).await;
    assert_eq!(pages.len(), 2);
    assert!(pagination_message(error).contains("already requested"));
    assert_eq!(looping.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_stream_without_pagination_makes_one_request() {
    let server = serve(|_, _| Reply::json(json!({ "items": [1, 2, 3], "next": "ignored" }))).await;
    let (pages, error) = drain(pager(&server, first(&[]), PageStyle::Single)).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1, 2, 3]]);
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_page_request_ends_the_stream() {
    let server = serve(|seen, _| match seen.param("cursor").as_deref() {
        None => Reply::json(json!({ "items": [1], "next": "c2" })),
        _ => Reply::status(500),
    })
    .await;
    let (pages, error) = drain(pager(&server, first(&[]), cursor("cursor"))).await;
    assert_eq!(pages, [vec![1]]);
    let error = error.unwrap();
    assert_eq!(error.status(), Some(500));
    assert!(error.url.ends_with("/v1/items?cursor=c2"), "{}", error.url);
}

#[tokio::test(start_paused = true)]
async fn each_page_request_is_retried_on_its_own() {
    let server = serve(|seen, index| match (seen.param("cursor").as_deref(), index) {
        (None, _) => Reply::json(json!({ "items": [1], "next": "c2" })),
        (Some(_), 1) => Reply::status(503),
        _ => Reply::json(json!({ "items": [2] })),
    })
    .await;
    let api = ApiClient::new(ApiConfig::new("Shop", format!("{}/v1", server.url()))).unwrap();
    let pager = Pager::new(api, first(&[]), EndpointOptions::new("list"), cursor("cursor"), PagerOptions::default());
    let (pages, error) = drain(pager).await;
    assert!(error.is_none());
    assert_eq!(pages, [vec![1], vec![2]]);
    assert_eq!(server.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_extraction_error_ends_the_stream() {
    let server = serve(|_, _| Reply::ok("not json")).await;
    let api = client(&server);
    let mut pager = Pager::new(api, first(&[]), EndpointOptions::new("list"), cursor("c"), PagerOptions::default());
    let result = pager
        .next(|response| {
            Err(CallError::new(
                "Shop",
                "list",
                CallErrorKind::Decode { message: "body: expected an object".into() },
                integ_runtime::http::Method::GET,
                response.url.as_str(),
            ))
        })
        .await;
    assert_eq!(result.unwrap().unwrap_err().error_name(), "Decode");
    assert!(pager.next(extract).await.is_none());
}
