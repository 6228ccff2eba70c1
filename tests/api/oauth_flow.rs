//! The OAuth flow cookie against an attacker: it is only a handle to a flow kept on the
//! server, the flow is bound to the session that started a link, taken by its first
//! callback, and never starts over a signed-in session.

use crate::{
    fake_provider::FakeProvider,
    helpers::{
        expect_status, location, new_client, session_cookie_value, set_cookies, spawn_app_with, Backend,
        TestApp,
    },
};
use base64::Engine;
use reqwest::{redirect::Policy, Client, Response, StatusCode};

async fn app_with(backend: Backend, provider: &FakeProvider, extra: &[(&str, &str)]) -> TestApp {
    let vars = provider.vars();
    let mut borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    borrowed.extend_from_slice(extra);
    spawn_app_with(backend, &borrowed).await.expect("app")
}

/// A client without a cookie jar: it sends exactly the cookies a test gives it.
fn bare() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The flow cookie a response sets: (name, value).
fn flow_cookie(response: &Response) -> (String, String) {
    set_cookies(response)
        .into_iter()
        .find_map(|c| {
            let (pair, _) = c.split_once(';')?;
            let (name, value) = pair.split_once('=')?;
            name.ends_with("gatehouse_oauth")
                .then(|| (name.to_owned(), value.to_owned()))
        })
        .expect("a flow cookie")
}

/// Starts a flow with `client`, consents at the provider, and gives the flow cookie
/// value and the callback URL the provider sent back (the callback is not followed).
async fn begin(client: &Client, start: Response) -> (String, String) {
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let (_, cookie) = flow_cookie(&start);
    let consent = client.get(location(&start)).send().await.expect("authorize");
    (cookie, location(&consent))
}

async fn refused(response: Response) {
    assert!(
        session_cookie_value(&response).is_none_or(|v| v.is_empty()),
        "no session after a refused callback"
    );
    let body = expect_status(response, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("Sign-in with GitHub failed"), "{body}");
}

async fn the_flow_cookie_reveals_nothing_and_cannot_be_forged(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake, &[]).await;
    let browser = new_client();
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let authorize = url::Url::parse(&location(&start)).expect("url");
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let (name, cookie) = flow_cookie(&start);
    assert_eq!(name, "gatehouse_oauth");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw = engine.decode(&cookie).expect("base64url");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains(&state) && !text.contains("verifier") && !text.contains("github"),
        "the flow stays on the server: {text}"
    );
    let consent = browser.get(location(&start)).send().await.expect("authorize");
    let callback = location(&consent);

    // The old, plain format, naming a user to link: what a planted cookie would be.
    let planted = engine.encode(format!(
        r#"{{"state":"{state}","verifier":"x","nonce":null,"next":"/profile","link_user":1,"started":{}}}"#,
        crate::helpers::now()
    ));
    // One byte of the real value changed.
    let mut altered = raw.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    // A flow of another server.
    let other = app_with(backend, &fake, &[("GATEHOUSE_SECRET_KEY", &"ab".repeat(32))]).await;
    let foreign = new_client();
    let other_start = foreign
        .get(other.url("/auth/github"))
        .send()
        .await
        .expect("start");
    let (_, sealed_elsewhere) = flow_cookie(&other_start);
    for forged in [planted, engine.encode(&altered), sealed_elsewhere] {
        let response = bare()
            .get(&callback)
            .header("cookie", format!("gatehouse_oauth={forged}"))
            .send()
            .await
            .expect("callback");
        refused(response).await;
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
    // The genuine cookie still works: nothing above spent the flow.
    let response = bare()
        .get(&callback)
        .header("cookie", format!("gatehouse_oauth={cookie}"))
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
}

