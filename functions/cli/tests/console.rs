//! The console in a real browser: Chromium, headless, driven over WebDriver
//! (chromedriver), against `livesite console` over an embedded store the
//! monitor itself filled: an outage decided on the 24th of November, an
//! information request with its clock.

use livesite_core::service::evaluate_batch;
use livesite_tests::contract::context;
use livesite_tests::fixtures::{failures, probe};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::livesite;

/// A child process killed (and waited for) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_for(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {port}");
}

fn console(config: &str, db: &std::path::Path, who: &str) -> (Running, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_livesite"))
        .args([
            "console",
            "--config",
            config,
            "--port",
            &port.to_string(),
            "--as",
            who,
        ])
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .spawn()
        .expect("console");
    let running = Running(child);
    wait_for(port);
    (running, port)
}

/// A WebDriver session on a headless Chromium with a fresh profile.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Running,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (tests/setup-browser.sh installs it)");
        let driver = Running(driver);
        wait_for(port);
        let profile = tempfile::tempdir().expect("profile");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     format!("--user-data-dir={}", profile.path().display())]}}}});
        let session: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session");
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("{session}"));
        Browser {
            http,
            base: format!("http://127.0.0.1:{port}/session/{id}"),
            _driver: driver,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let r: Value = request
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        r["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn title(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/title", Value::Null).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The elements matching `css`, as their WebDriver ids.
    async fn all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_object()?.values().next()?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn text(&self, css: &str) -> String {
        let Some(id) = self.all(css).await.into_iter().next() else {
            return String::new();
        };
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/text"),
                Value::Null,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn attribute(&self, element: &str, name: &str) -> String {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/attribute/{name}"),
                Value::Null,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn current_url_has(&self, needle: &str) -> bool {
        for _ in 0..50 {
            let v = self.call(reqwest::Method::GET, "/url", Value::Null).await;
            if v.as_str().is_some_and(|u| u.contains(needle)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn current_path(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", Value::Null).await;
        let url = v.as_str().unwrap_or_default();
        url.find("/console")
            .map_or(String::new(), |i| url[i..].to_string())
    }

    async fn property(&self, css: &str, name: &str) -> Value {
        let id = self.first(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/property/{name}"),
            Value::Null,
        )
        .await
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.on(css, "clear", json!({})).await;
        self.on(css, "value", json!({"text": text})).await;
    }

    /// Whether `css`'s text comes to contain `needle` (the page after a
    /// form's submit arrives a moment after the click), within 5 s.
    async fn wait_for(&self, css: &str, needle: &str) -> bool {
        for _ in 0..50 {
            if self.text(css).await.contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// The path once it is `want`, waiting at most 5 s; the last seen else.
    async fn wait_path(&self, want: &str) -> String {
        let mut seen = String::new();
        for _ in 0..50 {
            seen = self.current_path().await;
            if seen == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    }

    async fn click(&self, css: &str) {
        self.on(css, "click", json!({})).await;
    }

    /// The first element matching `css`, by its WebDriver id.
    async fn first(&self, css: &str) -> String {
        self.all(css)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {css}"))
    }

    /// A POST to the first element matching `css` (`click`, `clear`, `value`).
    async fn on(&self, css: &str, what: &str, body: Value) -> Value {
        let id = self.first(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/{what}"),
            body,
        )
        .await
    }
}

/// The monitor decides a morning of November 24th with half an hour down,
/// and the next day's first round closes the day; the team asks contoso a
/// question (a clock contoso's calendar runs).
async fn filled(db: &std::path::Path, config: &str) {
    let store = livesite_local::SqliteStore::open(db).expect("db");
    let mut probes: Vec<_> = (0..120)
        .map(|i| probe("contoso", -3600 + i * 30, true))
        .collect();
    probes.extend(failures("contoso", 0, 1830));
    probes.extend((62..200).map(|i| probe("contoso", i * 30, true)));
    probes.push(probe("contoso", 86_400, true));
    let out = evaluate_batch(&store, &context(&["contoso"]), &probes).await;
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    let raised = livesite(&[
        "api",
        "raise",
        "--operator",
        "contoso",
        "--kind",
        "information-request",
        "--subject",
        "ICCID range",
        "--text",
        "Which range is configured?",
        "--config",
        config,
        "--db",
        db.to_str().expect("path"),
    ]);
    let post = |path: &str, body: &str| {
        let out = livesite(&[
            "api",
            "call",
            "POST",
            path,
            "--as",
            "client:client-contoso",
            "--body",
            body,
            "--config",
            config,
            "--db",
            db.to_str().expect("path"),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let start = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT08:00:00Z")
        .to_string();
    let end = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT09:00:00Z")
        .to_string();
    post(
        "/v1/maintenance",
        &format!(
            r#"{{"start":"{start}","end":"{end}","description":"PGW upgrade","services":["core_network_services"]}}"#
        ),
    );
    post(
        "/v1/bugs",
        r#"{"title":"Profile download stalls","description":"At 90%."}"#,
    );
    assert_eq!(
        raised.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&raised.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_each_operator_its_days_and_incidents_in_a_browser() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("console.db");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/api-fuzz.toml");
    filled(&db, config).await;
    let (_team, team_port) = console(config, &db, "admin");
    let (_contoso, contoso_port) = console(config, &db, "client:client-contoso");
    let browser = Browser::start().await;

    browser
        .open(&format!("http://127.0.0.1:{team_port}/console/"))
        .await;
    assert_eq!(browser.title().await, "Overview · livesite");
    let overview = browser.text("#operators").await;
    assert!(
        overview.contains("Contoso Mobile") && overview.contains("Fabrikam Telecom"),
        "{overview}"
    );
    browser
        .click("#operators a[href='/console/operators/contoso']")
        .await;
    contosos_page(&browser).await;

    // The calendar and the queue: contoso's late window waits for approval.
    browser.click("nav a[href='/console/maintenance']").await;
    assert!(
        browser
            .wait_for("#upcoming", "needs the team's approval")
            .await
    );
    browser.click("nav a[href='/console/bugs']").await;
    assert!(browser.wait_for("#bugs", "Profile download stalls").await);

    browser.click("nav a[href='/console/incidents']").await;
    browser
        .click("#incidents a[href*='information_request']")
        .await;
    assert!(browser.wait_for("#clock", "Next answer owed by").await);
    let clock = browser.text("#clock").await;
    assert!(
        clock.starts_with("Next answer owed by the operator:"),
        "{clock}"
    );
    assert!(browser
        .text("#timeline")
        .await
        .contains("Opened: Information request"));

    let incident_path = browser.current_path().await;
    answers_from_the_page(&browser, contoso_port, &incident_path).await;
    filters(&browser, team_port, contoso_port).await;

    // The operator sees its own pages; another's is missing, as in the API.
    browser
        .open(&format!(
            "http://127.0.0.1:{contoso_port}/console/operators/fabrikam"
        ))
        .await;
    assert_eq!(browser.title().await, "Not found · livesite");
    browser
        .open(&format!("http://127.0.0.1:{contoso_port}/console/"))
        .await;
    let own = browser.text("#operators").await;
    assert!(
        own.contains("Contoso Mobile") && !own.contains("Fabrikam"),
        "{own}"
    );
    browser.call(reqwest::Method::DELETE, "", Value::Null).await;
}

/// The operator answers from the incident's page: a refused update shows
/// why beside the field and keeps what was typed; the corrected one is in
/// the timeline once, even when its form is sent twice; a form from
/// another site acts for nobody.
async fn answers_from_the_page(browser: &Browser, port: u16, path: &str) {
    let page = format!("http://127.0.0.1:{port}{path}");
    browser.open(&page).await;
    browser.click("#acknowledge button").await;
    assert!(browser.wait_for("#timeline", "Acknowledged").await);
    let long = "x".repeat(4001);
    browser.type_into("#message", &long).await;
    browser.click("#update button").await;
    assert!(
        browser
            .wait_for("#message-error", "message: at most 4000 characters")
            .await,
        "the refusal beside the field"
    );
    assert_eq!(
        browser
            .property("#message", "value")
            .await
            .as_str()
            .map(str::len),
        Some(4001),
        "kept as typed"
    );
    browser
        .type_into("#message", "Range 8934 0712 0000 0000 000 to 999")
        .await;
    let submission = browser
        .property("#update input[name=submission]", "value")
        .await;
    browser.click("#update button").await;
    assert_eq!(
        browser.wait_path(path).await,
        path,
        "back on the incident's page"
    );
    // The same form again (a double click): nothing more is posted.
    let http = reqwest::Client::new();
    let again = http
        .post(format!("{page}/updates"))
        .form(&[
            ("submission", submission.as_str().unwrap_or_default()),
            ("message", "Range 8934 0712 0000 0000 000 to 999"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(again.status(), 200, "redirected to the page, nothing done");
    browser.open(&page).await;
    assert_eq!(
        browser
            .text("#timeline")
            .await
            .matches("Range 8934")
            .count(),
        1
    );
    let forged = http
        .post(format!("{page}/updates"))
        .header("origin", "https://elsewhere.example")
        .form(&[
            ("submission", "0123456789abcdef0123456789abcdef"),
            ("message", "forged"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
}

/// contoso's page: 90 daily bars, the 24th red with its downtime said, the
/// days nobody watched grey, the latency lines and their sentence.
async fn contosos_page(browser: &Browser) {
    assert_eq!(browser.title().await, "Contoso Mobile (contoso) · livesite");
    let days = browser.all("#days li").await;
    assert_eq!(days.len(), 90, "90 daily bars");
    let mut said = Vec::new();
    for d in &days {
        said.push((
            browser.attribute(d, "title").await,
            browser.attribute(d, "class").await,
        ));
    }
    let outage = said
        .iter()
        .find(|(t, _)| t.starts_with("2026-11-24"))
        .expect("the 24th");
    assert_eq!(outage.1, "missed", "{outage:?}");
    assert!(outage.0.contains("31.0 min down"), "{outage:?}");
    assert!(
        said.iter().filter(|(_, c)| c == "nodata").count() > 80,
        "days nobody watched"
    );
    assert_eq!(
        browser.all("#latency polyline").await.len(),
        2,
        "p50 and p95"
    );
    let latency = browser.text("#latency-said").await;
    assert!(
        latency.starts_with("p95 over the 400 ms SLA on 0 of the 2 days"),
        "{latency}"
    );
}

/// `livesite demo --db` keeps what it recorded and prints how to browse it;
/// the printed command serves the demo's operator and its resolved outage.
#[test]
fn the_demo_can_be_browsed_as_it_says() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("demo.db");
    let out = livesite(&["demo", "--pace-ms", "0", "--db", db.to_str().expect("path")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let printed = text
        .lines()
        .find_map(|l| l.split("browse it: livesite ").nth(1))
        .unwrap_or_else(|| panic!("no hint in {text}"));
    let port = free_port();
    let mut args: Vec<String> = printed.split_whitespace().map(String::from).collect();
    args.extend(["--port".to_string(), port.to_string()]);
    let child = Command::new(env!("CARGO_BIN_EXE_livesite"))
        .args(&args)
        .stdout(Stdio::null())
        .spawn()
        .expect("console as printed");
    let _served = Running(child);
    wait_for(port);
    let page = |path: &str| {
        use std::io::{Read, Write};
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            sock,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = String::new();
        sock.read_to_string(&mut answer).expect("read");
        answer
    };
    let overview = page("/console/");
    assert!(overview.starts_with("HTTP/1.1 200"), "{overview}");
    assert!(
        overview.contains("/console/operators/demo-mobile"),
        "{overview}"
    );
    let incidents = page("/console/incidents?show=all");
    assert!(
        incidents.contains("portal_down") && incidents.contains("resolved"),
        "{incidents}"
    );
    let again = livesite(&["demo", "--pace-ms", "0", "--db", db.to_str().expect("path")]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing file is never mixed into"
    );
}

/// The incident list's filters, as its form sends them: the question is
/// the operator's to answer, so the team's "owed by me" lacks it and
/// contoso's has it; it is Low, so "High" lacks it.
async fn filters(browser: &Browser, team: u16, contoso: u16) {
    let listed = |port: u16, query: &'static str| async move {
        browser
            .open(&format!(
                "http://127.0.0.1:{port}/console/incidents?{query}"
            ))
            .await;
        browser
            .text("#incidents")
            .await
            .contains("information_request")
    };
    assert!(listed(team, "show=open&severity=any").await);
    assert!(!listed(team, "show=owed&severity=any").await);
    assert!(listed(contoso, "show=owed&severity=any").await);
    assert!(!listed(contoso, "show=all&severity=high").await);
    assert!(listed(contoso, "show=all&severity=low").await);
    // The form itself: choosing "High" and sending it filters the same way.
    browser.click("#severity option[value=high]").await;
    browser.click("#filters button").await;
    assert!(browser.wait_for("#filters", "").await);
    assert!(browser.current_url_has("severity=high").await);
}
