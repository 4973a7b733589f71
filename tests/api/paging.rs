//! Listings in pages, and the next page's link.

use super::*;

/// Listings come in pages (default 100, at most 500) with the next page in a
/// `Link` header; following it sees every item once, in the listing's order.
#[tokio::test]
async fn listings_are_paged_and_the_link_header_walks_them_whole() {
    let api = api().await;
    // Seven incidents of contoso, opened at four different times.
    for i in 0..7 {
        let at = utc("2026-11-20T10:00:00Z") + Duration::hours(i % 4) + Duration::minutes(i);
        let mut inc = livesite_tests::contract::incident("contoso", 0);
        inc.id = format!("contoso-inc-{i}");
        inc.opened_at = at;
        api.store.create_incident(&inc).await.expect("create");
    }
    let all = call(
        &api,
        Call::new("GET", "/v1/incidents").claims(admin()),
        now(),
    )
    .await;
    let everything: Vec<String> = all
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(everything.len(), 7, "one page by default");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut c = Call::new("GET", "/v1/incidents")
            .claims(admin())
            .query("limit", "3");
        if let Some(next) = &cursor {
            c = c.query("cursor", next);
        }
        let r = api.handle(c.request(), now()).await;
        assert_eq!(r.status(), 200);
        let body: Value = match r.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => Value::Null,
        };
        let ids = body.as_array().expect("array");
        assert!(ids.len() <= 3);
        seen.extend(
            ids.iter()
                .map(|i| i["id"].as_str().unwrap_or("").to_string()),
        );
        pages += 1;
        let Some(link) = r.headers().get("link").and_then(|v| v.to_str().ok()) else {
            break;
        };
        assert!(
            link.starts_with("</v1/incidents?limit=3&cursor=") && link.ends_with(">; rel=\"next\""),
            "{link}"
        );
        let next = link
            .split("cursor=")
            .nth(1)
            .and_then(|r| r.split('>').next())
            .expect("cursor");
        cursor = Some(next.to_string());
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, everything, "every item once, newest first");
    for bad in ["limit=0", "limit=501", "cursor=zz"] {
        let (k, v) = bad.split_once('=').expect("pair");
        let a = call(
            &api,
            Call::new("GET", "/v1/incidents")
                .claims(admin())
                .query(k, v),
            now(),
        )
        .await;
        assert_eq!(
            (a.status, a.body["errors"][0]["field"].as_str()),
            (422, Some(k)),
            "{bad}"
        );
    }
}

/// The next page's link repeats every filter of the listing: page 2 of
/// what the team owes lists only what the team owes.
#[tokio::test]
async fn the_next_page_keeps_every_filter() {
    let api = api().await;
    for (i, owed) in [
        livesite_core::incident::Party::Team,
        livesite_core::incident::Party::Operator,
        livesite_core::incident::Party::Team,
        livesite_core::incident::Party::Team,
    ]
    .into_iter()
    .enumerate()
    {
        let mut inc = livesite_tests::contract::incident("contoso", i as i64);
        inc.owed_by = owed;
        assert!(api.store.create_incident(&inc).await.expect("create"));
    }
    let r = api
        .handle(
            Call::new("GET", "/v1/incidents")
                .claims(admin())
                .query("owed_by", "team")
                .query("status", "open")
                .query("limit", "2")
                .request(),
            now(),
        )
        .await;
    let link = next_page(&r);
    assert!(
        link.starts_with("</v1/incidents?status=open&owed_by=team&limit=2&cursor="),
        "{link}"
    );
    let cursor = link
        .split("cursor=")
        .nth(1)
        .and_then(|r| r.split('>').next())
        .expect("cursor");
    let next = call(
        &api,
        Call::new("GET", "/v1/incidents")
            .claims(admin())
            .query("owed_by", "team")
            .query("status", "open")
            .query("limit", "2")
            .query("cursor", cursor),
        now(),
    )
    .await;
    let owed: Vec<&str> = next
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["owed_by"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(owed, ["team"], "the second page of what the team owes");
}

/// The bug queue's next page repeats its own filters, exactly: a filter
/// the route does not declare is neither read nor carried.
#[tokio::test]
async fn the_bug_queues_next_page_keeps_its_filters_and_only_them() {
    let api = api().await;
    for title in ["a", "b", "c"] {
        let r = call(
            &api,
            Call::new("POST", "/v1/bugs")
                .claims(client("client-contoso"))
                .json(json!({"title": title, "description": "d"})),
            now(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = api
        .handle(
            Call::new("GET", "/v1/bugs")
                .claims(admin())
                .query("operator", "contoso")
                .query("status", "reported")
                .query("owed_by", "team")
                .query("limit", "2")
                .request(),
            now(),
        )
        .await;
    let link = next_page(&r);
    assert!(
        link.starts_with("</v1/bugs?operator=contoso&status=reported&limit=2&cursor="),
        "{link}"
    );
}

/// A listing answer's link to its next page.
fn next_page(r: &Response<Body>) -> String {
    r.headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("a next page")
        .to_string()
}