/// The fake provider here would trade its code again: only Gatehouse can refuse.
async fn a_replayed_callback_is_refused_by_gatehouse_itself(backend: Backend) {
    let fake = FakeProvider::start().await;
    fake.script(|s| s.codes_reusable = true);
    let app = app_with(backend, &fake, &[]).await;
    let browser = new_client();
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let (cookie, callback) = begin(&browser, start).await;
    let first = bare()
        .get(&callback)
        .header("cookie", format!("gatehouse_oauth={cookie}"))
        .send()
        .await
        .expect("callback");
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    for _ in 0..2 {
        let replay = bare()
            .get(&callback)
            .header("cookie", format!("gatehouse_oauth={cookie}"))
            .send()
            .await
            .expect("replay");
        refused(replay).await;
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions").await,
        1,
        "one sign-in, one session"
    );
    // Twenty copies of a fresh callback at once: exactly one signs in.
    let start = bare().get(app.url("/auth/github")).send().await.expect("start");
    let (cookie, callback) = begin(&bare(), start).await;
    let attempts = (0..20).map(|_| {
        bare()
            .get(&callback)
            .header("cookie", format!("gatehouse_oauth={cookie}"))
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("callback").status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 19, "{statuses:?}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 2);
}

/// Mallory starts a link flow in her own session and gets Alice's browser to finish it:
/// nothing is linked. Neither does Alice's own flow finish in another of her sessions.
async fn a_link_flow_completes_only_in_the_session_that_started_it(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake, &[]).await;
    let mallory = app.signed_up_with_new_client("mallory").await;
    let alice = app.signed_up_with_new_client("alice").await;
    let start = mallory
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let (cookie, callback) = begin(&mallory, start).await;
    let alice_token = app.signed_in_token("alice").await;
    let planted = bare()
        .get(&callback)
        .header(
            "cookie",
            format!("gatehouse_oauth={cookie}; gatehouse_session={alice_token}"),
        )
        .send()
        .await
        .expect("callback");
    refused(planted).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 0);

    // Alice starts a link on one device and the callback arrives in another of her
    // sessions: refused too (the flow names the session, not the user).
    let start = alice
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let (cookie, callback) = begin(&alice, start).await;
    let other_device = app.signed_in_token("alice").await;
    let elsewhere = bare()
        .get(&callback)
        .header(
            "cookie",
            format!("gatehouse_oauth={cookie}; gatehouse_session={other_device}"),
        )
        .send()
        .await
        .expect("callback");
    refused(elsewhere).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 0);
}

async fn starting_a_sign_in_flow_while_signed_in_goes_to_the_profile(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake, &[]).await;
    app.signed_up("alice").await;
    let response = app.get("/auth/github?next=/members").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");
    assert!(
        set_cookies(&response)
            .iter()
            .all(|c| !c.contains("gatehouse_oauth")),
        "no flow was started"
    );
}

async fn over_https_the_flow_cookie_is_a_host_cookie(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(
        backend,
        &fake,
        &[("GATEHOUSE_PUBLIC_URL", "https://auth.example.test")],
    )
    .await;
    let start = app.get("/auth/github").await;
    let line = set_cookies(&start)
        .into_iter()
        .find(|c| c.starts_with("__Host-gatehouse_oauth="))
        .expect("__Host- flow cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(line.contains(attribute), "{attribute}: {line}");
    }
    assert!(!line.contains("Domain="), "{line}");
}

/// Every start stores a flow until it expires, so a client's starts have an allowance
/// (ten per sign-in attempt it is allowed): beyond it, a 429 page and nothing stored.
async fn a_client_can_start_only_so_many_flows(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake, &[("GATEHOUSE_RATE_SIGNIN", "1/1h")]).await;
    for n in 1..=10 {
        let start = bare().get(app.url("/auth/github")).send().await.expect("start");
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "start {n}");
    }
    let refused = bare().get(app.url("/auth/github")).send().await.expect("start");
    assert!(refused.headers().contains_key(reqwest::header::RETRY_AFTER));
    assert!(
        set_cookies(&refused)
            .iter()
            .all(|c| !c.contains("gatehouse_oauth")),
        "no flow cookie"
    );
    let body = expect_status(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(body.contains("Too many attempts"), "{body}");
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ceremonies WHERE kind = 'oauth'")
            .await,
        10
    );
}

backend_tests!(
    a_client_can_start_only_so_many_flows,
    the_flow_cookie_reveals_nothing_and_cannot_be_forged,
    a_replayed_callback_is_refused_by_gatehouse_itself,
    a_link_flow_completes_only_in_the_session_that_started_it,
    starting_a_sign_in_flow_while_signed_in_goes_to_the_profile,
    over_https_the_flow_cookie_is_a_host_cookie,
);
